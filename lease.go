package asynclog

// The lease: a log call's way into the queue without its mutex. While the
// store's open segment is leased, a log call reserves its record's place
// there with one compare-and-swap on the segment's reservation word (the
// BPF ring buffer's reservation, with a CAS where the kernel takes a
// spinlock), writes it outside any lock, and marks it done, as a record
// reserved under the mutex is. Everything else goes through the mutex:
// a record that does not fit, a synchronous one, one that must wait behind
// others, and all of the consumer's, Flush's and Shutdown's work.
//
// The lease holds while the queue needs no decision a lock-free call
// cannot make: it is open only while no log call waits for room and
// Shutdown has not begun, and only within bounds set under the mutex (lim:
// the room that Size and MaxBytes leave, at the last fold). Whoever needs
// the queue's exact state takes the mutex and folds the reservations made
// since the last fold into the store's counts and the queue's numbering
// (queue.lock); whoever changes the store's segments, or must decide on
// room, first closes the lease (closeFastLocked), which a CAS does at once:
// a reservation either came before it, and is folded, or fails and takes
// the mutex.
//
// The numbers stay those of the mutex path: a leased segment's records are
// numbered base+i, in the order of their reservations, which is the order
// in which they are delivered; Flush's barrier is the numbering at its
// fold, which counts every reservation made before it.

// The reservation word: closed (bit 63), the segment's use (23 bits of
// segment.gen, which moves on each time the segment is emptied for reuse),
// records reserved (16 bits) and bytes reserved (24 bits). A CAS prepared
// before the segment was reused fails after it: within one use, the same
// word under a later lease has bounds at least as wide, so a CAS that
// outlived its lease reserves nothing it could not have reserved then.
import (
	"runtime"
	"time"
)

const (
	resClosed  = 1 << 63
	resGenBits = 23
	resNShift  = 24
	resNMax    = 1<<16 - 1
	resOffMax  = 1<<24 - 1
	pairMax    = 1<<32 - 1
)

func packRes(gen uint32, n, off uint64) uint64 {
	return (uint64(gen)&(1<<resGenBits-1))<<40 | n<<resNShift | off
}

func unpackRes(r uint64) (n, off uint64) { return r >> resNShift & resNMax, r & resOffMax }

// packPair packs two bounds of at most 32 bits each (lim and press).
func packPair(a, b uint64) uint64 { return min(a, pairMax)<<32 | min(b, pairMax) }

// tryFast reserves rec's place in the leased segment without the mutex and
// writes it there. It reports false, having done nothing, if there is no
// lease, it is closed, or the record does not fit within its bounds: the
// caller then takes the mutex.
func (q *queue) tryFast(rec *Record, raw bool) bool {
	s := q.fast.Load()
	if s == nil {
		return false
	}
	need := uint64(len(rec.Encoded)) + 1
	var i, off uint64
	for {
		r := s.res.Load()
		if r&resClosed != 0 {
			return false
		}
		lim := s.lim.Load() // after res: a lease's bounds are set before its word
		n, o := unpackRes(r)
		nn, no := n+1, o+need
		if nn > lim>>32 || no-nn > lim&pairMax || no > uint64(len(s.buf)) {
			return false
		}
		if s.res.CompareAndSwap(r, r+1<<resNShift+need) {
			i, off = n, o
			break
		}
	}
	s.meta[i].set(s.base+i, rec.Level, rec.Encoded, raw)
	pending{s: s, i: i, off: off}.write(rec)
	// Wake the consumer if it sleeps waiting for this (press, as for
	// store.pressing).
	if m := q.sleep.Load(); m == sleepOnRecord || m == sleepOnBatch && (pressed(s.press.Load(), i+1, off+need) || q.overdue(rec.Time)) {
		q.rouse(q.wakes(m, rec.Time))
	}
	return true
}

// overdue reports whether rec is stamped late enough after the time the
// lingering consumer was to wake (queue.due) that its timer is overdue.
// The timer has fired then, but
// the runtime runs timers only where a goroutine yields its processor: a
// flood from as many goroutines as there are processors runs timers late,
// when the scheduler preempts one (every 10 ms), while the queue fills. A
// log call that finds the consumer overdue wakes it and yields its
// processor to it (runtime.Gosched: the woken goroutine runs next where it
// was woken).
//
// Overdue is from overdueSlack after that time: a timer that is on time
// wakes the consumer within it (where a processor is free), and the call
// that would race it to the wake-up is spared the yield. A record stamped
// a second or more after that time is taken for one stamped by its caller
// ahead of the clock, not for a late timer: it wakes nothing.
func (q *queue) overdue(stamp time.Time) bool {
	d := stamp.UnixNano() - q.due.Load()
	return d >= int64(overdueSlack) && d < int64(time.Second)
}

// overdueSlack is how late the lingering consumer's timer may be before a
// log call wakes it: far less than the 10 ms between preemptions.
const overdueSlack = 250 * time.Microsecond

// wakes wakes the consumer parked for m, for the log call of rec, which
// brings what it waits for: any record on an empty queue (sleepOnRecord);
// while it lingers for a batch (sleepOnBatch), the store half full or the
// linger overdue (the caller checks). Of the calls that see it parked, one
// wakes it, with a CAS that marks it woken (sleepHurried when overdue: its
// linger is over). It returns what the consumer was parked for, for
// rouse, or sleepAwake if another call woke it.
func (q *queue) wakes(m uint32, stamp time.Time) uint32 {
	to := sleepAwake
	if m == sleepOnBatch && q.overdue(stamp) {
		to = sleepHurried
	}
	if !q.sleep.CompareAndSwap(m, to) {
		return sleepAwake // another call woke it, or it woke
	}
	return m
}

// rouse sends the consumer that wakes woke its wake-up (m, what it was
// parked for; sleepAwake: none). One that lingered is handed the caller's
// processor too (runtime.Gosched: the woken goroutine runs next where it
// was woken): it lingered while the store filled half or past the
// linger's end, so the processors are likely all busy (see overdue).
func (q *queue) rouse(m uint32) {
	switch m {
	case sleepOnBatch:
		q.signal()
		runtime.Gosched()
	case sleepOnRecord:
		q.signal()
	}
}

// asleep reports whether the consumer is parked (as sleep says) and not
// already woken: a nudge would wake it.
func asleep(m uint32) bool { return m != sleepAwake && m != sleepHurried }

// pressed reports whether a leased segment filled to n records and off
// bytes makes the store half full.
func pressed(press, n, off uint64) bool {
	return n >= press>>32 || off-n >= press&pairMax
}

// What the consumer sleeps waiting for (queue.sleep): a log call that
// brings it clears it and wakes the consumer.
const (
	sleepAwake    uint32 = iota // not sleeping, or already woken
	sleepOnRecord               // any record: the queue was empty
	sleepOnBatch                // the store half full (store.pressing) or the linger overdue (queue.overdue): it lingers, and its timer wakes it
	sleepNever                  // nothing a log call brings: it waits out MinInterval
	sleepHurried                // woken by a log call that found its linger overdue: the linger is over
)

// lock takes the queue's mutex and folds the lock-free reservations made
// since the last fold, so that the store's counts, seq and enqueued are
// exact as of now.
func (q *queue) lock() {
	q.mu.Lock()
	q.syncLocked()
}

// syncLocked folds the lease's reservations into the queue's numbering.
func (q *queue) syncLocked() {
	if q.fast.Load() == nil {
		return
	}
	q.countFolded(q.store.sync())
}

// countFolded numbers and counts n records reserved under the lease.
func (q *queue) countFolded(n uint64) {
	q.seq += n
	q.enqueued += n
}

// closeFastLocked ends the lease: from here on every log call takes the
// mutex, and the store's counts are exact while it is held.
func (q *queue) closeFastLocked() {
	if q.fast.Load() == nil {
		return
	}
	q.fast.Store(nil)
	q.countFolded(q.store.closeLease())
}

// openFastLocked leases the store's open segment, if the queue can take
// records without a decision: nobody waits for room, Shutdown has not
// begun, and there is room.
func (q *queue) openFastLocked() {
	if q.fast.Load() != nil || len(q.waiters) > 0 || q.stoppingLocked() || q.opts.Spool != "" { // a spool does not lease
		return
	}
	if s := q.store.openLease(); s != nil {
		q.fast.Store(s)
	}
}

// sync folds the lease's reservations into the store's counts and returns
// how many records they added.
func (m *memStore) sync() uint64 {
	if m.lease == nil {
		return 0
	}
	dn := m.fold()
	m.setBounds(m.lease)
	return dn
}

// fold counts the leased segment's reservations made since the last fold.
func (m *memStore) fold() uint64 {
	s := m.lease
	n, off := unpackRes(s.res.Load())
	dn := int(n) - s.n
	if dn == 0 {
		return 0
	}
	db := (int(off) - int(n)) - (s.off - s.n)
	s.n, s.off = int(n), int(off)
	s.live += dn
	s.liveBytes += db
	m.n += dn
	m.bytes += db
	return uint64(dn)
}

// setBounds sets how far the leased segment s may be reserved: to its own
// end, and to the room Size and MaxBytes leave; and from where a
// reservation makes the store half full (pressing). Both are absolute in
// the segment's counts, so a bound set earlier stays true while
// reservations go on: room only grows under the mutex.
func (m *memStore) setBounds(s *segment) {
	// Size and MaxBytes may be as large as an int holds: no sum below
	// overflows (room and half are at most that, the segment's own counts
	// at most its buf).
	limN := s.n + min(len(s.recs)-s.n, m.size-m.n)
	limB := s.off - s.n + min(len(s.buf), m.max-m.bytes)
	if v := packPair(uint64(max(limN, s.n)), uint64(max(limB, s.off-s.n))); s.lim.Load() != v {
		s.lim.Store(v)
	}
	halfN := m.size/2 + m.size%2
	halfB := m.max/2 + m.max%2
	pressN := max(0, s.n-m.n+halfN)
	pressB := max(0, s.off-s.n-m.bytes+halfB)
	if v := packPair(uint64(pressN), uint64(pressB)); s.press.Load() != v {
		s.press.Store(v)
	}
}

// closeLease ends the lease, folding its last reservations: a reservation
// after the close fails, and its log call takes the mutex.
func (m *memStore) closeLease() uint64 {
	if m.lease == nil {
		return 0
	}
	s := m.lease
	for {
		r := s.res.Load()
		if r&resClosed != 0 || s.res.CompareAndSwap(r, r|resClosed) {
			break
		}
	}
	dn := m.fold()
	m.lease = nil
	return dn
}

// openLease leases the open segment if it has room and the lease's word
// can count it; it returns the segment, or nil. Its records are numbered
// from its base, set by push with its first record.
func (m *memStore) openLease() *segment {
	if m.lease != nil || !m.active {
		return nil
	}
	s := m.segs[len(m.segs)-1]
	if len(s.recs) > resNMax || len(s.buf) > resOffMax || s.n >= len(s.recs) || s.off >= len(s.buf) || m.n >= m.size || m.bytes >= m.max {
		return nil
	}
	s.leased = true
	m.setBounds(s)
	s.res.Store(packRes(s.gen, uint64(s.n), uint64(s.off)))
	m.lease = s
	return s
}

// The spool keeps its records in a file: every log call takes the mutex,
// and its reservation there is short (internal/spool's Reserve).
func (p *spoolStore) sync() uint64        { return 0 }
func (p *spoolStore) closeLease() uint64  { return 0 }
func (p *spoolStore) openLease() *segment { return nil }
