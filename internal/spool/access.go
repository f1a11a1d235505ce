package spool

import (
	"encoding/binary"
	"hash/crc32"
	"math/bits"
	"sync/atomic"
	"unsafe"
)

// Byte access to the ring by logical offset. Records are 8-byte aligned
// and the ring's size is a multiple of 8, so no header field is ever cut by
// the ring's end; only the message and encoded bytes can be.

func (s *Spool) u32(x uint64) uint32 { return binary.LittleEndian.Uint32(s.ring[x%s.size:]) }
func (s *Spool) u64(x uint64) uint64 { return binary.LittleEndian.Uint64(s.ring[x%s.size:]) }
func (s *Spool) put64(x uint64, v uint64) {
	binary.LittleEndian.PutUint64(s.ring[x%s.size:], v)
}

// word loads the first 8 bytes of the frame at logical offset x (magic and
// CRC, or magic and size), with one aligned load.
func (s *Spool) word(x uint64) uint64 {
	v := *(*uint64)(unsafe.Pointer(&s.ring[x%s.size]))
	if !littleEndian {
		v = bits.ReverseBytes64(v)
	}
	return v
}

// setWord stores the first 8 bytes of the frame at logical offset x with
// one aligned store: what makes a frame appear, die or change size. A
// plain store is enough: only a later process reads the mapping, after
// this one ended, and a signal ends it between two instructions, with
// every store before it in the page cache and none after; the compiler
// keeps stores to memory in program order and does not split an aligned
// 8-byte one. (An atomic store would add a locked instruction, about 20
// cycles, to every Append.)
func (s *Spool) setWord(x, v uint64) {
	if s.beforeStore != nil {
		s.beforeStore()
	}
	if !littleEndian {
		v = bits.ReverseBytes64(v)
	}
	*(*uint64)(unsafe.Pointer(&s.ring[x%s.size])) = v
}

func (s *Spool) hdr64(off int) uint64 {
	v := atomic.LoadUint64((*uint64)(unsafe.Pointer(&s.mem[off])))
	if !littleEndian {
		v = bits.ReverseBytes64(v)
	}
	return v
}

// putHdr64 stores a header field with one aligned 8-byte store.
func (s *Spool) putHdr64(off int, v uint64) {
	if s.beforeStore != nil {
		s.beforeStore()
	}
	if !littleEndian {
		v = bits.ReverseBytes64(v)
	}
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&s.mem[off])), v)
}

// copyIn copies b to logical offset x and returns the offset after it.
func (s *Spool) copyIn(x uint64, b []byte) uint64 {
	p := x % s.size
	c := uint64(copy(s.ring[p:], b))
	copy(s.ring, b[c:])
	return x + uint64(len(b))
}

func (s *Spool) copyInString(x uint64, b string) uint64 {
	p := x % s.size
	c := uint64(copy(s.ring[p:], b))
	copy(s.ring, b[c:])
	return x + uint64(len(b))
}

// copyOut fills b with the bytes at logical offset x.
func (s *Spool) copyOut(b []byte, x uint64) {
	p := x % s.size
	c := copy(b, s.ring[p:])
	copy(b[c:], s.ring)
}

// appendOut appends the n bytes at logical offset x to b.
func (s *Spool) appendOut(b []byte, x, n uint64) []byte {
	p := x % s.size
	first := min(n, s.size-p)
	b = append(b, s.ring[p:p+first]...)
	return append(b, s.ring[:n-first]...)
}

// crc updates crc with the n bytes at logical offset x.
func (s *Spool) crc(crc uint32, x, n uint64) uint32 {
	p := x % s.size
	first := min(n, s.size-p)
	crc = crc32.Update(crc, castagnoli, s.ring[p:p+first])
	if first == n {
		return crc // no wrap: the call for nothing costs a record a few ns
	}
	return crc32.Update(crc, castagnoli, s.ring[:n-first])
}
