package asynclog

import (
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestWriterLevel: the level is read from every spelling the supported
// loggers write, JSON or logfmt; Info when there is none or it is unknown.
func TestWriterLevel(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want slog.Level
	}{
		{"zerolog info", `{"level":"info","time":"2026-01-01T00:00:00Z","message":"hi"}`, slog.LevelInfo},
		{"level first, escaped", `{"level":"err\"or","message":"hi"}`, slog.LevelInfo},
		{"level first, unterminated", `{"level":"error`, slog.LevelInfo},
		{"level first, not a string", `{"level":50,"message":"hi"}`, slog.LevelInfo},
		{"zerolog trace", `{"level":"trace","message":"hi"}`, slog.LevelDebug - 4},
		{"zerolog error", `{"level":"error","message":"hi"}`, slog.LevelError},
		{"zerolog fatal", `{"level":"fatal","message":"hi"}`, 20},
		{"zerolog panic", `{"level":"panic","message":"hi"}`, 16},
		{"logrus warning", `{"level":"warning","msg":"hi","time":"2026-01-01T00:00:00Z"}`, slog.LevelWarn},
		{"zap lowercase dpanic", `{"level":"dpanic","ts":1.5,"msg":"hi"}`, 12},
		{"zap capital", `{"level":"WARN","ts":1.5,"msg":"hi"}`, slog.LevelWarn},
		{"slog after time", `{"time":"2026-01-01T00:00:00Z","level":"DEBUG","msg":"hi"}`, slog.LevelDebug},
		{"slog offset up", `{"time":"x","level":"ERROR+2","msg":"hi"}`, slog.LevelError + 2},
		{"slog offset down", `{"time":"x","level":"INFO-1","msg":"hi"}`, slog.LevelInfo - 1},
		{"spaces around", ` { "time" : "x" , "level" : "error" }`, slog.LevelError},
		{"after nested values", `{"a":{"level":"debug","b":[1,{"c":"}"}]},"s":"\"level\":\"debug\"","level":"warn"}`, slog.LevelWarn},
		{"nested level only", `{"req":{"level":"error"},"msg":"hi"}`, slog.LevelInfo},
		{"level in a string value", `{"msg":"\"level\":\"error\""}`, slog.LevelInfo},
		{"no level", `{"msg":"hi"}`, slog.LevelInfo},
		{"numeric level", `{"level":30,"msg":"hi"}`, slog.LevelInfo},
		{"unknown level", `{"level":"loud","msg":"hi"}`, slog.LevelInfo},
		{"bad offset", `{"level":"INFO+x"}`, slog.LevelInfo},
		{"malformed JSON", `{"level"`, slog.LevelInfo},
		{"slog text", `time=2026-01-01T00:00:00.000Z level=WARN msg="disk low" free=3`, slog.LevelWarn},
		{"slog text offset", `time=x level=ERROR+4 msg=x`, slog.LevelError + 4},
		{"logrus text", `time="2026-01-01T00:00:00Z" level=error msg="no route" host=a`, slog.LevelError},
		{"logfmt level in a quoted value", `msg="level=error" k=v`, slog.LevelInfo},
		{"logfmt key ending in level", `sublevel=error msg=x`, slog.LevelInfo},
		{"standard log", `2026/01/01 00:00:00 level=warn is not a field here? it is`, slog.LevelWarn},
		{"standard log plain", `2026/01/01 00:00:00 server started`, slog.LevelInfo},
		{"empty", ``, slog.LevelInfo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, writerLevel([]byte(tt.in)), "level of %s", tt.in)
		})
	}
}

// TestWriterMessage: the message is the msg or message field, unescaped or
// unquoted; "" when there is none.
func TestWriterMessage(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"zerolog", `{"level":"info","message":"order placed"}`, "order placed"},
		{"slog", `{"time":"x","level":"INFO","msg":"order placed","id":1}`, "order placed"},
		{"escaped", `{"msg":"say \"hi\"\n\u00e9"}`, "say \"hi\"\n\u00e9"},
		{"first of msg and message", `{"message":"first","msg":"second"}`, "first"},
		{"nested msg is not it", `{"a":{"msg":"inner"},"msg":"outer"}`, "outer"},
		{"non-string message", `{"msg":42}`, "42"},
		{"no message", `{"level":"info"}`, ""},
		{"bad escape kept raw", `{"msg":"a\x"}`, `a\x`},
		{"logfmt quoted", `time=x level=INFO msg="disk \"sda\" low" free=3`, `disk "sda" low`},
		{"logfmt bare", `level=info msg=started port=80`, "started"},
		{"logfmt empty", `level=info msg= port=80`, ""},
		{"standard log", `2026/01/01 00:00:00 server started`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, writerMessage([]byte(tt.in)), "message of %s", tt.in)
		})
	}
}

// TestWriterLevelFastPathAgreesWithTheWalk: the fast path for a record
// that begins with the level (zerolog, zap, logrus) reads the level the
// walk over members reads, on random records that begin so, with escapes,
// quotes and offsets in and after the name.
func TestWriterLevelFastPathAgreesWithTheWalk(t *testing.T) {
	parts := []string{"info", "INFO", "warn", "ERROR", "warning", "fatal", "+2", "-1", `"`, `\`, `\"`, `\\`, `\u0041`, ",", "}", ` `, `"msg":"x"`}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 100000 {
		b := []byte(levelFirstPrefix)
		for range rng.IntN(6) {
			b = append(b, parts[rng.IntN(len(parts))]...)
		}
		want := slog.LevelInfo
		if v, _, ok := findField(b, "level", ""); ok {
			want = levelOrInfo(v)
		}
		if got := writerLevel(b); got != want {
			t.Fatalf("%s: the fast path reads %v, the walk %v", b, got, want)
		}
	}
}

// TestWriterLevelAllocations: reading the level allocates nothing.
func TestWriterLevelAllocations(t *testing.T) {
	b := []byte(`{"time":"2026-01-01T00:00:00Z","level":"ERROR+2","msg":"hi"}`)
	txt := []byte(`time=x level=warning msg="a b"`)
	got := testing.AllocsPerRun(100, func() {
		_ = writerLevel(b)
		_ = writerLevel(txt)
	})
	assert.Zero(t, got, "allocations per writerLevel")
}

// TestLogfmtSearchAgreesWithTheWalk: the plain search that finds a key
// before the first double quote gives what the walk over every word gives,
// on random lines made of the characters that matter (keys, '=', spaces,
// quotes, backslashes).
func TestLogfmtSearchAgreesWithTheWalk(t *testing.T) {
	parts := []string{"level", "msg", "message", "=", " ", "\t", `"`, `\`, "x", "lev", "INFO", "a=b", "level=", " msg=", "?level="}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		var b []byte
		for range rng.IntN(12) {
			b = append(b, parts[rng.IntN(len(parts))]...)
		}
		for _, k := range [][2]string{{"level", ""}, {"msg", "message"}} {
			v1, q1, ok1 := findLogfmtField(b, k[0], k[1])
			v2, q2, ok2 := walkLogfmt(b, k[0], k[1])
			if string(v1) != string(v2) || q1 != q2 || ok1 != ok2 {
				t.Fatalf("%q, key %q: search gives %q %v %v, walk %q %v %v", b, k, v1, q1, ok1, v2, q2, ok2)
			}
		}
	}
}
