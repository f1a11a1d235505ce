package asynclogotel_test

// The OpenTelemetry snippet of docs/operating.md, copied line for line
// (the root module's TestSnippetsCovered checks the copy against the
// docs).

import (
	"io"
	"log"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/asynclogotel"
)

// docs/operating.md: OpenTelemetry metrics, on the global meter provider
// (a no-op one unless the program sets its own).
func TestSnippetOperatingOTel(t *testing.T) {
	q, err := asynclog.NewQueue(asynclog.WriterSink(io.Discard), asynclog.Options{})
	require.NoError(t, err)
	defer q.Close()

	reg, err := asynclogotel.RegisterMetrics(otel.Meter("app"), q, "app")
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Unregister()
}
