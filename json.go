package asynclog

import (
	"bytes"
	"encoding/json"
	"sync"

	"github.com/asynclog/asynclog/internal/jsonenc"
)

// appendJSONString appends s as a quoted JSON string; see
// [jsonenc.AppendString].
func appendJSONString(b []byte, s string) []byte { return jsonenc.AppendString(b, s) }

// jsonMarshaler encodes arbitrary values the way encoding/json does with
// SetEscapeHTML(false), reusing its buffers.
type jsonMarshaler struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var marshalerPool = sync.Pool{New: func() any {
	m := &jsonMarshaler{}
	m.enc = json.NewEncoder(&m.buf)
	m.enc.SetEscapeHTML(false)
	return m
}}

// appendJSONMarshal appends v as encoding/json writes it.
func appendJSONMarshal(b []byte, v any) ([]byte, error) {
	m := marshalerPool.Get().(*jsonMarshaler)
	defer func() {
		if m.buf.Cap() <= 16<<10 {
			m.buf.Reset()
			marshalerPool.Put(m)
		}
	}()
	if err := m.enc.Encode(v); err != nil {
		return b, err
	}
	out := m.buf.Bytes()
	return append(b, out[:len(out)-1]...), nil // Encode ends with a newline
}
