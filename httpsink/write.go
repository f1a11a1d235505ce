package httpsink

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"strconv"

	"github.com/asynclog/asynclog"
)

// Write: a batch split to MaxBodyBytes and posted part by part, each
// part with its idempotency key.

// pending remembers a batch whose Write failed with a retryable error.
// The queue writes the records that were not delivered again (the whole
// batch, or its rest after [asynclog.Delivered]), so a Write whose records
// match key is that batch's retry: it goes on counting the batch's
// requests, and the records that the partial successes of its delivered
// requests refused are still reported when the batch ends.
type pending struct {
	key      uint64 // keyOf the records the queue will write again
	batch    uint64 // the batch's number, from 1; 0 if nothing is pending
	req      int    // index in the batch of the next request
	rejected int    // records refused in the partial successes of delivered requests
	msg      string // the first partial success's message
}

// keyOf hashes records' count, times and encodings. The queue's retry
// passes the same records, so a match means a retry; a new batch that only
// reuses the same buffers does not match. It is computed only around a
// failure, never on the common path.
func (s *Sink) keyOf(recs []asynclog.Record) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(len(recs)))
	h.Write(b[:])
	for i := range recs {
		binary.LittleEndian.PutUint64(b[:], uint64(recs[i].Time.UnixNano()))
		h.Write(b[:])
		binary.LittleEndian.PutUint64(b[:], uint64(len(recs[i].Encoded)))
		h.Write(b[:])
		h.Write(recs[i].Encoded)
	}
	return h.Sum64()
}

// Write posts batch, split into requests of at most MaxBodyBytes, in
// order, one at a time, each with ctx. It returns nil once every request
// got a 2xx answer. Otherwise it stops at the first request that failed
// and returns an error wrapped with [asynclog.RetryAfter] or plain for a
// retryable failure, or [asynclog.Permanent] for a refusal; if earlier
// requests of the batch were delivered, the error is wrapped with
// [asynclog.Delivered] and their count, so that the queue counts them
// Delivered and writes (or gives to its fallback) only the rest. An OTLP
// partial success, and the items a bulk answer refused, come back as
// [asynclog.Partial] once the batch is done; with [ElasticBulk], Write
// first sends again, itself, the records refused with a per-item 429. It
// keeps no reference to batch after it returns.
func (s *Sink) Write(ctx context.Context, batch []asynclog.Record) error {
	if len(batch) == 0 {
		return nil
	}
	st := s.pending
	s.pending = pending{}
	if st.batch == 0 || st.key != s.keyOf(batch) {
		s.batches++
		st = pending{batch: s.batches}
	}
	defer s.trimBuffers()

	sent := 0
	for sent < len(batch) {
		n := s.encode(batch[sent:])
		rejected, msg, err := s.post(ctx, n, s.idempotencyKey(st))
		if err != nil {
			return s.stopped(err, batch[sent:], sent, st)
		}
		st.req++
		if len(s.bulk.retry) > 0 {
			r, m := s.resend(ctx, batch[sent:sent+n], &st)
			rejected += r
			msg = joinMsg(msg, m)
		}
		sent += n
		st.rejected += rejected
		if msg != "" && st.msg == "" {
			st.msg = msg
		}
	}
	if st.rejected > 0 || st.msg != "" {
		err := fmt.Errorf("httpsink: POST %s: partial success: %d log records rejected", s.redacted, st.rejected)
		if st.msg != "" {
			err = fmt.Errorf("%w: %s", err, st.msg)
		}
		return asynclog.Partial(err, st.rejected)
	}
	return nil
}

// idempotencyKey returns the key of the batch's next request, or "" if
// the sink sends none: the sink's random prefix, the batch's number and
// the request's index in the batch. The queue's retry of a batch, or of
// its rest, starts at the request that failed, and the split of the rest
// is the same as it was within the batch, so each request keeps its key.
func (s *Sink) idempotencyKey(st pending) string {
	if s.idemHeader == "" {
		return ""
	}
	return s.idemPrefix + "-" + strconv.FormatUint(st.batch, 10) + "-" + strconv.Itoa(st.req)
}

// stopped returns the error of a Write that stopped at a failed request,
// with sent records of the batch delivered before it and rest not. A
// retryable failure leaves the batch pending for the queue's retry.
func (s *Sink) stopped(err error, rest []asynclog.Record, sent int, st pending) error {
	if !asynclog.IsPermanent(err) {
		st.key = s.keyOf(rest)
		s.pending = st
	} else if st.rejected > 0 {
		// Delivered has no room for them: they count as Delivered.
		err = fmt.Errorf("%w (earlier requests of the batch: partial success: %d log records rejected)", err, st.rejected)
	}
	if sent == 0 {
		return err
	}
	return asynclog.Delivered(err, sent)
}

// trimBuffers drops buffers that one huge batch grew.
func (s *Sink) trimBuffers() {
	if cap(s.body) > keepBufBytes {
		s.body = nil
	}
	if s.zbuf.Cap() > keepBufBytes {
		s.zbuf = bytes.Buffer{}
	}
	if s.otlp != nil && cap(s.otlp.rec) > keepBufBytes {
		s.otlp.rec = nil
	}
	if s.proto != nil && cap(s.proto.rec) > keepBufBytes {
		s.proto.rec = nil
	}
}
