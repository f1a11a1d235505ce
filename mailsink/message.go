package mailsink

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/asynclog/asynclog"
)

// Limits on the readable part of a digest.
const (
	maxSubjectRunes = 120  // of the first message, in the subject
	maxMessageBytes = 1000 // of one record's message, on its readable line
	maxFieldBytes   = 200  // of one field's value, on a readable line
	maxLineBytes    = 2000 // of one readable line, fields included
	headerWidth     = 76   // where a long Subject is folded
)

// timeLayout is the time on a readable line: UTC, milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// writeDigest writes the whole email for batch to buf: headers (with
// Date now and Message-ID id), a blank line, and a quoted-printable body.
// The same batch, now and id make the same bytes.
//
// Log content reaches the headers only through the Subject, where every
// control character becomes a space and the text is RFC 2047 encoded, so
// it cannot start a header or end the message. In the body every byte
// goes through the quoted-printable encoder, and invalid UTF-8 becomes
// U+FFFD first; the SMTP client dot-stuffs the result, so a line that is
// a single dot cannot end the DATA early.
func (c *config) writeDigest(buf *bytes.Buffer, batch []asynclog.Record, now time.Time, id string) {
	top := 0
	for i := range batch {
		if batch[i].Level > batch[top].Level {
			top = i
		}
	}
	level := levelName(batch[top].Level)

	n := strconv.Itoa(len(batch)) + " records"
	if len(batch) == 1 {
		n = "1 record"
	}
	subject := c.subject + " " + level + " " + n
	if m := oneLine(batch[top].Message, maxSubjectRunes); m != "" {
		subject += ": " + m
	}

	header(buf, "From", c.from.String())
	to := make([]string, len(c.to))
	for i, a := range c.to {
		to[i] = a.String()
	}
	header(buf, "To", strings.Join(to, ", "))
	header(buf, "Subject", fold(mime.QEncoding.Encode("utf-8", subject), len("Subject: ")))
	header(buf, "Date", now.Format(time.RFC1123Z))
	header(buf, "Message-ID", id)
	header(buf, "MIME-Version", "1.0")
	header(buf, "Content-Type", "text/plain; charset=utf-8")
	header(buf, "Content-Transfer-Encoding", "quoted-printable")
	header(buf, "Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies, please
	buf.WriteString("\r\n")

	qp := quotedprintable.NewWriter(buf)
	first, last := batch[0].Time, batch[0].Time
	for i := range batch {
		first = minTime(first, batch[i].Time)
		if batch[i].Time.After(last) {
			last = batch[i].Time
		}
	}
	fmt.Fprintf(qp, "%s, highest level %s, logged from %s to %s.\n\n",
		n, level, first.UTC().Format(timeLayout), last.UTC().Format(timeLayout))

	// The readable lines come first and may take the whole budget; the
	// raw records get what is left. Each part says what it left out.
	budget := c.maxMessageBytes - 4096 // room for a last line, a note, the encoder's growth
	line := make([]byte, 0, 256)
	for i := range batch {
		if buf.Len() > budget {
			fmt.Fprintf(qp, "(%d of %d records left out: the email would be larger than %d bytes)\n",
				len(batch)-i, len(batch), c.maxMessageBytes)
			break
		}
		line = appendReadable(line[:0], &batch[i])
		line = append(line, '\n')
		qp.Write(line)
	}

	qp.Write([]byte("\nRaw records, one per line as encoded:\n\n"))
	for i := range batch {
		if n := len(batch[i].Encoded); buf.Len()+n+n/8 > budget {
			fmt.Fprintf(qp, "(%d of %d raw records left out: the email would be larger than %d bytes)\n",
				len(batch)-i, len(batch), c.maxMessageBytes)
			break
		}
		writeRaw(qp, batch[i].Encoded)
	}
	qp.Close()
}

// header writes one header field; value must already be safe (no CR, LF).
func header(buf *bytes.Buffer, name, value string) {
	buf.WriteString(name)
	buf.WriteString(": ")
	buf.WriteString(value)
	buf.WriteString("\r\n")
}

// fold breaks an encoded header value at its spaces so that no line is
// much longer than headerWidth; used is the width taken by the field name.
func fold(v string, used int) string {
	var b strings.Builder
	width := used
	for i, w := range strings.Split(v, " ") {
		if i > 0 {
			if width+1+len(w) > headerWidth {
				b.WriteString("\r\n")
				width = 0
			}
			b.WriteByte(' ')
			width++
		}
		b.WriteString(w)
		width += len(w)
	}
	return b.String()
}

// messageID returns a unique Message-ID in the sender's domain.
func messageID(from string, now time.Time) string {
	domain := "asynclog.invalid"
	if at := strings.LastIndexByte(from, '@'); at >= 0 && at+1 < len(from) {
		domain = from[at+1:]
	}
	var r [12]byte
	_, _ = rand.Read(r[:])
	return "<" + strconv.FormatInt(now.UnixNano(), 36) + "." + hex.EncodeToString(r[:]) + "@" + domain + ">"
}

// levelName names a level, including the zap levels above Error as the
// core maps them (DPanic 12, Panic 16, Fatal 20).
func levelName(l slog.Level) string {
	switch l {
	case 12:
		return "DPANIC"
	case 16:
		return "PANIC"
	case 20:
		return "FATAL"
	}
	return l.String()
}

// oneLine makes s fit on one header line: valid UTF-8, every run of
// control characters and spaces one space, at most maxRunes runes.
func oneLine(s string, maxRunes int) string {
	var b strings.Builder
	n := 0
	space := false
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if r <= ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			space = true
			continue
		}
		if n == maxRunes {
			b.WriteString("…")
			break
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
			n++
		}
		space = false
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// appendReadable appends the record's readable line: time, level, message
// with its control characters escaped (so it stays one line), and the
// fields of its Encoded JSON object other than time, level and message.
func appendReadable(b []byte, r *asynclog.Record) []byte {
	start := len(b)
	b = r.Time.UTC().AppendFormat(b, timeLayout)
	b = append(b, ' ')
	b = append(b, levelName(r.Level)...)
	b = append(b, ' ')
	b = appendEscaped(b, r.Message, maxMessageBytes)
	b = appendFields(b, r.Encoded)
	if len(b)-start > maxLineBytes {
		cut := start + maxLineBytes
		for cut > start && !utf8.RuneStart(b[cut]) {
			cut--
		}
		b = append(b[:cut], "…"...)
	}
	return b
}

// appendEscaped appends s, at most limit bytes of it, as valid UTF-8 on
// one line: line breaks, tabs and other control characters are written as
// Go escapes (\n, \r, \t, \x1b, \u2028), invalid bytes as U+FFFD.
func appendEscaped(b []byte, s string, limit int) []byte {
	start := len(b)
	for i, r := range s {
		if len(b)-start >= limit {
			return append(b, "…"...)
		}
		switch {
		case r == utf8.RuneError && isInvalid(s[i:]):
			b = append(b, "\uFFFD"...)
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r < 0x20 || r == 0x7f:
			b = append(b, `\x`...)
			b = append(b, "0123456789abcdef"[r>>4], "0123456789abcdef"[r&15])
		case (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029':
			b = append(b, `\u`...)
			b = append(b, fmt.Sprintf("%04x", r)...)
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return b
}

// isInvalid reports whether s starts with an invalid UTF-8 sequence (as
// opposed to an encoded U+FFFD).
func isInvalid(s string) bool {
	r, size := utf8.DecodeRuneInString(s)
	return r == utf8.RuneError && size <= 1
}

// shownKey reports whether key names a field the readable line already
// shows (slog's and zap's usual names for time, level and message).
func shownKey(key string) bool {
	switch key {
	case "time", "ts", "level", "msg", "message":
		return true
	}
	return false
}

// appendFields appends " key=value" for each top-level field of the JSON
// object enc, in order, except time, level and message. Strings are shown
// escaped, quoted if they hold a space, '"' or '='; other values as
// compact JSON. If enc is not a JSON object (a console encoder, say),
// nothing is appended: the raw section shows it.
func appendFields(b []byte, enc []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(enc))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return b
	}
	start := len(b)
	var compact bytes.Buffer
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return b[:start]
		}
		key, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return b[:start]
		}
		if shownKey(key) {
			continue
		}
		b = append(b, ' ')
		b = appendEscaped(b, key, maxMessageBytes)
		b = append(b, '=')
		var s string
		if raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
			if s == "" || strings.ContainsAny(s, " \"=") {
				b = append(b, '"')
				b = appendEscaped(b, strings.ReplaceAll(s, `"`, `\"`), maxFieldBytes)
				b = append(b, '"')
			} else {
				b = appendEscaped(b, s, maxFieldBytes)
			}
			continue
		}
		compact.Reset()
		if json.Compact(&compact, raw) != nil {
			return b[:start]
		}
		b = appendEscaped(b, compact.String(), maxFieldBytes)
		if len(b)-start > maxLineBytes {
			break
		}
	}
	return b
}

// writeRaw writes one record's encoding as it is, made valid UTF-8, with
// its line endings as LF (which the encoder turns into CRLF), ending in a
// line break.
func writeRaw(w io.Writer, enc []byte) {
	enc = bytes.ToValidUTF8(enc, []byte("\uFFFD"))
	enc = bytes.ReplaceAll(enc, []byte("\r\n"), []byte("\n"))
	enc = bytes.ReplaceAll(enc, []byte("\r"), []byte("\n"))
	enc = bytes.TrimRight(enc, "\n")
	w.Write(enc)
	w.Write([]byte("\n"))
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
