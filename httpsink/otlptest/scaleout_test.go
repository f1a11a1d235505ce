package otlptest

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.yaml.in/yaml/v3"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/httpsink"
)

// scaleOutConfig returns the gateway configuration in docs/operating.md:
// the first ```yaml block of its "Scale-out" section.
func scaleOutConfig(t *testing.T) map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "docs", "operating.md"))
	require.NoError(t, err, "open docs/operating.md")
	defer f.Close()
	var block strings.Builder
	section, in := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "## "):
			section = l == "## Scale-out"
		case section && !in && l == "```yaml":
			in = true
		case in && l == "```":
			var cfg map[string]any
			require.NoError(t, yaml.Unmarshal([]byte(block.String()), &cfg), "the Scale-out configuration is YAML")
			return cfg
		case in:
			block.WriteString(l + "\n")
		}
	}
	require.NoError(t, sc.Err(), "read docs/operating.md")
	require.FailNow(t, "docs/operating.md has no ```yaml block in its Scale-out section")
	return nil
}

// TestScaleOutGatewayConfig: the Collector's own OTLP receiver, configured
// from the receiver section of the gateway configuration in
// docs/operating.md (on a loopback port instead of 0.0.0.0:4318), takes
// what a program configured as that page says ships: OTLPProtobuf,
// gzipped, with an idempotency key, through a queue with a spool.
func TestScaleOutGatewayConfig(t *testing.T) {
	doc := scaleOutConfig(t)
	conf := confmap.NewFromStringMap(doc)
	pipeline, ok := conf.Get("service::pipelines::logs::receivers").([]any)
	require.True(t, ok, "the configuration has a logs pipeline")
	assert.Contains(t, pipeline, "otlp", "the logs pipeline takes the otlp receiver")
	for _, p := range []string{"processors", "exporters"} {
		list, _ := conf.Get("service::pipelines::logs::" + p).([]any)
		for _, name := range list {
			assert.True(t, conf.IsSet(p+"::"+name.(string)), "%s %s of the pipeline is configured", p, name)
		}
	}

	sub, err := conf.Sub("receivers::otlp")
	require.NoError(t, err, "the otlp receiver's section")
	factory := otlpreceiver.NewFactory()
	cfg := factory.CreateDefaultConfig().(*otlpreceiver.Config)
	require.NoError(t, sub.Unmarshal(cfg), "the receiver reads its section")
	require.NoError(t, cfg.Validate(), "the receiver's configuration is valid")
	require.True(t, cfg.Protocols.HTTP.HasValue(), "HTTP is on")
	require.False(t, cfg.Protocols.GRPC.HasValue(), "gRPC stays off: the programs post over HTTP")
	http := cfg.Protocols.HTTP.Get()
	assert.Equal(t, "0.0.0.0:4318", http.ServerConfig.NetAddr.Endpoint, "the documented endpoint")
	assert.Greater(t, http.ServerConfig.MaxRequestBodySize, int64(4<<20), "max_request_body_size leaves room for httpsink's 4 MiB bodies")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "reserve a loopback port")
	addr := l.Addr().String()
	require.NoError(t, l.Close(), "release the port for the receiver")
	http.ServerConfig.NetAddr.Endpoint = addr
	logs := new(consumertest.LogsSink)
	rcv, err := factory.CreateLogs(context.Background(), receivertest.NewNopSettings(factory.Type()), cfg, logs)
	require.NoError(t, err, "create the receiver")
	require.NoError(t, rcv.Start(context.Background(), componenttest.NewNopHost()), "start the receiver")
	t.Cleanup(func() { assert.NoError(t, rcv.Shutdown(context.Background()), "shut the receiver down") })

	sink, err := httpsink.New("http://"+addr+"/v1/logs", httpsink.Options{
		Format:            httpsink.OTLPProtobuf,
		Gzip:              true,
		ServiceName:       "checkout",
		IdempotencyHeader: "Idempotency-Key",
	})
	require.NoError(t, err, "httpsink.New")
	var errs []error
	q, err := asynclog.NewQueue(sink, asynclog.Options{
		Spool:    t.TempDir(),
		RetryFor: 2 * time.Hour,
		OnError:  func(err error) { errs = append(errs, err) },
	})
	require.NoError(t, err, "NewQueue")
	l2 := slog.New(asynclog.NewHandler(q, nil))
	for i := range 1000 {
		l2.Info("order placed", "order", i)
	}
	require.NoError(t, q.Close(), "Close delivers everything")
	assert.Empty(t, errs, "no delivery errors")
	assert.Equal(t, 1000, logs.LogRecordCount(), "the gateway took every record")
	rl := logs.AllLogs()[0].ResourceLogs().At(0)
	name, _ := rl.Resource().Attributes().Get("service.name")
	assert.Equal(t, "checkout", name.Str(), "service.name")
}
