package jsonenc

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\", "\n\r\t\x01\x1f", "é漢字🙂", "bad\xffutf8", "</script>", "line\u2028sep\u2029"} {
		b := AppendString(nil, s)
		var back string
		require.NoError(t, json.Unmarshal(b, &back), "valid JSON for %q: %s", s, b)
		assert.Equal(t, strings.ToValidUTF8(s, "\ufffd"), back, "round trip of %q", s)
	}
	assert.Equal(t, `"a\u2028b<>&"`, string(AppendString(nil, "a\u2028b<>&")), "U+2028 escaped, HTML left alone")
}
