package asynclog_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLinks: every relative link and image in README.md, CONTRIBUTING.md
// and docs/*.md names a file or directory of the repository, and every
// #anchor into a markdown file names one of its headings (as GitHub makes
// anchors of headings). Links with a scheme (https:, mailto:) are not
// followed.
func TestLinks(t *testing.T) {
	for _, doc := range docFiles(t) {
		t.Run(filepath.ToSlash(doc), func(t *testing.T) {
			for _, p := range brokenLinks(t, doc) {
				t.Error(p)
			}
		})
	}
}

var (
	// [text](target "title") and ![alt](target); the text may hold one
	// level of brackets, as in [![img](a)](b).
	inlineLink = regexp.MustCompile(`!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^()\s<>]*)>?(?:\s+"[^"]*")?\s*\)`)
	// [label]: target
	refLink = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?([^\s<>]+)>?`)
	// <img src="..."> and <a href="...">
	htmlLink   = regexp.MustCompile(`(?i)<(?:img|a)\b[^>]*\b(?:src|href)\s*=\s*"([^"]*)"`)
	codeSpan   = regexp.MustCompile("`+[^`]*`+")
	hasScheme  = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
	headingPat = regexp.MustCompile(`^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
)

// brokenLinks returns a message for each link in the markdown file doc
// that does not resolve.
func brokenLinks(t *testing.T, doc string) []string {
	t.Helper()
	root, err := filepath.Abs(".")
	require.NoError(t, err)
	b, err := os.ReadFile(doc)
	require.NoError(t, err)
	var problems []string
	for _, l := range markdownLinks(string(b)) {
		if msg := checkLink(root, doc, l.target); msg != "" {
			problems = append(problems, fmt.Sprintf("%s:%d: %s: %s", doc, l.line, l.target, msg))
		}
	}
	return problems
}

type mdLink struct {
	line   int
	target string
}

// markdownLinks returns the link targets of a markdown text, outside
// fenced code blocks and code spans.
func markdownLinks(md string) []mdLink {
	var out []mdLink
	fence := ""
	sc := bufio.NewScanner(strings.NewReader(md))
	for i := 1; sc.Scan(); i++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		if strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "\t") {
			continue // an indented code block (or a continuation we do not parse)
		}
		line = codeSpan.ReplaceAllString(line, "")
		for _, re := range []*regexp.Regexp{inlineLink, refLink, htmlLink} {
			for _, m := range re.FindAllStringSubmatch(line, -1) {
				out = append(out, mdLink{line: i, target: m[1]})
			}
		}
	}
	return out
}

// checkLink returns why target, found in doc, does not resolve, or "".
func checkLink(root, doc, target string) string {
	if target == "" {
		return "empty link"
	}
	if hasScheme.MatchString(target) || strings.HasPrefix(target, "//") {
		return "" // an outside link
	}
	path, anchor, _ := strings.Cut(target, "#")
	file := doc
	if path != "" {
		if strings.HasPrefix(path, "/") {
			return "absolute path: use a path relative to the document"
		}
		file = filepath.Join(filepath.Dir(doc), filepath.FromSlash(path))
		abs, err := filepath.Abs(file)
		if err != nil {
			return err.Error()
		}
		if rel, err := filepath.Rel(root, abs); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return "outside the repository"
		}
		if _, err := os.Stat(file); err != nil {
			return "no such file or directory"
		}
	}
	if anchor == "" || !strings.HasSuffix(file, ".md") {
		return ""
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return err.Error()
	}
	for _, a := range headingAnchors(string(b)) {
		if a == anchor {
			return ""
		}
	}
	return fmt.Sprintf("no heading in %s makes the anchor #%s", filepath.ToSlash(file), anchor)
}

// headingAnchors returns the anchors GitHub makes of a markdown text's
// ATX headings: lower case, with everything but letters, digits, spaces,
// hyphens and underscores removed and spaces turned into hyphens; a
// repeated anchor gets -1, -2 and so on.
func headingAnchors(md string) []string {
	var out []string
	seen := map[string]int{}
	fence := ""
	sc := bufio.NewScanner(strings.NewReader(md))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		m := headingPat.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		a := slug(m[2])
		if n := seen[a]; n > 0 {
			seen[a] = n + 1
			a = fmt.Sprintf("%s-%d", a, n)
		} else {
			seen[a] = 1
		}
		out = append(out, a)
	}
	return out
}

// slug is GitHub's anchor for a heading's text. Links in the heading keep
// their text only.
func slug(heading string) string {
	heading = inlineLinkText.ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

var inlineLinkText = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)

func TestLinksChecker(t *testing.T) {
	t.Run("slug", func(t *testing.T) {
		for heading, want := range map[string]string{
			"Guarantees: what can be lost, when, and how you would know": "guarantees-what-can-be-lost-when-and-how-you-would-know",
			"The spool: surviving the exits Go cannot hook":              "the-spool-surviving-the-exits-go-cannot-hook",
			"`Options.TLS` and ports":                                    "optionstls-and-ports",
			"OTLP (OTLP/HTTP JSON)":                                      "otlp-otlphttp-json",
			"Log collectors over HTTP: httpsink":                         "log-collectors-over-http-httpsink",
		} {
			assert.Equal(t, want, slug(heading), "slug of %q", heading)
		}
		assert.Equal(t, []string{"a", "b", "a-1"}, headingAnchors("# A\n```\n# not a heading\n```\n## B\n### A\n"), "repeats are numbered; fenced lines are not headings")
	})
	t.Run("links", func(t *testing.T) {
		md := "see [x](a.md#h) and ![y](img.svg \"t\"), `[not](code.md)`, <https://x>, [out](https://example.com)\n" +
			"```\n[fenced](nope.md)\n```\n[ref]: docs/b.md\n"
		var got []string
		for _, l := range markdownLinks(md) {
			got = append(got, l.target)
		}
		assert.Equal(t, []string{"a.md#h", "img.svg", "https://example.com", "docs/b.md"}, got)
	})
	t.Run("broken", func(t *testing.T) {
		dir := t.TempDir()
		doc := filepath.Join(dir, "doc.md")
		require.NoError(t, os.WriteFile(doc, []byte("# Title\n\n[ok](#title) [bad](#nope) [gone](missing.md) [self](doc.md#title)\n"), 0o644))
		root, err := filepath.Abs(dir)
		require.NoError(t, err)
		b, err := os.ReadFile(doc)
		require.NoError(t, err)
		var problems []string
		for _, l := range markdownLinks(string(b)) {
			if msg := checkLink(root, doc, l.target); msg != "" {
				problems = append(problems, l.target)
			}
		}
		assert.Equal(t, []string{"#nope", "missing.md"}, problems, "the broken links, and only those")
	})
}
