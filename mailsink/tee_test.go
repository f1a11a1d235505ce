package mailsink_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/mailsink"
)

// TestZapTeeConsoleAndEmail checks the pattern the README shows for zap:
// a console core for every level, teed with an email core for Error and
// above.
func TestZapTeeConsoleAndEmail(t *testing.T) {
	ts := startServer(t, serverConfig{user: testUser, pass: testPass})
	sink, err := mailsink.New(sinkOptions(ts))
	require.NoError(t, err, "New")
	q, errs := newQueue(t, sink, mailsink.DigestOptions())

	var console bytes.Buffer
	consoleCore := zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(&console), zap.DebugLevel)
	emailCore := asynclog.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zap.ErrorLevel, q)
	logger := zap.New(zapcore.NewTee(consoleCore, emailCore))

	logger.Debug("cache warmed", zap.Int("entries", 1200))
	logger.Info("started")
	logger.Error("payment failed", zap.Int("order", 42))
	logger.Error("refund failed", zap.Int("order", 43))
	require.NoError(t, q.Close(), "Close sends the digest")

	for _, want := range []string{"cache warmed", "started", "payment failed", "refund failed"} {
		assert.Contains(t, console.String(), want, "the console has every level")
	}
	msgs := ts.messages()
	require.Equal(t, 1, len(msgs), "one digest")
	p := parse(t, msgs[0].data)
	assert.Equal(t, "[test] ERROR 2 records: payment failed", p.subject, "subject")
	assert.Contains(t, p.body, " ERROR payment failed", "readable line")
	assert.Contains(t, p.body, `"msg":"refund failed","order":43`, "zap's JSON in the raw section")
	assert.False(t, strings.Contains(p.body, "cache warmed") || strings.Contains(p.body, "started"), "only Error and above are emailed")
	assert.Empty(t, errs.all(), "no errors")
}
