package jsonscan

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFindMember(t *testing.T) {
	tests := []struct {
		name, in, k1, k2 string
		want             string // "" for not found
	}{
		{"first", `{"level":"info","msg":"hi"}`, "level", "", `"info"`},
		{"after others", `{"time":"2026-01-01T00:00:00Z","n":-1.5e3,"b":true,"z":null,"level":"WARN"}`, "level", "", `"WARN"`},
		{"after nested values", `{"a":{"level":"x","b":[1,{"c":"}"}]},"s":"\"level\":1","level":2}`, "level", "", `2`},
		{"spaces", " \t{ \"a\" : 1 ,\n\"level\"\r: \"e\" }", "level", "", `"e"`},
		{"object value", `{"o":{"a":[1,"]"]},"x":1}`, "o", "", `{"a":[1,"]"]}`},
		{"array value", `{"o":[1,[2],"]"]}`, "o", "", `[1,[2],"]"]`},
		{"escapes kept", `{"msg":"say \"hi\"\\"}`, "msg", "", `"say \"hi\"\\"`},
		{"long string before", `{"s":"0123456789abcdef\"0123456789\\\\abcdef","k":1}`, "k", "", `1`},
		{"second key", `{"message":"m","msg":"n"}`, "msg", "message", `"m"`},
		{"first of the two", `{"msg":"n","message":"m"}`, "message", "msg", `"n"`},
		{"empty key, no k2", `{"":1,"level":2}`, "level", "", `2`},
		{"escaped key never matches", `{"lev\u0065l":1,"level":2}`, "level", "", `2`},
		{"only nested", `{"req":{"level":"error"},"msg":"hi"}`, "level", "", ""},
		{"in a string value", `{"msg":"\"level\":\"error\""}`, "level", "", ""},
		{"none", `{"msg":"hi"}`, "level", "", ""},
		{"empty object", `{}`, "level", "", ""},
		{"malformed before", `{"a":1 "level":2}`, "level", "", ""},
		{"trailing comma", `{"a":1,}`, "level", "", ""},
		{"no colon", `{"level" "x"}`, "level", "", ""},
		{"no value", `{"level":}`, "level", "", ""},
		{"unterminated value", `{"level":"info`, "level", "", ""},
		{"unterminated key", `{"lev`, "level", "", ""},
		{"unterminated object", `{"o":{"a":1,"level":2`, "level", "", ""},
		{"malformed after is no matter", `{"level":"info",`, "level", "", `"info"`},
		{"not an object", `["level","info"]`, "level", "", ""},
		{"empty", ``, "level", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := FindMember([]byte(tt.in), tt.k1, tt.k2)
			assert.Equal(t, tt.want != "", ok, "found in %s", tt.in)
			assert.Equal(t, tt.want, string(v), "value in %s", tt.in)
		})
	}
}

// findByWalk is FindMember by the Scanner's walk, member by member.
func findByWalk(b []byte, k1, k2 string) ([]byte, bool) {
	s := Scanner{B: b}
	if !s.Enter('{') {
		return nil, false
	}
	for {
		key, more, ok := s.Member()
		if !more || !ok {
			return nil, false
		}
		v, ok := s.Skip()
		if !ok {
			return nil, false
		}
		if key := key[1 : len(key)-1]; string(key) == k1 || (k2 != "" && string(key) == k2) {
			return v, true
		}
	}
}

// TestFindMemberAgreesWithTheWalk: FindMember's one loop finds what the
// Scanner's walk finds, on random text made of the pieces that matter
// (keys, strings long and short with escapes, brackets, separators,
// spaces).
func TestFindMemberAgreesWithTheWalk(t *testing.T) {
	parts := []string{`{`, `}`, `[`, `]`, `"`, `\`, `:`, `,`, ` `, "\n", `"level"`, `"msg"`, `"message"`, `""`,
		`"info"`, `"a\"b"`, `"0123456789abcdef"`, `"0123456\\"`, `"0123456\"89"`, `1`, `-2.5`, `true`, `x`, `{"level":"e"}`}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		b := []byte(`{`)
		for range rng.IntN(14) {
			b = append(b, parts[rng.IntN(len(parts))]...)
		}
		for _, k := range [][2]string{{"level", ""}, {"msg", "message"}} {
			v1, ok1 := FindMember(b, k[0], k[1])
			v2, ok2 := findByWalk(b, k[0], k[1])
			if string(v1) != string(v2) || ok1 != ok2 {
				t.Fatalf("%q, key %q: FindMember gives %q %v, the walk %q %v", b, k, v1, ok1, v2, ok2)
			}
		}
	}
}

// TestPlainWords: plainWords stops at the first '"' or '\\', wherever it
// is in the word and whatever bytes are around it (the bytes next to the
// quote's and the backslash's, zero and those with the high bit set are
// where a borrow would show), or where fewer than eight bytes are left.
func TestPlainWords(t *testing.T) {
	fill := []byte{'a', '!', '#', '[', ']', 0x00, 0x01, 0x7f, 0x80, 0xa2, 0xdc, 0xff}
	for n := range 20 {
		for at := range n + 1 { // at == n: no stop
			for _, stop := range []byte{'"', '\\'} {
				for _, f := range fill {
					b := bytes.Repeat([]byte{f}, n)
					if at < n {
						b[at] = stop
					}
					for from := 0; from <= n; from++ {
						want := n
						if k := bytes.IndexAny(b[from:], "\"\\"); k >= 0 {
							want = from + k
						}
						j := plainWords(b, from)
						if j != want {
							require.True(t, j >= from && j < want && j > n-8, "plainWords(%q, %d) = %d, want %d", b, from, j, want)
						}
					}
				}
			}
		}
	}
}

// TestFindMemberAllocations: FindMember allocates nothing (it is on the
// log call).
func TestFindMemberAllocations(t *testing.T) {
	b := []byte(`{"time":"2026-01-01T00:00:00Z","o":{"a":[1,"]"]},"s":"a\"b","level":"ERROR+2","msg":"hi"}`)
	got := testing.AllocsPerRun(100, func() {
		_, _ = FindMember(b, "level", "")
		_, _ = FindMember(b, "msg", "message")
	})
	assert.Zero(t, got)
}
