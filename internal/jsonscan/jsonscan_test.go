package jsonscan

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestSkipString(t *testing.T) {
	for in, want := range map[string]int{
		`"abc"`:        5,
		`"a\"b" rest`:  6,
		`"a\\" rest`:   5,
		`"\\\"" x`:     6,
		`"never ends`:  -1,
		`"ends in \"`:  -1,
		`"ends in \`:   -1,
		`""`:           2,
		`"é\u00e9"`:    10,
		`"a" "b"`:      3,
		`"x\` + "\n\"": 5,
	} {
		assert.Equal(t, want, SkipString([]byte(in), 0), "SkipString(%q)", in)
	}
}

func TestSkipValue(t *testing.T) {
	for in, want := range map[string]string{
		`"s\"" , x`:                 `"s\""`,
		`123,`:                      `123`,
		`true}`:                     `true`,
		`null ]`:                    `null`,
		`{"a":[1,"]}"],"b":{}} x`:   `{"a":[1,"]}"],"b":{}}`,
		`[[],[[]]]]`:                `[[],[[]]]`,
		`{"a": nonsense inside } x`: `{"a": nonsense inside }`,
		`{"a":"unterminated}`:       ``,
		`[1,2`:                      ``,
		`,`:                         ``,
		``:                          ``,
	} {
		end := SkipValue([]byte(in), 0)
		if want == "" {
			assert.Equal(t, -1, end, "SkipValue(%q)", in)
			continue
		}
		assert.Equal(t, want, in[:end], "SkipValue(%q)", in)
	}
}

// members walks an object's members, skipping values, and returns its
// keys and values as written, or ok false.
func members(b string) (kv []string, ok bool) {
	s := Scanner{B: []byte(b)}
	if !s.Enter('{') {
		return nil, false
	}
	for {
		key, more, ok := s.Member()
		if !ok {
			return kv, false
		}
		if !more {
			return kv, s.AtEnd()
		}
		v, ok := s.Skip()
		if !ok {
			return kv, false
		}
		kv = append(kv, string(key), string(v))
	}
}

func TestMembers(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{`{}`, nil, true},
		{` { } `, nil, true},
		{`{"a":1}`, []string{`"a"`, `1`}, true},
		{` { "a" : "x" , "b\"" : [1, {"c":"}"}] , "d":{} } `, []string{`"a"`, `"x"`, `"b\""`, `[1, {"c":"}"}]`, `"d"`, `{}`}, true},
		{`{"a":1,}`, []string{`"a"`, `1`}, false},
		{`{"a":1 "b":2}`, []string{`"a"`, `1`}, false},
		{`{"a" 1}`, nil, false},
		{`{a:1}`, nil, false},
		{`{"a":}`, nil, false},
		{`{"a":1`, []string{`"a"`, `1`}, false},
		{`{,}`, nil, false},
		{`{"a":1} x`, []string{`"a"`, `1`}, false},
		{`[1]`, nil, false},
		{``, nil, false},
	}
	for _, tt := range tests {
		kv, ok := members(tt.in)
		assert.Equal(t, tt.want, kv, "members of %q", tt.in)
		assert.Equal(t, tt.ok, ok, "members of %q: ok", tt.in)
	}
}

func TestElements(t *testing.T) {
	read := func(b string) (vs []string, ok bool) {
		s := Scanner{B: []byte(b)}
		if !s.Enter('[') {
			return nil, false
		}
		for {
			more, ok := s.Element()
			if !ok || !more {
				return vs, ok && s.AtEnd()
			}
			v, ok := s.Skip()
			if !ok {
				return vs, false
			}
			vs = append(vs, string(v))
		}
	}
	for _, tt := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{`[]`, nil, true},
		{`[ 1 , "a" , [2] , {"b":3} ]`, []string{`1`, `"a"`, `[2]`, `{"b":3}`}, true},
		{`[1,]`, []string{`1`}, false},
		{`[,1]`, nil, false},
		{`[1 2]`, []string{`1`}, false},
		{`[1`, []string{`1`}, false},
		{`[`, nil, false},
	} {
		vs, ok := read(tt.in)
		assert.Equal(t, tt.want, vs, "elements of %q", tt.in)
		assert.Equal(t, tt.ok, ok, "elements of %q: ok", tt.in)
	}
}

// TestScannerAllocations: walking members and skipping values allocates
// nothing (the io.Writer front end's level lookup is on the log call).
func TestScannerAllocations(t *testing.T) {
	b := []byte(`{"time":"2026-01-01T00:00:00Z","o":{"a":[1,"]"]},"level":"ERROR+2","msg":"hi \"x\""}`)
	got := testing.AllocsPerRun(100, func() {
		s := Scanner{B: b}
		s.Enter('{')
		for {
			_, more, ok := s.Member()
			if !more || !ok {
				break
			}
			if _, ok := s.Skip(); !ok {
				break
			}
		}
	})
	assert.Zero(t, got)
}

func TestLiteral(t *testing.T) {
	for in, want := range map[string]any{"true": true, "false": false, "null": nil} {
		v, ok := Literal([]byte(in))
		assert.True(t, ok, in)
		assert.Equal(t, want, v, in)
	}
	for _, in := range []string{"", "True", "nul", "nulls", "1"} {
		_, ok := Literal([]byte(in))
		assert.False(t, ok, in)
	}
}

func TestNumber(t *testing.T) {
	for in, want := range map[string]any{
		"0":                    int64(0),
		"-12":                  int64(-12),
		"9223372036854775807":  int64(math.MaxInt64),
		"-9223372036854775808": int64(math.MinInt64),
		"9223372036854775808":  float64(1 << 63),
		"18446744073709551615": float64(1 << 64),
		"1.5":                  1.5,
		"1e3":                  1000.0,
		"-2.5E-1":              -0.25,
		"1e400":                "1e400",
		"-1e400":               "-1e400",
	} {
		v, ok := Number([]byte(in))
		assert.True(t, ok, in)
		assert.Equal(t, want, v, in)
	}
	v, ok := Number([]byte("-0"))
	require.True(t, ok)
	require.IsType(t, 0.0, v)
	assert.True(t, math.Signbit(v.(float64)), "-0 keeps its sign")
	for _, in := range []string{"", "-", "1e", "Inf", "NaN", "0x10", "1_000", "1.2.3", "true"} {
		_, ok := Number([]byte(in))
		assert.False(t, ok, in)
	}
}

func TestUnquote(t *testing.T) {
	for in, want := range map[string]string{
		`""`:                     "",
		`"plain"`:                "plain",
		`"\"\\\/\b\f\n\r\t"`:     "\"\\/\b\f\n\r\t",
		`"\u00e9\u00E9"`:         "éé",
		`"\ud83d\ude00"`:         "😀",
		`"\ud83d"`:               "\ufffd",
		`"\ude00\ud83d x"`:       "\ufffd\ufffd x",
		`"\ud83d\u0041"`:         "\ufffdA",
		"\"bad\xffutf8\"":        "bad\ufffdutf8",
		"\"é漢字\"":                "é漢字",
		`"\u0000"`:               "\x00",
		`"<>&\u2028"`:            "<>&\u2028",
		`"\ud83d\ud83d\ude00"`:   "\ufffd😀",
		`"tail \\"`:              `tail \`,
		`"two \\\\ backslashes"`: `two \\ backslashes`,
	} {
		got, ok := Unquote([]byte(in))
		assert.True(t, ok, "Unquote(%s)", in)
		assert.Equal(t, want, got, "Unquote(%s)", in)
	}
	for _, in := range []string{``, `"`, `x`, `"a`, `"a\"`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"tab\there\"", `"a"b"`, `"\`} {
		_, ok := Unquote([]byte(in))
		assert.False(t, ok, "Unquote(%s)", in)
	}
}

// FuzzScanner compares the scanner with encoding/json: a string it scans
// decodes as encoding/json decodes it (or both refuse it), a number as
// encoding/json reads it into an int64 or a float64, and a valid JSON text
// is skipped whole, its object members walked as encoding/json's tokens
// find them; FindMember finds what the Scanner's walk finds. Nothing
// panics on any input.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{
		`"plain"`, `"a\"b\\c\/\b\f\n\r\t"`, `"\u00e9\ud83d\ude00\ud83d"`, "\"bad\xff\"", `"\x"`, "\"ctl\x01\"",
		`0`, `-0`, `-12.5e3`, `18446744073709551615`, `1e400`, `+1`, `01`, `.5`,
		`true`, `null`,
		`{"a":1,"b":[1,"]",{"c":{}}],"d":"x"}`, ` [ 1 , {"a":"}"} ] `, `{"a":1,}`, `{`, `[`, ``,
		`{"time":"2026-01-01T00:00:00.000Z","o":{"level":1},"s":"0123456\"89\\","level":"WARN","msg":"m"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = SkipValue(b, 0)
		_, _ = members(string(b))
		for _, k := range [][2]string{{"a", ""}, {"level", ""}, {"msg", "message"}} {
			v1, ok1 := FindMember(b, k[0], k[1])
			v2, ok2 := findByWalk(b, k[0], k[1])
			if string(v1) != string(v2) || ok1 != ok2 {
				t.Fatalf("%q, key %q: FindMember gives %q %v, the walk %q %v", b, k, v1, ok1, v2, ok2)
			}
		}
		s := Scanner{B: b}
		switch s.Peek() {
		case '"':
			if raw, ok := s.String(); ok {
				fuzzString(t, raw)
			}
		case '{', '[':
			if json.Valid(b) {
				fuzzValid(t, b)
			}
		default:
			if tok, ok := s.Bare(); ok && s.AtEnd() {
				fuzzBare(t, tok)
			}
		}
	})
}

// fuzzString: Unquote decodes a string as encoding/json does, or both
// refuse it.
func fuzzString(t *testing.T, raw []byte) {
	got, ok := Unquote(raw)
	var want string
	err := json.Unmarshal(raw, &want)
	if ok != (err == nil) {
		t.Fatalf("Unquote(%q): ok %v, encoding/json: %v", raw, ok, err)
	}
	if ok && got != want {
		t.Fatalf("Unquote(%q) = %q, encoding/json %q", raw, got, want)
	}
}

// fuzzValid: a valid JSON object or array is skipped whole, and an
// object's members are walked as encoding/json's tokens find them.
func fuzzValid(t *testing.T, b []byte) {
	i := SkipSpace(b, 0)
	end := SkipValue(b, i)
	if end < 0 || SkipSpace(b, end) != len(b) {
		t.Fatalf("SkipValue(%q) = %d for valid JSON", b, end)
	}
	if b[i] == '{' {
		kv, ok := members(string(b))
		if !ok || len(kv)/2 != countMembers(b) {
			t.Fatalf("members of %q: %d, ok %v; encoding/json finds %d", b, len(kv)/2, ok, countMembers(b))
		}
	}
}

// fuzzBare: a bare token that encoding/json reads as a number, Number
// reads as encoding/json reads it into an int64 or a float64.
func fuzzBare(t *testing.T, tok []byte) {
	if _, isLiteral := Literal(tok); isLiteral {
		return
	}
	v, ok := Number(tok)
	var num json.Number
	if json.Unmarshal(tok, &num) != nil {
		return // not JSON: Number may accept it, leniently
	}
	if !ok {
		t.Fatalf("Number(%q) refuses what encoding/json accepts", tok)
	}
	var i int64
	if json.Unmarshal(tok, &i) == nil && !bytes.Equal(tok, []byte("-0")) {
		if v != i {
			t.Fatalf("Number(%q) = %#v, encoding/json int64 %d", tok, v, i)
		}
		return
	}
	var fl float64
	if err := json.Unmarshal(tok, &fl); err != nil {
		if _, isText := v.(string); !isText {
			t.Fatalf("Number(%q) = %#v; encoding/json: %v", tok, v, err)
		}
		return
	}
	if f, isFloat := v.(float64); !isFloat || f != fl || math.Signbit(f) != math.Signbit(fl) {
		t.Fatalf("Number(%q) = %#v, encoding/json float64 %v", tok, v, fl)
	}
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
		if _, err := dec.Token(); err != nil {
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
