package mailsink_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/asynclogtest"
	"github.com/asynclog/asynclog/mailsink"
)

// TestConformance runs the test kit's Sink rules against the mail sink and
// a real SMTP server (STARTTLS, AUTH) on loopback.
func TestConformance(t *testing.T) {
	asynclogtest.TestSink(t, func(t *testing.T) asynclog.Sink {
		ts := startServer(t, serverConfig{user: testUser, pass: testPass})
		s, err := mailsink.New(sinkOptions(ts))
		require.NoError(t, err)
		return s
	})
}
