package httpsink

import (
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// parsePartialSuccessProto reads an ExportLogsServiceResponse's
// partial_success from protobuf. A body that does not parse, or has none,
// means full success, as in JSON.
func parsePartialSuccessProto(body []byte) (rejected int, msg string) {
	ps, ok := protoBytesField(body, pbResponsePartialSuccess)
	if !ok {
		return 0, ""
	}
	for len(ps) > 0 {
		num, typ, n := protowire.ConsumeTag(ps)
		if n < 0 {
			return 0, ""
		}
		ps = ps[n:]
		switch {
		case num == pbPartialRejected && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(ps)
			if m < 0 {
				return 0, ""
			}
			if r := int64(v); r > 0 {
				rejected = int(min(r, math.MaxInt32))
			}
			n = m
		case num == pbPartialMessage && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(ps)
			if m < 0 {
				return 0, ""
			}
			msg = string(v)
			n = m
		default:
			n = protowire.ConsumeFieldValue(num, typ, ps)
			if n < 0 {
				return 0, ""
			}
		}
		ps = ps[n:]
	}
	return rejected, msg
}

// protoStatusMessage returns the message of a google.rpc.Status in
// protobuf, which the OTLP/HTTP receivers send with an error status.
func protoStatusMessage(body []byte) (string, bool) {
	m, ok := protoBytesField(body, pbStatusMessage)
	if !ok || !utf8.Valid(m) {
		return "", false
	}
	return string(m), true
}

// protoBytesField returns the length-delimited field num of a protobuf
// message (the last, if it repeats).
func protoBytesField(b []byte, num protowire.Number) ([]byte, bool) {
	var out []byte
	found := false
	for len(b) > 0 {
		n, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			return nil, false
		}
		b = b[k:]
		if n == num && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return nil, false
			}
			out, found = v, true
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(n, typ, b)
		if m < 0 {
			return nil, false
		}
		b = b[m:]
	}
	return out, found
}
