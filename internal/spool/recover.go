package spool

import (
	"cmp"
	"slices"
)

// Reading back what an earlier process left: the walk from the head that
// frames every record, resynchronising past damage.

// recover finds the records an earlier process left between head and
// either the tail it recorded at a clean Close or a whole ring further.
// It moves nothing: a damaged run of bytes is turned into a dead frame in
// place, with stores each of which leaves the spool readable, so a kill
// during Open loses nothing either.
func (s *Spool) recover(fileVersion uint32) {
	head, ok := s.loadHead(fileVersion)
	if !ok {
		head = s.scanHead()
		s.damage.Head = true
	}
	end := head + s.size
	if ok && s.hdr64(hClean) == 1 {
		if t := s.hdr64(hTail); t >= head && t <= end {
			end = t
		}
	}
	s.putHdr64(hClean, 0)
	s.reset(head)
	pos, last := head, head
	gap := false
	var gapStart uint64
	for pos+8 <= end {
		magic, size, ok := s.frame(pos, end, !gap)
		if !ok {
			if !gap {
				gap, gapStart = true, pos
			}
			pos += 8
			continue
		}
		if gap {
			s.damage.Regions++
			s.damage.Bytes += int64(pos - gapStart)
			s.markDead(gapStart, pos)
			gap = false
		}
		switch magic {
		case recMagic:
			s.n++
			s.live += size
		case oolMagic:
			s.n++
			s.live += size
			s.ool = append(s.ool, oolRec{pos, s.u64(pos + rSeq)})
		case deadMagic:
			s.addHole(pos, pos+size)
		case resMagic, resOolMagic:
			// A record whose writer died before its Commit: its log call
			// never returned, as with an Append cut short, which leaves
			// no record either. Not damage: nothing was corrupted.
			s.setWord(pos, deadWord(size))
			s.addHole(pos, pos+size)
		}
		pos += size
		last = pos
	}
	if m := s.u32(gapStart + rMagic); gap && (m == recMagic || m == oolMagic) && s.u64(gapStart+rOff) == gapStart {
		// A record was begun here and nothing intact follows: a torn
		// tail, or the end of the ring cut off by a truncation.
		claimed := uint64(s.u32(gapStart + rSize))
		s.damage.Regions++
		s.damage.Bytes += int64(min(max(claimed, recHeader), end-gapStart))
	}
	s.tail = last
	slices.SortFunc(s.ool, func(a, b oolRec) int { return cmp.Compare(a.seq, b.seq) })
	s.lastHole = noHole
	s.advanceHead()
	if !ok || fileVersion != version {
		s.storeHead(s.head)
	}
	s.rd, s.evPos = s.head, s.head
	s.skipToInLine(&s.rd)
	s.skipToInLine(&s.evPos)
	s.replayed = s.n
}

// frame returns the kind and size of the frame at logical offset pos, and
// false if there is no intact current frame there ending by end. In a
// walk from head (inWalk) a dead frame is taken on its magic and size: the
// frame before it said where it starts. When resynchronising after damage,
// one counts only if it holds its own offset, as every dead frame of 16
// bytes or more that was a record or was written by recover does, so that
// a stale one from an earlier lap never passes for current.
func (s *Spool) frame(pos, end uint64, inWalk bool) (magic uint32, size uint64, ok bool) {
	w := s.word(pos)
	magic = uint32(w)
	switch magic {
	case recMagic, oolMagic:
		if pos+recHeader > end {
			return 0, 0, false
		}
		size, ok = s.check(pos, end)
		return magic, size, ok
	case deadMagic:
		size = w >> 32
		if size < 8 || size%8 != 0 || size > end-pos || !inWalk && (size < 16 || s.u64(pos+rOff) != pos) {
			return 0, 0, false
		}
		return magic, size, true
	case resMagic, resOolMagic:
		// Reserved and never committed: its header (offset first) was
		// written before this word.
		size = w >> 32
		if size < recHeader || size%8 != 0 || size > end-pos || s.u64(pos+rOff) != pos || uint64(s.u32(pos+rSize)) != size {
			return 0, 0, false
		}
		return magic, size, true
	}
	return 0, 0, false
}

// check returns the size of the record at logical offset pos, and false if
// there is no intact current record there ending by end.
func (s *Spool) check(pos, end uint64) (uint64, bool) {
	if s.u64(pos+rOff) != pos {
		return 0, false
	}
	size := uint64(s.u32(pos + rSize))
	body := uint64(recHeader) + uint64(s.u32(pos+rMsgLen)) + uint64(s.u32(pos+rEncLen))
	if size < recHeader || size%8 != 0 || size > end-pos || body > size || size-body >= 8 {
		return 0, false
	}
	if s.crc(0, pos+8, body-8) != uint32(s.word(pos)>>32) {
		return 0, false
	}
	return size, true
}

// frameSize returns the size of the frame at pos, which must be intact.
func (s *Spool) frameSize(pos uint64) uint64 {
	w := s.word(pos)
	if uint32(w) == deadMagic {
		return w >> 32
	}
	return uint64(s.u32(pos + rSize))
}
