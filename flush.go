package asynclog

// The barrier: Flush waits until every record accepted before it is
// settled, as a position in the records' sequence numbers.

import (
	"context"
	"fmt"
)

// flushWait is a Flush waiting for the consumer to settle every record
// below target. The consumer closes ready once it has; loss is the loss
// count at that moment.
type flushWait struct {
	target uint64
	keep   bool
	ready  chan struct{}
	loss   lossCount
	err    error // set instead when the drain was abandoned
}

// flush waits for the barrier at the queue's current position. With keep,
// the losses it reports stay for the next Flush too: a synchronous
// record's wait must not take the errors that the program's own Flush or
// Close should return.
func (q *queue) flush(ctx context.Context, keep bool) error {
	if q.fromConsumer() {
		return fmt.Errorf("asynclog: flush: %w", ErrReentrant)
	}
	q.lock()
	if q.stoppingLocked() {
		q.mu.Unlock()
		return ErrClosed
	}
	base := q.loss.reported
	if q.settled >= q.seq {
		err := q.loss.since(base, q.lossNowLocked())
		if !keep {
			q.loss.markReported(q.lossNowLocked())
		}
		q.mu.Unlock()
		return err
	}
	w := &flushWait{target: q.seq, keep: keep, ready: make(chan struct{})}
	q.flushes = append(q.flushes, w)
	if asleep(q.sleep.Load()) {
		q.nudgeLocked()
	}
	q.mu.Unlock()

	select {
	case <-w.ready:
	case <-ctx.Done():
		q.lock()
		select {
		case <-w.ready: // answered meanwhile: that answer stands
		default:
			for i, o := range q.flushes {
				if o == w {
					q.flushes = append(q.flushes[:i], q.flushes[i+1:]...)
					break
				}
			}
			q.mu.Unlock()
			return fmt.Errorf("asynclog: flush: %w", ctx.Err())
		}
		q.mu.Unlock()
	}
	if w.err != nil {
		return w.err
	}
	q.lock()
	defer q.mu.Unlock()
	return q.loss.since(base, w.loss)
}

// answerFlushesLocked answers every Flush whose barrier has been passed.
func (q *queue) answerFlushesLocked() {
	k := 0
	for _, w := range q.flushes {
		if w.target > q.settled {
			q.flushes[k] = w
			k++
			continue
		}
		w.loss = q.lossNowLocked()
		if !w.keep {
			q.loss.markReported(w.loss)
		}
		close(w.ready)
	}
	clear(q.flushes[k:])
	q.flushes = q.flushes[:k]
}
