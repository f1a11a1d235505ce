package httpsink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/asynclog/asynclog"
	"github.com/asynclog/asynclog/internal/jsonenc"
)

// Resending the records of a bulk request that the server refused with a
// per-item 429, within the Write (see [ElasticBulk]).
const (
	bulkResends    = 4 // resends after the first request, as the queue's default MaxAttempts has 5 attempts
	bulkBackoff    = 100 * time.Millisecond
	maxBulkBackoff = 5 * time.Second
	// maxBulkResponseBytes bounds how much of a bulk answer is parsed; it
	// is read as a stream, not held.
	maxBulkResponseBytes = 64 << 20
)

// bulkAction returns the action line that precedes each record.
func bulkAction(index string) []byte {
	if index == "" {
		return []byte(`{"create":{}}` + "\n")
	}
	b := append([]byte(`{"create":{"_index":`), jsonenc.AppendString(nil, index)...)
	return append(b, "}}\n"...)
}

// encodeBulk frames as many of recs as fit in limit bytes (at least one)
// into s.body, each after its action line, and returns how many it took.
func (s *Sink) encodeBulk(recs []asynclog.Record, limit int) int {
	b := s.body[:0]
	n := 0
	for i := range recs {
		e, size, breaks := oneLineSize(&recs[i])
		if n > 0 && len(b)+len(s.action)+size+1 > limit {
			break
		}
		b = append(b, s.action...)
		if breaks {
			b = appendOneLine(b, e)
		} else {
			b = appendEncoded(b, e)
		}
		b = append(b, '\n')
		n++
	}
	s.body = b
	return n
}

// oneLineSize returns a record's JSON without its trailing line ending,
// at most how many bytes it takes on one line, and whether it has line
// breaks for appendOneLine to remove.
func oneLineSize(r *asynclog.Record) (e []byte, size int, breaks bool) {
	e, size = encoded(r)
	if bytes.IndexByte(e, '\n') >= 0 || bytes.IndexByte(e, '\r') >= 0 {
		size += bytes.Count(e, []byte{'\n'}) + bytes.Count(e, []byte{'\r'})
		return e, size, true
	}
	return e, size, false
}

// appendOneLine appends e, which has line breaks, on one line: a line
// break inside a JSON string becomes its escape (\n, \r), and one between
// tokens a space, which JSON reads alike. The front ends never write a
// raw line break, but a record from elsewhere could, and in a
// line-delimited body it would split the record in two, or let its second
// half pass for a line of the protocol (a bulk action).
func appendOneLine(b, e []byte) []byte {
	inString, escaped := false, false
	for _, c := range e {
		switch {
		case c == '\n' || c == '\r':
			switch {
			case !inString:
				b = append(b, ' ')
			case c == '\n':
				b = append(b, '\\', 'n')
			default:
				b = append(b, '\\', 'r')
			}
			escaped = false
			continue
		case escaped:
			escaped = false
		case c == '\\' && inString:
			escaped = true
		case c == '"':
			inString = !inString
		}
		b = append(b, c)
	}
	return b
}

// bulkAnswer is what a bulk response says of a request's records.
type bulkAnswer struct {
	retry   []int  // indices of the records refused with 429, to resend
	refused int    // records refused otherwise, or 429s that cannot be told apart
	msg     string // the first refusal's status, type and reason
}

// bulkItem is one entry of a bulk response's items, under its action.
type bulkItem struct {
	Status int             `json:"status"`
	Error  json.RawMessage `json:"error"`
}

// parseBulk reads a bulk response for a request of n records, as a
// stream: the answer holds an item per record, in order, and is read
// only if "errors" is true (or missing). The indices it returns reuse
// retry's memory. A body that is not a bulk response means success, as
// for OTLP.
func parseBulk(r io.Reader, n int, retry []int) bulkAnswer {
	a := bulkAnswer{retry: retry[:0]}
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return a
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return a
		}
		switch t {
		case "errors":
			var failed bool
			if dec.Decode(&failed) != nil || !failed {
				return a
			}
		case "items":
			return parseBulkItems(dec, n, a)
		default:
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return a
			}
		}
	}
	return a
}

// parseBulkItems reads the items array. If it does not hold one item per
// record, the 429s cannot be matched to records: every refusal counts.
func parseBulkItems(dec *json.Decoder, n int, a bulkAnswer) bulkAnswer {
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return a
	}
	i := 0
	for ; dec.More(); i++ {
		var item map[string]bulkItem
		if dec.Decode(&item) != nil {
			break
		}
		for _, it := range item { // one action per item
			switch {
			case it.Status/100 == 2:
			case it.Status == http.StatusTooManyRequests && i < n:
				a.retry = append(a.retry, i)
			default:
				a.refused++
				if a.msg == "" {
					a.msg = "item " + strconv.Itoa(i) + ": " + strconv.Itoa(it.Status) + " " + bulkReason(it.Error)
				}
			}
		}
	}
	if i != n && len(a.retry) > 0 {
		a.refused += len(a.retry)
		a.retry = a.retry[:0]
		a.msg += fmt.Sprintf(" (%d items for %d records)", i, n)
	}
	return a
}

// bulkReason returns an item error's type and reason.
func bulkReason(raw json.RawMessage) string {
	var e struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(raw, &e) != nil {
		return string(raw)
	}
	if e.Reason == "" {
		return e.Type
	}
	return e.Type + ": " + e.Reason
}

// resend posts again, after a backoff, the records of a delivered bulk
// request that its answer refused with a per-item 429, until none is
// left, bulkResends resends have gone, ctx is done or the server refuses
// the whole request for good. The queue cannot retry records scattered
// through a batch, so the sink does it here, within the Write's ctx; what
// is still refused at the end counts as rejected. recs are the request's
// records; st counts the batch's requests, for their idempotency keys.
func (s *Sink) resend(ctx context.Context, recs []asynclog.Record, st *pending) (rejected int, msg string) {
	again := s.again[:0]
	for _, i := range s.bulk.retry {
		again = append(again, recs[i])
	}
	defer func() {
		clear(again) // keep no Encoded past the Write
		s.again = again[:0]
	}()
	delay := bulkBackoff
	for attempt := 1; ; attempt++ {
		if attempt > bulkResends {
			return rejected + len(again), joinMsg(msg, fmt.Sprintf("%d records still refused with 429 Too Many Requests after %d resends", len(again), bulkResends))
		}
		select {
		case <-ctx.Done():
			return rejected + len(again), joinMsg(msg, fmt.Sprintf("%d records refused with 429 Too Many Requests not resent: %v", len(again), ctx.Err()))
		case <-s.after(delay):
		}
		delay = min(2*delay, maxBulkBackoff)

		s.encodeBulk(again, int(^uint(0)>>1))
		r, m, err := s.post(ctx, len(again), s.idempotencyKey(*st))
		st.req++
		if err != nil {
			if asynclog.IsPermanent(err) {
				return rejected + len(again), joinMsg(msg, err.Error())
			}
			var ra *asynclog.RetryAfterError
			if errors.As(err, &ra) {
				delay = max(delay, min(ra.Delay, maxBulkBackoff))
			}
			continue
		}
		rejected += r
		if msg == "" {
			msg = m
		}
		k := 0
		for _, i := range s.bulk.retry {
			again[k] = again[i]
			k++
		}
		clear(again[k:])
		again = again[:k]
		if len(again) == 0 {
			return rejected, msg
		}
	}
}

// joinMsg returns the messages that are not empty, joined by "; ".
func joinMsg(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "; " + b
}
