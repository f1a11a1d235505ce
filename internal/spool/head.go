package spool

import "math"

// The head: the oldest frame not dead, stored twice in the header page so
// that a crash between the stores is told from damage.

// storeHead stores head in the header page, packed with its check, with
// one aligned store, and then its copy with another.
func (s *Spool) storeHead(head uint64) {
	v := packHead(head)
	s.putHdr64(hHead, v)
	s.putHdr64(hHead2, v)
}

// loadHead returns the head stored in the header page, and false if it is
// damaged. A crash between storeHead's two stores leaves the first copy
// one step ahead of the second, both intact: the first is the head. Any
// other difference is damage: so are a copy that fails its check, and a
// second copy ahead of the first. A version 1 file has one plain head.
func (s *Spool) loadHead(fileVersion uint32) (uint64, bool) {
	if fileVersion == 1 {
		return s.hdr64(hHead) &^ 7, true
	}
	a, okA := unpackHead(s.hdr64(hHead))
	b, okB := unpackHead(s.hdr64(hHead2))
	if !okA || !okB || a < b {
		return 0, false
	}
	return a, true
}

// packHead packs a head (a multiple of 8, below 2^59) into 56 bits and an
// 8-bit check of them, so that one 8-byte store writes both. The check of
// zero is not zero, so a zeroed field is damage.
func packHead(head uint64) uint64 {
	x := head >> 3
	return x | uint64(headCheck(x))<<56
}

func unpackHead(v uint64) (uint64, bool) {
	x := v & (1<<56 - 1)
	return x << 3, uint8(v>>56) == headCheck(x)
}

// headCheck mixes the 56 bits (a multiply and xor-shifts, so that every
// bit of x reaches the top byte) and keeps 8: a damaged field passes with
// odds of 1 in 256, a zeroed one never.
func headCheck(x uint64) uint8 {
	x *= 0x9e3779b97f4a7c15
	x ^= x >> 29
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 32
	return uint8(x>>56) ^ 0xa5
}

// scanHead finds the head again when the header's copies of it are
// damaged, from the frames themselves: every record holds its own logical
// offset, and released and evicted records are dead frames. It reads the
// whole ring, 8 bytes at a time, for intact records (and dead frames that
// hold their offset); the newest end among them is the tail, and the head
// is the oldest record within a ring's length of it that is not dead (the
// tail if there is none). A record released by a version 1 binary, which
// did not mark released records dead, comes back.
func (s *Spool) scanHead() uint64 {
	var top uint64
	found := func(p uint64, f func(off, size uint64)) {
		m := uint32(s.word(p))
		off := s.u64(p + rOff)
		if off%s.size != p || off >= 1<<59 {
			return
		}
		switch m {
		case recMagic, oolMagic:
			if size, ok := s.check(off, off+s.size); ok {
				f(off, size)
			}
		case deadMagic:
			if size := s.word(p) >> 32; size >= 16 && size%8 == 0 && size <= s.size {
				top = max(top, off+size)
			}
		}
	}
	for p := uint64(0); p < s.size; p += 8 {
		found(p, func(off, size uint64) { top = max(top, off+size) })
	}
	head := top
	low := uint64(0)
	if top > s.size {
		low = top - s.size
	}
	for p := uint64(0); p < s.size; p += 8 {
		found(p, func(off, _ uint64) {
			if off >= low {
				head = min(head, off)
			}
		})
	}
	return head
}

// reset empties the in-memory state, with head and tail at head.
func (s *Spool) reset(head uint64) {
	s.head, s.rd, s.tail, s.evPos = head, head, head, head
	s.n, s.live, s.replayed = 0, 0, 0
	s.ool, s.oolRd, s.oolGone, s.evIdx = s.ool[:0], 0, 0, 0
	s.reading = s.reading[:0]
	s.holeEnd, s.holeStart = map[uint64]uint64{}, map[uint64]uint64{}
	s.lastHole = noHole
	s.evBelow = math.MinInt32
}
