package asynclog_test

// TestSnippetsCovered: every Go snippet of README.md, CONTRIBUTING.md and
// docs/*.md has a copy in one of snippetFiles, so that the compiler checks
// it; and the markdown helpers it uses, which links_test.go shares.

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// snippetFiles are the files that hold the docs' snippets, relative to
// the repository's root.
var snippetFiles = []string{
	"docs_snippets_test.go",
	"example_test.go",
	"example_expvar_test.go",
	"asynclogtest/example_test.go",
	"internal/loggers/docs_snippets_test.go",
	"mailsink/docs_snippets_test.go",
	"asynclogprom/docs_snippets_test.go",
	"asynclogotel/docs_snippets_test.go",
}

// TestSnippetsCovered: every ```go block of the docs appears, line for
// line (leading and trailing space and blank lines aside), in one of
// snippetFiles, so that a snippet that does not compile fails the build of
// some test.
func TestSnippetsCovered(t *testing.T) {
	var corpus [][]string
	for _, f := range snippetFiles {
		b, err := os.ReadFile(filepath.FromSlash(f))
		require.NoError(t, err, "snippet file %s must exist", f)
		corpus = append(corpus, snippetLines(string(b)))
	}
	docs := docFiles(t)
	n := 0
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		require.NoError(t, err)
		for _, s := range goSnippets(string(b)) {
			n++
			lines := snippetLines(s.text)
			found := false
			for _, c := range corpus {
				if containsRun(c, lines) {
					found = true
					break
				}
			}
			assert.True(t, found, "%s:%d: this Go snippet has no copy in %v; add it to one of them, so that it is compiled:\n%s", doc, s.line, snippetFiles, s.text)
		}
	}
	assert.Greater(t, n, 10, "the docs should have Go snippets to check")
}

// docFiles returns README.md, CONTRIBUTING.md and docs/*.md.
func docFiles(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join("docs", "*.md"))
	require.NoError(t, err)
	return append([]string{"README.md", "CONTRIBUTING.md"}, docs...)
}

type snippet struct {
	line int // of the opening fence, 1-based
	text string
}

// goSnippets returns the ```go fenced blocks of a markdown text.
func goSnippets(md string) []snippet {
	var out []snippet
	var cur *strings.Builder
	start := 0
	sc := bufio.NewScanner(strings.NewReader(md))
	for i := 1; sc.Scan(); i++ {
		l := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(l) == "```go":
			cur, start = &strings.Builder{}, i
		case cur != nil && strings.TrimSpace(l) == "```":
			out = append(out, snippet{line: start, text: cur.String()})
			cur = nil
		case cur != nil:
			cur.WriteString(l)
			cur.WriteByte('\n')
		}
	}
	return out
}

// snippetLines returns the non-blank lines of s, trimmed.
func snippetLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// containsRun reports whether run appears in lines as a contiguous run.
func containsRun(lines, run []string) bool {
	if len(run) == 0 {
		return true
	}
	for i := 0; i+len(run) <= len(lines); i++ {
		if lines[i] != run[0] {
			continue
		}
		ok := true
		for j := range run {
			if lines[i+j] != run[j] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func TestSnippetsCoveredHelpers(t *testing.T) {
	md := "text\n```go\nx := 1\n\n\ty := 2\n```\n```sh\nls\n```\n"
	s := goSnippets(md)
	require.Len(t, s, 1, "one go block")
	assert.Equal(t, 2, s[0].line)
	assert.True(t, containsRun([]string{"a", "x := 1", "y := 2", "b"}, snippetLines(s[0].text)))
	assert.False(t, containsRun([]string{"x := 1", "b", "y := 2"}, snippetLines(s[0].text)))
}
