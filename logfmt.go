package asynclog

import (
	"bytes"
	"unsafe"

	"github.com/asynclog/asynclog/internal/jsonscan"
)

// The io.Writer front end's lookup of a field in logfmt text, beside
// jsonscan.FindMember for JSON (see findField).

// findLogfmtField walks the key=value fields of logfmt text (what
// slog.TextHandler and logrus's TextFormatter write). A value in double
// quotes may hold spaces and escaped quotes. Words that are not key=value
// (a timestamp prefix, say) are passed over.
func findLogfmtField(b []byte, k1, k2 string) (v []byte, quoted, ok bool) {
	// Most lines have the key before any double quote (time=… level=INFO
	// msg="…"): there a plain search finds it, and the walk is only for
	// the rest.
	head := b
	if q := bytes.IndexByte(b, '"'); q >= 0 {
		head = b[:q]
	}
	j := logfmtKeyAt(head, k1)
	if k2 != "" {
		if j2 := logfmtKeyAt(head, k2); j2 >= 0 && (j < 0 || j2 < j) {
			j, k1 = j2, k2
		}
	}
	if j >= 0 {
		return logfmtValue(b, j+len(k1)+1)
	}
	if len(head) == len(b) {
		return nil, false, false // no quote, no key
	}
	return walkLogfmt(b, k1, k2)
}

// logfmtKeyAt returns the index of the first word of b that is k followed
// by '=', or -1. b holds no double quote, so no word is inside a value.
func logfmtKeyAt(b []byte, k string) int {
	for off := 0; off < len(b); {
		j := bytes.Index(b[off:], unsafe.Slice(unsafe.StringData(k), len(k)))
		if j < 0 {
			return -1
		}
		j += off
		if end := j + len(k); end < len(b) && b[end] == '=' && (j == 0 || jsonscan.IsSpace(b[j-1])) {
			return j
		}
		off = j + 1
	}
	return -1
}

// logfmtValue returns the value that starts at b[i].
func logfmtValue(b []byte, i int) (v []byte, quoted, ok bool) {
	vstart := i
	if i < len(b) && b[i] == '"' {
		end := jsonscan.SkipString(b, i)
		if end < 0 {
			return nil, false, false
		}
		return b[vstart:end], true, true
	}
	for i < len(b) && !jsonscan.IsSpace(b[i]) {
		i++
	}
	return b[vstart:i], false, true
}

// walkLogfmt is findLogfmtField's walk over every word.
func walkLogfmt(b []byte, k1, k2 string) (v []byte, quoted, ok bool) {
	i := 0
	for i < len(b) {
		i = jsonscan.SkipSpace(b, i)
		start := i
		for i < len(b) && b[i] != '=' && !jsonscan.IsSpace(b[i]) && b[i] != '"' {
			i++
		}
		key := b[start:i]
		if i < len(b) && b[i] == '"' { // a quoted word that is not a key
			end := jsonscan.SkipString(b, i)
			if end < 0 {
				return nil, false, false
			}
			i = end
			continue
		}
		if i >= len(b) || b[i] != '=' {
			continue
		}
		i++ // '='
		vstart := i
		if i < len(b) && b[i] == '"' {
			end := jsonscan.SkipString(b, i)
			if end < 0 {
				return nil, false, false
			}
			i = end
		} else {
			for i < len(b) && !jsonscan.IsSpace(b[i]) {
				i++
			}
		}
		if len(key) > 0 && (string(key) == k1 || (k2 != "" && string(key) == k2)) {
			return b[vstart:i], i > vstart && b[vstart] == '"', true
		}
	}
	return nil, false, false
}
