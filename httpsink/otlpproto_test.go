package httpsink_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/httpsink"
)

// partialSuccessProto encodes an ExportLogsServiceResponse whose
// partial_success holds rejected and msg.
func partialSuccessProto(rejected int64, msg string) []byte {
	var ps []byte
	if rejected != 0 {
		ps = protowire.AppendTag(ps, 1, protowire.VarintType)
		ps = protowire.AppendVarint(ps, uint64(rejected))
	}
	if msg != "" {
		ps = protowire.AppendTag(ps, 2, protowire.BytesType)
		ps = protowire.AppendString(ps, msg)
	}
	b := protowire.AppendTag(nil, 99, protowire.VarintType) // an unknown field is skipped
	b = protowire.AppendVarint(b, 7)
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	return protowire.AppendBytes(b, ps)
}

func TestPartialSuccessResponsesProtobuf(t *testing.T) {
	for _, tc := range []struct {
		name, contentType string
		body              []byte
		rejected          int
		msg               string
		wantErr           bool
	}{
		{"empty body", "application/x-protobuf", nil, 0, "", false},
		{"empty partial success", "application/x-protobuf", protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), nil), 0, "", false},
		{"rejected with a message", "application/x-protobuf", partialSuccessProto(2, "too old"), 2, "too old", true},
		{"warning only", "application/x-protobuf", partialSuccessProto(0, "deprecated field"), 0, "deprecated field", true},
		{"negative count", "application/x-protobuf", partialSuccessProto(-1, ""), 0, "", false},
		{"truncated", "application/x-protobuf", partialSuccessProto(2, "too old")[:5], 0, "", false},
		{"JSON, as its Content-Type says", "application/json", []byte(`{"partialSuccess":{"rejectedLogRecords":"1"}}`), 1, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				_, _ = w.Write(tc.body)
			})
			s := newSink(t, srv.URL, httpsink.Options{Format: httpsink.OTLPProtobuf})
			err := s.Write(context.Background(), []asynclog.Record{rec(0, "a", `{}`), rec(0, "b", `{}`), rec(0, "c", `{}`)})
			reqs := srv.requests()
			require.Len(t, reqs, 1, "one request")
			assert.Equal(t, "application/x-protobuf", reqs[0].Header.Get("Content-Type"), "Content-Type")
			if !tc.wantErr {
				assert.NoError(t, err, "full success")
				return
			}
			var pe *asynclog.PartialError
			require.ErrorAs(t, err, &pe, "a partial success")
			assert.Equal(t, tc.rejected, pe.Rejected, "rejected count")
			assert.Contains(t, err.Error(), tc.msg, "the server's message")
		})
	}
}

// TestProtobufErrorStatusQuotesItsMessage: an OTLP receiver answers an
// error with a google.rpc.Status in protobuf; the error quotes its
// message, not the binary.
func TestProtobufErrorStatusQuotesItsMessage(t *testing.T) {
	status := protowire.AppendTag(nil, 1, protowire.VarintType)
	status = protowire.AppendVarint(status, 3)
	status = protowire.AppendTag(status, 2, protowire.BytesType)
	status = protowire.AppendString(status, "field severity_number is out of range")
	srv := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(status)
	})
	s := newSink(t, srv.URL, httpsink.Options{Format: httpsink.OTLPProtobuf})
	err := s.Write(context.Background(), []asynclog.Record{rec(0, "a", `{}`)})
	require.Error(t, err, "refused")
	assert.True(t, asynclog.IsPermanent(err), "a 400 is permanent")
	assert.Contains(t, err.Error(), "400 Bad Request: field severity_number is out of range", "the status's message, quoted")
}
