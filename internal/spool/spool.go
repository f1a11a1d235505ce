package spool

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"
)

// ErrInUse is wrapped by the error [Open] returns when another Spool, in
// this process or in another one, has the directory open.
var ErrInUse = errors.New("spool: directory in use")

// ErrClosed is wrapped by the errors of methods called after [Spool.Close].
var ErrClosed = errors.New("spool: closed")

// ErrUnsupported is wrapped by the error [Open] returns on a platform
// without the memory mappings and file locks a Spool needs. It wraps
// [errors.ErrUnsupported].
var ErrUnsupported = fmt.Errorf("spool: no mmap and flock on this platform: %w", errors.ErrUnsupported)

const (
	headerSize = 4096 // the header page before the ring
	recHeader  = 48   // the fixed part of a record
	pageSize   = 4096 // capacities are rounded up to a multiple of this
	version    = 2    // 1: no out-of-line or dead frames; read as 2

	fileMagic = "ASYNCSPL"
	recMagic  = 0x4c505341 // "ASPL" little-endian: a record, in line
	oolMagic  = 0x4f505341 // "ASPO": a record placed out of line, in a hole
	deadMagic = 0x44505341 // "ASPD": dead bytes (evicted, released or damaged)

	// maxFrame is the largest size a frame's 32-bit size field holds.
	maxFrame = 1<<32 - 8

	// header page fields
	hMagic   = 0
	hVersion = 8
	hHdrSize = 12
	hCap     = 16
	hCRC     = 24
	hHead    = 32 // head, packed with a check (packHead)
	hTail    = 40
	hClean   = 48
	hHead2   = 56 // its copy

	// record header fields
	rMagic  = 0
	rCRC    = 4
	rOff    = 8
	rSeq    = 16
	rTime   = 24
	rLevel  = 32
	rSize   = 36
	rMsgLen = 40
	rEncLen = 44

	lockName  = "lock"
	dataName  = "data"
	crashName = "crash"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// littleEndian says whether the machine stores integers little-endian, so
// that the atomic head store can keep the file's byte order.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// Record is one record as the queue stored it, copied out of the spool by
// [Spool.Read].
type Record struct {
	Seq     uint64 // the queue's sequence number
	Level   int32  // slog scale
	Time    int64  // unix nanoseconds
	Message string
	Encoded []byte // the front end's encoding
}

// Meta is what [Spool.Evict] tells about the record it removed.
type Meta struct {
	Seq   uint64
	Level int32
	Time  int64 // unix nanoseconds
	Size  int64 // bytes the record took in the ring
}

// Damage is what [Open] skipped while it read back an earlier process's
// records. Its zero value means nothing was skipped.
type Damage struct {
	// Regions counts the runs of bytes that did not frame as intact
	// records: each may have held one or several records, or the start of
	// one that a crash or a truncation cut short.
	Regions int
	// Bytes is the total size of those runs.
	Bytes int64
	// Truncated is how many bytes were missing from the end of the data
	// file (a file cut short): they read as zeros, and the records they
	// held are lost, counted in Regions and Bytes where a record's start
	// survived.
	Truncated int64
	// Header is true if the header page was unreadable, so the data file
	// was started afresh and everything in it is lost (Bytes is then the
	// old file's size).
	Header bool
	// Head is true if the head field (where the oldest record not released
	// starts) was damaged, and found again by reading the whole ring: no
	// record is lost or delivered twice for it, but a file also written by
	// a version 1 binary may deliver again records that binary released.
	Head bool
}

// Err returns nil if d is the zero Damage, else an error describing it,
// ready for the queue's OnError.
func (d Damage) Err() error {
	if d == (Damage{}) {
		return nil
	}
	if d.Header {
		return fmt.Errorf("spool: header damaged: data file reset, %d bytes lost", d.Bytes)
	}
	var errs []error
	if d.Head {
		errs = append(errs, errors.New("spool: head field damaged: found again by reading the whole ring"))
	}
	switch {
	case d.Truncated > 0:
		errs = append(errs, fmt.Errorf("spool: data file cut short by %d bytes; skipped %d damaged regions (%d bytes)", d.Truncated, d.Regions, d.Bytes))
	case d.Regions > 0 || d.Bytes > 0:
		errs = append(errs, fmt.Errorf("spool: skipped %d damaged regions (%d bytes)", d.Regions, d.Bytes))
	}
	return errors.Join(errs...)
}

// Crash is an earlier run's crash report, as the runtime wrote it to the
// file [Spool.ArmCrashOutput] set up.
type Crash struct {
	Text string    // the report: the panic or fatal error, then the goroutine stacks
	Time time.Time // when it was written (the file's modification time)
}

// Spool is a bounded ring of records in a memory-mapped file. Create one
// with [Open]. The queue uses it like this, every call under its mutex:
//
//	s, err := spool.Open(dir, 64<<20) // Options.SpoolBytes' default
//	// producer, on the log call's goroutine; a record larger than
//	// s.Cap() (see RecordSize) never fits and is dropped at once:
//	for !s.Fits(len(msg), len(enc)) {
//		if _, ok := s.Evict(keep); !ok { // drop the oldest unread below keep,
//			break // or this one: nothing below keep is unread
//		}
//	}
//	sl, _ := s.Reserve(seq, level, now, len(msg), len(enc))
//	// after Unlock: the copy and the checksum, out of the mutex
//	sl.Commit(msg, enc)
//	// consumer: Claim a batch under the mutex, ReadAt each record and
//	// write them to the sink without it, then Release(len(batch)) under it.
//	// main's end: Close(true) once the queue drained.
//
// Append (Reserve and Commit at once) and Read (Claim and ReadAt) do the
// same under the mutex. Replayed records (those an earlier process left)
// come first from Read and Claim.
//
// Append, Reserve, Fits, Read, Claim, Release, Evict, Sync, Close,
// ArmCrashOutput and the accessors Len, Unread, Used, NextSeq, LastSeq and
// Cap must not run concurrently with each other or themselves: the caller
// (the queue) serialises them with its own mutex; Spool has no lock of its
// own. [Slot.Commit] and [Spool.ReadAt] are the exceptions their comments
// state.
// Replayed, Damage, CrashReport, Dir never change after Open and may be
// called from any goroutine.
type Spool struct {
	dir   string
	lockF *os.File
	data  *os.File
	mem   []byte // the whole mapping: header page, then ring
	ring  []byte // mem[headerSize:]
	size  uint64 // len(ring)

	// The frames between head and tail tile the ring: records in line, in
	// the order of their sequence numbers; records out of line, placed in
	// holes; and dead frames. head and rd rest on a frame that is not
	// dead (or on tail); rd and evPos on a record in line (or on tail).
	head uint64 // logical offset of the oldest frame not dead
	rd   uint64 // logical offset of the oldest record in line not read
	tail uint64 // logical offset after the newest frame in line
	n    int    // records not released
	live uint64 // bytes of those records

	ool     []oolRec // records out of line not yet read, in seq order, from oolRd
	oolRd   int
	oolGone int      // entries of ool[oolRd:] whose record was evicted
	reading []uint64 // records read and not released, in the order read

	// holes are the runs of dead frames between head and tail, each with
	// one dead frame at its start spanning it: start to end and back.
	holeEnd   map[uint64]uint64
	holeStart map[uint64]uint64
	lastHole  uint64 // start of the hole Evict last grew, or noHole

	// Evict's resumable search: no unread record below evBelow lies in
	// line in [rd, evPos) or out of line in ool[oolRd:evIdx].
	evBelow int32
	evPos   uint64
	evIdx   int

	replayed int
	damage   Damage
	crash    Crash
	msg      []byte // Read's scratch for a message split by the ring's end

	beforeStore func() // tests: called before each store of a word or a header field
}

// oolRec is a record out of line: where it is and its sequence number;
// pos is noHole once it was evicted.
type oolRec struct{ pos, seq uint64 }

const noHole = math.MaxUint64

// RecordSize returns the bytes a record with a message of msgLen bytes and
// an encoding of encLen bytes takes in the ring. A record larger than
// [Spool.Cap] never fits.
func RecordSize(msgLen, encLen int) int64 {
	return int64(align8(uint64(recHeader) + uint64(msgLen) + uint64(encLen)))
}

func align8(x uint64) uint64 { return (x + 7) &^ 7 }

// Open opens the spool in dir, creating dir and the spool if needed, and
// locks it for this Spool until [Spool.Close] or the process's end. If
// another Spool has dir open, in this process or another, Open returns an
// error wrapping [ErrInUse]; on a platform without mmap and flock, one
// wrapping [ErrUnsupported].
//
// capacity is the ring's size in bytes, rounded up to a multiple of 4096;
// the data file is 4096 bytes larger. An existing spool keeps its own
// capacity while it holds records, so that none is lost (Cap reports it);
// an existing spool with no records is recreated with the new capacity.
//
// Every intact record an earlier process left unreleased is available to
// [Spool.Read] first, in order; [Spool.Replayed] counts them. Damaged bytes
// never make Open fail: they are skipped, the records around them kept, and
// [Spool.Damage] says what was skipped. An earlier run's crash report is
// taken from dir and available through [Spool.CrashReport].
func Open(dir string, capacity int64) (*Spool, error) {
	if capacity <= 0 {
		return nil, fmt.Errorf("spool: capacity %d: must be positive", capacity)
	}
	if !supported {
		return nil, ErrUnsupported
	}
	want := (uint64(capacity) + pageSize - 1) &^ (pageSize - 1)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	lockF, err := lockFile(filepath.Join(dir, lockName))
	if err != nil {
		return nil, err
	}
	s := &Spool{dir: dir, lockF: lockF}
	if err := s.open(want); err != nil {
		s.unmapClose()
		return nil, err
	}
	return s, nil
}

func (s *Spool) open(want uint64) error {
	f, err := os.OpenFile(filepath.Join(s.dir, dataName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("spool: open data: %w", err)
	}
	s.data = f
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("spool: stat data: %w", err)
	}
	var hdr [headerSize]byte
	var size uint64
	if fi.Size() > 0 {
		if _, err := f.ReadAt(hdr[:], 0); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("spool: read header: %w", err)
		}
		var ok bool
		if size, ok = checkHeader(hdr[:]); !ok {
			s.damage = Damage{Header: true, Bytes: fi.Size()}
		}
	}
	if size == 0 {
		return s.create(want)
	}
	if fi.Size() < int64(headerSize+size) {
		// Cut short: the missing bytes read as zeros and recovery
		// reports the records they cut.
		s.damage.Truncated = int64(headerSize+size) - fi.Size()
		if err := f.Truncate(int64(headerSize + size)); err != nil {
			return fmt.Errorf("spool: extend data: %w", err)
		}
		if err := preallocate(f, int64(headerSize+size)); err != nil {
			return err
		}
	}
	if err := s.mapData(size); err != nil {
		return err
	}
	s.recover(binary.LittleEndian.Uint32(hdr[hVersion:]))
	if binary.LittleEndian.Uint32(hdr[hVersion:]) != version {
		// A version 1 file reads as version 2; from now on it may hold
		// frames version 1 does not know.
		s.writeStatic(size)
	}
	if s.n == 0 && size != want {
		if err := s.unmap(); err != nil {
			return err
		}
		return s.create(want)
	}
	s.takeCrash()
	return nil
}

// checkHeader returns the ring size a header page states, and false if the
// page is not a valid header.
func checkHeader(h []byte) (uint64, bool) {
	le := binary.LittleEndian
	if v := le.Uint32(h[hVersion:]); string(h[hMagic:hMagic+8]) != fileMagic || v != version && v != 1 ||
		le.Uint32(h[hHdrSize:]) != headerSize || le.Uint32(h[hCRC:]) != crc32.Checksum(h[:hCRC], castagnoli) {
		return 0, false
	}
	size := le.Uint64(h[hCap:])
	// A head beyond 2^62 would take exabytes of records: only damage
	// puts it there, and offsets near 2^64 would wrap.
	if size == 0 || size%8 != 0 || size > 1<<48 {
		return 0, false
	}
	return size, true
}

// create starts the data file afresh with a ring of size bytes.
func (s *Spool) create(size uint64) error {
	// Truncating to zero first drops every stale record, so none can pass
	// for a current one at logical offset 0.
	if err := s.data.Truncate(0); err != nil {
		return fmt.Errorf("spool: reset data: %w", err)
	}
	if err := s.data.Truncate(int64(headerSize + size)); err != nil {
		return fmt.Errorf("spool: size data: %w", err)
	}
	if err := preallocate(s.data, int64(headerSize+size)); err != nil {
		// An empty file is a new spool to the next Open, not damage.
		_ = s.data.Truncate(0)
		return err
	}
	if _, err := s.data.WriteAt(staticHeader(size), 0); err != nil {
		return fmt.Errorf("spool: write header: %w", err)
	}
	if err := s.mapData(size); err != nil {
		return err
	}
	s.reset(0)
	s.storeHead(0)
	s.takeCrash()
	return nil
}

// staticHeader returns the header fields that never change after create.
func staticHeader(size uint64) []byte {
	h := make([]byte, hHead)
	le := binary.LittleEndian
	copy(h[hMagic:], fileMagic)
	le.PutUint32(h[hVersion:], version)
	le.PutUint32(h[hHdrSize:], headerSize)
	le.PutUint64(h[hCap:], size)
	le.PutUint32(h[hCRC:], crc32.Checksum(h[:hCRC], castagnoli))
	return h
}

// writeStatic rewrites the static header fields in the mapping.
func (s *Spool) writeStatic(size uint64) { copy(s.mem, staticHeader(size)) }

func (s *Spool) mapData(size uint64) error {
	mem, err := mapFile(s.data, int(headerSize+size))
	if err != nil {
		return err
	}
	s.mem, s.ring, s.size = mem, mem[headerSize:], size
	return nil
}

func (s *Spool) unmap() error {
	if s.mem == nil {
		return nil
	}
	err := unmapFile(s.mem)
	s.mem, s.ring = nil, nil
	if err != nil {
		return fmt.Errorf("spool: unmap: %w", err)
	}
	return nil
}

// unmapClose releases everything Open took, for an Open that fails.
func (s *Spool) unmapClose() {
	_ = s.unmap()
	if s.data != nil {
		_ = s.data.Close()
	}
	_ = s.lockF.Close()
}

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

// markDead turns the bytes from a to e into dead frames, each at most
// maxFrame long: its offset first, then its first word, one store each.
func (s *Spool) markDead(a, e uint64) {
	for a < e {
		n := min(e-a, maxFrame)
		if n >= 16 {
			s.put64(a+rOff, a)
		}
		s.setWord(a, deadWord(n))
		a += n
	}
}

func deadWord(size uint64) uint64 { return deadMagic | size<<32 }

// addHole records the dead frame from a to e, joining it to the holes
// just before and after it: the first frame of the joined hole is
// rewritten, with one store, to span it (a walk before the store steps
// through the frames, after it jumps over them). A hole is never longer
// than maxFrame.
func (s *Spool) addHole(a, e uint64) {
	if st, ok := s.holeStart[a]; ok && e-st <= maxFrame {
		delete(s.holeStart, a)
		delete(s.holeEnd, st)
		a = st
	}
	if en, ok := s.holeEnd[e]; ok && en-a <= maxFrame {
		delete(s.holeEnd, e)
		delete(s.holeStart, en)
		e = en
	}
	if s.frameSize(a) != e-a {
		s.setWord(a, deadWord(e-a))
	}
	s.holeEnd[a], s.holeStart[e] = e, a
	s.lastHole = a
}

// advanceHead moves head past the dead frames at it, forgetting their
// holes, and stores it with one aligned store.
func (s *Spool) advanceHead() {
	h := s.head
	for h != s.tail && uint32(s.word(h)) == deadMagic {
		if len(s.holeEnd) == 0 {
			// no hole to forget: the common case, a released batch
		} else if e, ok := s.holeEnd[h]; ok {
			delete(s.holeEnd, h)
			delete(s.holeStart, e)
			if s.lastHole == h {
				s.lastHole = noHole
			}
		}
		h += s.word(h) >> 32
	}
	if h == s.head {
		return
	}
	s.head = h
	s.storeHead(h)
	if s.rd < h {
		s.rd = h
		s.skipToInLine(&s.rd)
	}
	if s.evPos < s.rd {
		s.evPos = s.rd
	}
}

// inLine reports whether w is the first word of a record in line,
// committed or reserved.
func inLine(w uint64) bool {
	m := uint32(w)
	return m == recMagic || m == resMagic
}

// skipToInLine moves *x past dead frames and records out of line, to the
// next record in line or to tail.
func (s *Spool) skipToInLine(x *uint64) {
	for *x != s.tail && !inLine(s.word(*x)) {
		*x += s.frameSize(*x)
	}
}

// Fits reports whether a record with a message of msgLen bytes and an
// encoding of encLen bytes fits now, so that Append would store it: in
// line, after the newest record, or out of line, in the hole Evict last
// made or grew. A record larger than [Spool.Cap] never fits.
func (s *Spool) Fits(msgLen, encLen int) bool {
	_, ok := s.place(uint64(RecordSize(msgLen, encLen)))
	return ok
}

// Room returns the size in the ring (see [RecordSize]) of the largest
// record that fits now: the room after the newest record, or in the hole
// the last Evict made or grew, whichever is larger.
func (s *Spool) Room() int64 {
	if s.ring == nil {
		return 0
	}
	room := s.size - (s.tail - s.head)
	if e, ok := s.holeEnd[s.lastHole]; ok {
		room = max(room, e-s.lastHole)
	}
	return int64(min(room, maxFrame))
}

// place returns where a record of size bytes goes: tail, or the end of the
// last hole; false if neither has room.
func (s *Spool) place(size uint64) (uint64, bool) {
	if s.ring == nil || size > s.size || size > maxFrame {
		return 0, false
	}
	if size <= s.size-(s.tail-s.head) {
		return s.tail, true
	}
	if e, ok := s.holeEnd[s.lastHole]; ok && e-s.lastHole >= size {
		return e - size, true
	}
	return 0, false
}

// Append stores one record and returns true, or returns false and stores
// nothing if it does not fit now (see [Spool.Fits]). When it returns true
// the record is in the mapping, so it outlives the process. It does not
// allocate, but to note a record placed out of line, and keeps neither msg
// nor enc.
//
// A record in line is written after the newest one with its first word
// (magic and CRC) cleared, and that word is stored last, with one aligned
// store. A record out of line is written at the end of a hole, whose dead
// first frame still spans it, and then the dead frame is shortened with
// one store (or, when the record fills the hole, the record's first word
// replaces the dead one): at every instant the ring reads as the records
// before the call, or as those and the new one.
func (s *Spool) Append(seq uint64, level int32, unixNano int64, msg string, enc []byte) bool {
	sl, ok := s.Reserve(seq, level, unixNano, len(msg), len(enc))
	if !ok {
		return false
	}
	sl.Commit(msg, enc)
	return true
}

// next returns the record Read would return: in line at rd, or out of
// line at ool[oolRd], whichever has the lower seq; ok is false if every
// record has been read.
func (s *Spool) next() (pos uint64, outOfLine, ok bool) {
	for s.oolRd < len(s.ool) && s.ool[s.oolRd].pos == noHole {
		s.oolRd++
		s.oolGone--
	}
	o := s.oolRd < len(s.ool)
	if s.rd == s.tail {
		if !o {
			return 0, false, false
		}
		return s.ool[s.oolRd].pos, true, true
	}
	if o && s.ool[s.oolRd].seq < s.u64(s.rd+rSeq) {
		return s.ool[s.oolRd].pos, true, true
	}
	return s.rd, false, true
}

// Read copies the oldest record not yet read into r and returns true, or
// returns false if every record has been read. The record stays in the
// spool, and is read again by the next process to open it, until
// [Spool.Release] removes it. Read reuses r.Encoded's array and keeps
// r.Message when it already holds the same text, so a reused Record costs
// an allocation only for a new message or a longer encoding. Nothing in r
// refers to the mapping.
func (s *Spool) Read(r *Record) bool {
	if s.ring == nil {
		return false
	}
	pos, ok := s.claim()
	if !ok {
		return false
	}
	s.ReadAt(pos, r)
	return true
}

// Release removes the n oldest records that were read, once the sink has
// them. Each is turned into a dead frame with one aligned store, then head
// moves past the dead frames at it, with one more: a crash keeps some of
// the n, never another record. Their room is free for Append when it
// returns if head passed them, else it joins the holes. Release returns an
// error, and removes nothing, if fewer than n records were read and not
// released.
func (s *Spool) Release(n int) error {
	if s.ring == nil {
		return fmt.Errorf("spool: release: %w", ErrClosed)
	}
	if n < 0 || n > len(s.reading) {
		return fmt.Errorf("spool: release %d of %d read records", n, len(s.reading))
	}
	for _, pos := range s.reading[:n] {
		size := uint64(s.u32(pos + rSize))
		s.setWord(pos, deadWord(size))
		s.live -= size
	}
	s.n -= n
	s.advanceHead()
	for _, pos := range s.reading[:n] {
		if pos >= s.head {
			s.addHole(pos, pos+s.frameSize(pos))
		}
	}
	k := copy(s.reading, s.reading[n:])
	s.reading = s.reading[:k]
	return nil
}

// Evict removes the oldest record not yet read whose level is below below
// (pass math.MaxInt32 for the oldest unread record of any level), and
// tells what it removed; it returns false if no unread record is below
// below.
//
// The record becomes a dead frame with one aligned store of its first
// word, and joins the holes beside it; nothing else moves, so a crash at
// any instant keeps every other record, and the cost does not grow with
// the records in front of it. Its room is free for Append at once if it
// was at head; otherwise a record that fits in its hole (and the holes
// beside it) is placed there, out of line, and the rest of the room comes
// back when head passes it. The search for the record resumes where the
// last one with the same below stopped, so a run of Evicts passes over
// each kept record once.
func (s *Spool) Evict(below int32) (Meta, bool) {
	if s.ring == nil {
		return Meta{}, false
	}
	if below != s.evBelow {
		s.evBelow, s.evPos, s.evIdx = below, s.rd, s.oolRd
	}
	if s.evPos < s.rd {
		s.evPos = s.rd
	}
	s.evIdx = max(s.evIdx, s.oolRd)
	for s.evPos != s.tail && int32(s.u32(s.evPos+rLevel)) >= below {
		s.evPos += uint64(s.u32(s.evPos + rSize))
		s.skipToInLine(&s.evPos)
	}
	for s.evIdx < len(s.ool) && (s.ool[s.evIdx].pos == noHole || int32(s.u32(s.ool[s.evIdx].pos+rLevel)) >= below) {
		s.evIdx++
	}
	var v uint64
	switch {
	case s.evIdx < len(s.ool) && (s.evPos == s.tail || s.ool[s.evIdx].seq < s.u64(s.evPos+rSeq)):
		v = s.ool[s.evIdx].pos
		s.ool[s.evIdx].pos = noHole
		s.evIdx++
		s.oolGone++
		if s.oolGone > 64 && s.oolGone > (len(s.ool)-s.oolRd)/2 {
			s.compact()
		}
	case s.evPos != s.tail:
		v = s.evPos
	default:
		return Meta{}, false
	}
	s.awaitCommit(v) // its Commit would store over the dead word
	e := uint64(s.u32(v + rSize))
	m := Meta{Seq: s.u64(v + rSeq), Level: int32(s.u32(v + rLevel)), Time: int64(s.u64(v + rTime)), Size: int64(e)}
	s.setWord(v, deadWord(e))
	s.n--
	s.live -= e
	if v == s.rd {
		s.skipToInLine(&s.rd)
	}
	if v == s.evPos {
		s.skipToInLine(&s.evPos)
	}
	if v == s.head {
		s.advanceHead() // its room is free at once: no hole
	} else {
		s.addHole(v, v+e)
	}
	return m, true
}

// compact drops from ool the entries read and those evicted, keeping
// Evict's place: a copy of the live entries, 16 bytes each, done when the
// dropped ones are as many, so each Evict or Read pays for it once.
func (s *Spool) compact() {
	w, ev := 0, -1
	if s.evIdx <= s.oolRd {
		ev = 0
	}
	for i := s.oolRd; i < len(s.ool); i++ {
		if ev < 0 && i == s.evIdx {
			ev = w
		}
		if s.ool[i].pos != noHole {
			s.ool[w] = s.ool[i]
			w++
		}
	}
	if ev < 0 {
		ev = w
	}
	s.ool, s.oolRd, s.oolGone, s.evIdx = s.ool[:w], 0, 0, ev
}

// Len returns the number of records not released, read or not.
func (s *Spool) Len() int { return s.n }

// NextSeq returns the sequence number of the oldest record not yet read,
// and false if every record has been read.
func (s *Spool) NextSeq() (uint64, bool) {
	if s.ring == nil {
		return 0, false
	}
	pos, _, ok := s.next()
	if !ok {
		return 0, false
	}
	return s.u64(pos + rSeq), true
}

// LastSeq returns the sequence number of the newest record not released,
// and false if there is none. It walks the frames: Open's callers use it
// once, to number new records after the replayed ones.
func (s *Spool) LastSeq() (uint64, bool) {
	if s.ring == nil || s.n == 0 {
		return 0, false
	}
	var last uint64
	for x := s.head; x != s.tail; x += s.frameSize(x) {
		if uint32(s.word(x)) != deadMagic {
			last = max(last, s.u64(x+rSeq))
		}
	}
	return last, true
}

// Unread returns the number of records not yet read.
func (s *Spool) Unread() int { return s.n - len(s.reading) }

// Used returns the bytes the records not released take in the ring. The
// dead frames between them (evicted records not yet passed by head) are
// not counted: see [Spool.Fits] for what fits.
func (s *Spool) Used() int64 { return int64(s.live) }

// Cap returns the ring's size in bytes: the capacity Open was given,
// rounded up to a multiple of 4096, or an existing spool's own capacity.
func (s *Spool) Cap() int64 { return int64(s.size) }

// Replayed returns the number of records Open found left by an earlier
// process.
func (s *Spool) Replayed() int { return s.replayed }

// Damage returns what Open skipped as damaged; see [Damage].
func (s *Spool) Damage() Damage { return s.damage }

// CrashReport returns the crash report an earlier run left in the
// directory, which Open read, and false if there was none. The file stays
// until [Spool.RemoveCrashReport].
func (s *Spool) CrashReport() (Crash, bool) { return s.crash, s.crash.Text != "" }

// Dir returns the directory Open was given.
func (s *Spool) Dir() string { return s.dir }

// Sync writes the mapping back to the disk and waits for it (fsync of the
// data file): the records appended so far then survive a power loss too.
// It costs a disk flush; see the package doc for a measured figure.
func (s *Spool) Sync() error {
	if s.ring == nil {
		return fmt.Errorf("spool: sync: %w", ErrClosed)
	}
	if err := s.data.Sync(); err != nil {
		return fmt.Errorf("spool: sync: %w", err)
	}
	return nil
}

// Close unmaps the spool and unlocks its directory. With clean true it
// first records the tail in the header, so that the next Open reads only
// what is stored instead of scanning the whole ring; with clean false it
// leaves the file as a crash would. Either way every record not released
// is read again by the next Open, and after everything was released the
// next Open finds nothing. If this Spool armed the crash output, Close
// disarms it. The Spool must not be used after Close; a second Close
// returns an error wrapping [ErrClosed].
func (s *Spool) Close(clean bool) error {
	if s.ring == nil {
		return fmt.Errorf("spool: close: %w", ErrClosed)
	}
	committed := s.awaitAllCommits()
	if clean {
		s.putHdr64(hTail, s.tail)
		s.putHdr64(hClean, 1)
	}
	errs := []error{s.disarm()}
	if committed {
		errs = append(errs, s.unmap())
	} else {
		// The mapping stays for the Commit still writing to it (a
		// goroutine stalled past closeCommitWait), until the process ends.
		errs = append(errs, fmt.Errorf("spool: close: a Commit still under way after %v: the file stays mapped", closeCommitWait))
	}
	if err := s.data.Close(); err != nil {
		errs = append(errs, fmt.Errorf("spool: close data: %w", err))
	}
	if err := s.lockF.Close(); err != nil {
		errs = append(errs, fmt.Errorf("spool: close lock: %w", err))
	}
	return errors.Join(errs...)
}

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
	return crc32.Update(crc, castagnoli, s.ring[:n-first])
}
