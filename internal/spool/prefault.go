package spool

// prefaultWindow is how far ahead of the tail Prefault makes the ring
// writable: about a thousand records, a few batches' worth.
const prefaultWindow = 256 << 10

// Ahead returns the logical range of the free room the next Appends will
// write, at most prefaultWindow bytes from the tail, for [Spool.Prefault]
// outside the caller's lock.
func (s *Spool) Ahead() (from, to uint64) {
	if s.ring == nil {
		return 0, 0
	}
	return s.tail, min(s.tail+prefaultWindow, s.head+s.size)
}

// Prefault makes the pages of the ring holding the logical range
// [from, to) present and writable, where the kernel supports it, so that
// the Appends that write there do not each take a page fault: on a file
// system with write-back, the kernel write-protects a page of a shared
// mapping once it is written back, and the next store into it faults. It
// touches no byte of the ring: it may run while Appends write the same
// pages. It is safe to call from any goroutine while the Spool is open,
// and does nothing on error (a fault on Append is the fallback). On a file
// system in memory (tmpfs, ramfs) it does nothing: there is no write-back,
// and Open's populated mapping stays writable.
func (s *Spool) Prefault(from, to uint64) {
	if s.ring == nil || to <= from || s.size == 0 || !s.writesBack {
		return
	}
	n := min(to-from, s.size)
	start := from % s.size
	end := start + n
	if end <= s.size {
		populateWrite(s.ring[start:end])
		return
	}
	populateWrite(s.ring[start:])
	populateWrite(s.ring[:end-s.size])
}
