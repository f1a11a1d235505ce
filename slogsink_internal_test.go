package asynclog

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecodeRecord: the hand-written readers of the io.Writer front end and
// the sink adapters never panic, and every JSON object encoding/json
// accepts is parsed, with as many top-level members (less the front end's
// own keys) as encoding/json finds.
func FuzzDecodeRecord(f *testing.F) {
	for _, s := range []string{
		`{"level":"info","message":"hi","n":1,"f":1.5,"b":true,"z":null,"o":{"a":[1,"x",{"k":2}]}}`,
		`{"time":"t","level":"ERROR+2","msg":"a\"b","big":18446744073709551615,"e":1e400}`,
		`time=t level=WARN msg="a \"b\"" k=v`,
		`2026/01/01 00:00:00 plain`,
		`{"msg":"\u00e9\ud83d\ude00","a":[[[]]],"b":{}}`,
		`{"level"`, `{`, `[1]`, `"s"`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = writerLevel(b)
		_ = writerMessage(b)
		attrs, ok := parseRecordJSON(b)
		dec := json.NewDecoder(bytes.NewReader(b))
		var obj map[string]json.RawMessage
		if !json.Valid(b) || dec.Decode(&obj) != nil || bytes.Count(b, []byte("["))+bytes.Count(b, []byte("{")) > maxJSONDepth {
			return
		}
		if !ok {
			t.Fatalf("encoding/json accepts %q, parseRecordJSON does not", b)
		}
		if len(attrs) > countMembers(b) {
			t.Fatalf("%d attributes from %q", len(attrs), b)
		}
	})
}

// countMembers counts the top-level members of a valid JSON object,
// duplicates included.
func countMembers(b []byte) int {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return 0
	}
	n := 0
	for dec.More() {
		if _, err := dec.Token(); err != nil { // the key
			return n
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return n
		}
		n++
	}
	return n
}
