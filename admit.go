package asynclog

// Admission: a log call's way into the queue. It reserves room if the
// record fits, or applies the overflow policy: waiting in arrival order
// (Block), evicting below the kept level, or dropping and counting.

import (
	"log/slog"
	"time"
)

// roomWaiter is a log call waiting for room. The one who frees room (the
// consumer, or Shutdown) pushes the record for it, in arrival order, so
// that no later call can take the room first.
type roomWaiter struct {
	rec      Record
	raw      bool
	mustWait bool
	ready    chan struct{} // closed once decided
	accepted bool
}

// droppedTally counts dropped records by level since the last notice.
type droppedTally struct {
	byLevel [4]uint64 // DEBUG, INFO, WARN, ERROR and above
	total   uint64
	since   time.Time
}

func levelBucket(l slog.Level) int {
	switch {
	case l < slog.LevelInfo:
		return 0
	case l < slog.LevelWarn:
		return 1
	case l < slog.LevelError:
		return 2
	}
	return 3
}

// enqueue hands a record to the queue under its overflow policy and
// reports whether it was accepted. It copies rec.Encoded, which stays the
// caller's. mustWait (a synchronous record) waits for room whatever OnFull
// says. It never calls OnError: that would run the user's code on the log
// call.
func (q *queue) enqueue(r *Record, raw, mustWait bool) bool {
	if !mustWait && q.tryFast(r, raw) {
		return true
	}
	rec := *r // the rest passes a copy, which the waiters and the store keep
	q.mu.Lock()
	q.closeFastLocked() // the decisions below need the store's exact state
	q.enqueued++
	switch {
	case q.stoppingLocked():
		q.stats.Dropped++ // after Shutdown began: counted, not a loss Flush reports
		q.mu.Unlock()
		return false
	case len(q.waiters) == 0 && q.store.fits(rec):
		return q.acceptLocked(rec, raw)
	case q.store.never(rec):
		q.dropLocked(rec.Level) // can never fit
		q.mu.Unlock()
		return false
	}
	// Full, or others wait before this record.
	keep := mustWait || rec.Level >= q.keepLevel()
	if q.opts.OnFull != Block && len(q.waiters) == 0 {
		if keep || q.opts.OnFull == DropOldest {
			if q.makeRoomLocked(rec) {
				return q.acceptLocked(rec, raw)
			}
		}
		if !keep {
			q.dropLocked(rec.Level)
			q.mu.Unlock()
			return false
		}
	}
	if q.opts.OnFull != Block && !keep {
		q.dropLocked(rec.Level) // kept records wait ahead of it
		q.mu.Unlock()
		return false
	}
	return q.waitRoomLocked(rec, raw, mustWait, keep) // unlocks
}

// keepLevel is the level from which records are kept: never evicted, and
// evicting lower ones rather than being dropped. It is KeepLevel, but
// never above SyncLevel nor zap's DPanic, the levels written
// synchronously: a synchronous record's call waits for its delivery, so
// once admitted it must not be evicted. A level, not a mark on each
// record: both stores evict by level already (the spool's record header
// has no room for a mark), the log call stores nothing more, and the
// eviction cursor stays valid while the level does.
func (q *queue) keepLevel() slog.Level {
	return min(q.opts.KeepLevel.Level(), q.opts.SyncLevel.Level(), zapSyncLevel)
}

// makeRoomLocked evicts records below keepLevel, oldest first, until rec
// fits (kept records are never evicted). It reports whether rec fits now.
func (q *queue) makeRoomLocked(rec Record) bool {
	keep := q.keepLevel()
	for !q.store.fits(rec) {
		l, ok := q.store.evictBelow(keep)
		if !ok {
			return false
		}
		q.dropLocked(l)
	}
	return true
}

// waitRoomLocked queues the log call behind earlier waiters until there is
// room, with q.mu held on entry; it returns unlocked.
//
// The wait is bounded by BlockTimeout, but the bound restarts whenever a
// record has left the queue meanwhile: a slow sink makes the caller wait,
// only a sink that makes no progress makes it drop. A synchronous record
// waits at most CloseTimeout, progress or not: its whole call is bounded
// by one CloseTimeout. Once a wait has run out with no
// progress, later records are dropped without waiting until a record
// leaves the queue (a dead sink costs the application one BlockTimeout),
// and so are those that were waiting. A kept record that cannot wait evicts
// a lower one instead, where there is one.
func (q *queue) waitRoomLocked(rec Record, raw, mustWait, keep bool) bool {
	if (q.stall == q.released+1 && !mustWait) || q.fromConsumer() {
		return q.refuseLocked(rec, raw, keep)
	}
	w := &roomWaiter{rec: rec, raw: raw, mustWait: mustWait, ready: make(chan struct{})}
	q.waiters = append(q.waiters, w)
	if asleep(q.sleep.Load()) && !q.pacing {
		q.nudgeLocked() // a lingering consumer takes what is there now
	}
	d := q.opts.BlockTimeout
	if mustWait {
		d = q.opts.CloseTimeout // the synchronous call's one bound: progress does not restart it (issue 18)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	mark := q.released
	for {
		q.mu.Unlock()
		select {
		case <-w.ready:
			return w.accepted
		case <-t.C:
		}
		q.lock()
		select {
		case <-w.ready: // decided while we took the lock
			q.mu.Unlock()
			return w.accepted
		default:
		}
		// Progress restarts the bound; so does a consumer waiting out
		// MinInterval on purpose, in Block mode only: there the caller is
		// paced by the rate limit, as Block promises, while a kept record
		// in a drop mode must not wait longer than BlockTimeout.
		if !mustWait && (q.released != mark || (q.pacing && q.opts.OnFull == Block)) {
			mark = q.released
			t.Reset(d)
			continue
		}
		// No record left the queue during a whole wait: the sink is stuck.
		q.removeWaiterLocked(w)
		if !mustWait {
			q.stallLocked()
		}
		return q.refuseLocked(rec, raw, keep)
	}
}

// stallLocked marks the sink stuck: later records drop without waiting
// until a record leaves the queue (the stall mark), and those waiting saw
// no progress either, so they are answered now: a kept record evicts a
// lower one where there is one, others drop; synchronous records keep
// their place.
func (q *queue) stallLocked() {
	q.stall = q.released + 1
	k := 0
	keepAt := q.keepLevel()
	for _, o := range q.waiters {
		if o.mustWait {
			q.waiters[k] = o
			k++
			continue
		}
		q.decideLocked(o, o.rec.Level >= keepAt && q.makeRoomLocked(o.rec))
	}
	clear(q.waiters[k:])
	q.waiters = q.waiters[:k]
}

// refuseLocked handles a record that will not wait: a kept record evicts a
// lower one if it can, anything else is dropped. It unlocks.
func (q *queue) refuseLocked(rec Record, raw, keep bool) bool {
	if keep && q.makeRoomLocked(rec) {
		return q.acceptLocked(rec, raw)
	}
	q.dropLocked(rec.Level)
	q.mu.Unlock()
	return false
}

func (q *queue) removeWaiterLocked(w *roomWaiter) {
	for i, o := range q.waiters {
		if o == w {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			return
		}
	}
}

// decideLocked answers a waiter: its record is pushed (accepted) or dropped.
func (q *queue) decideLocked(w *roomWaiter, accept bool) {
	if accept {
		p, wake := q.pushLocked(w.rec, w.raw)
		p.write(&w.rec) // under the lock: a rare path
		if wake != sleepAwake {
			q.signal()
		}
	} else {
		q.dropLocked(w.rec.Level)
	}
	w.accepted = accept
	w.rec = Record{} // the caller's buffer: not ours past this point
	close(w.ready)
}

// admitLocked pushes waiting records, in arrival order, while they fit.
func (q *queue) admitLocked() {
	k := 0
	for k < len(q.waiters) && q.store.fits(q.waiters[k].rec) {
		q.decideLocked(q.waiters[k], true)
		k++
	}
	if k > 0 {
		q.waiters = append(q.waiters[:0], q.waiters[k:]...)
	}
}

// acceptLocked reserves room for a record that fits, unlocks, copies the
// record's bytes into its room, and then wakes the consumer if it waits for
// it: after Unlock, because the consumer it wakes needs the lock at once,
// and after the copy, which the consumer would wait for. It reports true,
// for the log call to return.
func (q *queue) acceptLocked(rec Record, raw bool) bool {
	p, wake := q.pushLocked(rec, raw)
	q.openFastLocked()
	q.mu.Unlock()
	p.write(&rec)
	q.rouse(wake)
	return true
}

// pushLocked reserves the record's place in the store and returns what is
// left to copy. If the parked consumer waits for it, it marks the consumer
// awake and reports that the caller must signal it (after Unlock, or at
// once with nudgeLocked's send).
func (q *queue) pushLocked(rec Record, raw bool) (pending, uint32) {
	p := q.store.push(q.seq, rec, raw)
	q.seq++
	if m := q.sleep.Load(); m == sleepOnRecord || m == sleepOnBatch && (q.store.pressing() || q.overdue(rec.Time)) {
		return p, q.wakes(m, rec.Time)
	}
	return p, sleepAwake
}

// nudgeLocked wakes the parked consumer.
func (q *queue) nudgeLocked() {
	q.sleep.Store(sleepAwake)
	q.signal()
}

// signal sends the consumer its wake-up; the one slot makes it never block.
func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// dropLocked counts one record lost to the overflow policy: for the stats,
// the next notice, and the next Flush.
func (q *queue) dropLocked(l slog.Level) {
	q.stats.Dropped++
	q.loss.dropped++
	if q.drops.total == 0 {
		q.drops.since = time.Now()
	}
	q.drops.total++
	q.drops.byLevel[levelBucket(l)]++
}
