package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"
	"os"
	"path/filepath"
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
	version    = 1

	fileMagic = "ASYNCSPL"
	recMagic  = 0x4c505341 // "ASPL" little-endian

	// header page fields
	hMagic   = 0
	hVersion = 8
	hHdrSize = 12
	hCap     = 16
	hCRC     = 24
	hHead    = 32
	hTail    = 40
	hClean   = 48

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
	if d.Truncated > 0 {
		return fmt.Errorf("spool: data file cut short by %d bytes; skipped %d damaged regions (%d bytes)", d.Truncated, d.Regions, d.Bytes)
	}
	return fmt.Errorf("spool: skipped %d damaged regions (%d bytes)", d.Regions, d.Bytes)
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
//	for !s.Append(seq, level, now, msg, enc) {
//		if _, ok := s.Evict(math.MaxInt32); !ok { // drop the oldest unread,
//			break // or this one: the room is held by a batch in flight
//		}
//	}
//	// consumer: Read a batch, write it to the sink without the mutex,
//	// then Release(len(batch)) under it.
//	// main's end: Close(true) once the queue drained.
//
// Replayed records (those an earlier process left) come first from Read.
//
// Append, Read, Release, Evict, Sync, Close, ArmCrashOutput and the
// accessors Len, Unread, Used and Cap must not run concurrently with each
// other or themselves: the caller (the queue) serialises them with its own
// mutex; Spool has no lock of its own. Replayed, Damage, CrashReport, Dir
// never change after Open and may be called from any goroutine.
type Spool struct {
	dir   string
	lockF *os.File
	data  *os.File
	mem   []byte // the whole mapping: header page, then ring
	ring  []byte // mem[headerSize:]
	size  uint64 // len(ring)

	head uint64 // logical offset of the oldest record not released
	rd   uint64 // logical offset of the oldest record not read
	tail uint64 // logical offset after the newest record
	n    int    // records between head and tail
	nrd  int    // records between head and rd

	replayed int
	damage   Damage
	crash    Crash
	starts   []uint64 // Evict's scratch: the records it moves
	msg      []byte   // Read's scratch for a message split by the ring's end
	off      [8]byte  // move's scratch, here so that it does not escape
}

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
	s.recover()
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
	if string(h[hMagic:hMagic+8]) != fileMagic || le.Uint32(h[hVersion:]) != version ||
		le.Uint32(h[hHdrSize:]) != headerSize || le.Uint32(h[hCRC:]) != crc32.Checksum(h[:hCRC], castagnoli) {
		return 0, false
	}
	size := le.Uint64(h[hCap:])
	// A head beyond 2^62 would take exabytes of records: only damage
	// puts it there, and offsets near 2^64 would wrap.
	if size == 0 || size%8 != 0 || size > 1<<48 || le.Uint64(h[hHead:]) >= 1<<62 {
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
	var h [hHead]byte
	le := binary.LittleEndian
	copy(h[hMagic:], fileMagic)
	le.PutUint32(h[hVersion:], version)
	le.PutUint32(h[hHdrSize:], headerSize)
	le.PutUint64(h[hCap:], size)
	le.PutUint32(h[hCRC:], crc32.Checksum(h[:hCRC], castagnoli))
	if _, err := s.data.WriteAt(h[:], 0); err != nil {
		return fmt.Errorf("spool: write header: %w", err)
	}
	if err := s.mapData(size); err != nil {
		return err
	}
	s.head, s.rd, s.tail, s.n, s.nrd, s.replayed = 0, 0, 0, 0, 0, 0
	s.takeCrash()
	return nil
}

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
func (s *Spool) recover() {
	// A head that is not a multiple of 8 is damage to the header page
	// (only Release writes it, always a record boundary); rounding it
	// down keeps the reads aligned.
	head := s.hdr64(hHead) &^ 7
	end := head + s.size
	if s.hdr64(hClean) == 1 {
		if t := s.hdr64(hTail); t >= head && t <= end {
			end = t
		}
	}
	s.putHdr64(hClean, 0)
	type span struct{ start, end uint64 }
	var gaps []span
	pos, last := head, head
	gap := false
	var gapStart uint64
	for pos+recHeader <= end {
		if size, ok := s.check(pos, end); ok {
			if gap {
				gaps = append(gaps, span{gapStart, pos})
				s.damage.Regions++
				s.damage.Bytes += int64(pos - gapStart)
				gap = false
			}
			s.n++
			pos += size
			last = pos
			continue
		}
		if !gap {
			gap, gapStart = true, pos
		}
		pos += 8
	}
	if gap && s.u32(gapStart+rMagic) == recMagic && s.u64(gapStart+rOff) == gapStart {
		// A record was begun here and nothing intact follows: a torn
		// tail, or the end of the ring cut off by a truncation.
		claimed := uint64(s.u32(gapStart + rSize))
		s.damage.Regions++
		s.damage.Bytes += int64(min(max(claimed, recHeader), end-gapStart))
	}
	// Close each gap by moving the records before it forward over it,
	// so that only intact records lie between head and tail.
	for _, g := range gaps {
		s.slide(head, g.start, g.end-g.start)
		head += g.end - g.start
	}
	s.head, s.rd = head, head
	if len(gaps) > 0 {
		s.putHdr64(hHead, head)
	}
	s.tail = last
	s.replayed = s.n
}

// check returns the size of the record at logical offset pos, and false if
// there is no intact current record there ending by end.
func (s *Spool) check(pos, end uint64) (uint64, bool) {
	if s.u32(pos+rMagic) != recMagic || s.u64(pos+rOff) != pos {
		return 0, false
	}
	size := uint64(s.u32(pos + rSize))
	body := uint64(recHeader) + uint64(s.u32(pos+rMsgLen)) + uint64(s.u32(pos+rEncLen))
	if size < recHeader || size%8 != 0 || size > end-pos || body > size || size-body >= 8 {
		return 0, false
	}
	if s.crc(0, pos+8, body-8) != s.u32(pos+rCRC) {
		return 0, false
	}
	return size, true
}

// Append stores one record and returns true, or returns false and stores
// nothing if the record does not fit in the free room (see [RecordSize]).
// When it returns true the record is in the mapping, so it outlives the
// process. It does not allocate and keeps neither msg nor enc.
func (s *Spool) Append(seq uint64, level int32, unixNano int64, msg string, enc []byte) bool {
	if s.ring == nil {
		return false
	}
	body := uint64(recHeader) + uint64(len(msg)) + uint64(len(enc))
	size := align8(body)
	if size > s.size-(s.tail-s.head) || size > 1<<32-8 {
		return false
	}
	pos := s.tail
	p := pos % s.size
	le := binary.LittleEndian
	// Clear the magic first: a crash before the last store then leaves
	// no header that looks begun. The first 8 bytes are never cut by the
	// ring's end.
	le.PutUint32(s.ring[p+rMagic:], 0)
	var h [recHeader]byte
	le.PutUint64(h[rOff:], pos)
	le.PutUint64(h[rSeq:], seq)
	le.PutUint64(h[rTime:], uint64(unixNano))
	le.PutUint32(h[rLevel:], uint32(level))
	le.PutUint32(h[rSize:], uint32(size))
	le.PutUint32(h[rMsgLen:], uint32(len(msg)))
	le.PutUint32(h[rEncLen:], uint32(len(enc)))
	x := s.copyIn(pos+8, h[8:])
	x = s.copyInString(x, msg)
	s.copyIn(x, enc)
	le.PutUint32(s.ring[p+rCRC:], s.crc(0, pos+8, body-8))
	le.PutUint32(s.ring[p+rMagic:], recMagic)
	s.tail += size
	s.n++
	return true
}

// Read copies the oldest record not yet read into r and returns true, or
// returns false if every record has been read. The record stays in the
// spool, and is read again by the next process to open it, until
// [Spool.Release] removes it. Read reuses r.Encoded's array and keeps
// r.Message when it already holds the same text, so a reused Record costs
// an allocation only for a new message or a longer encoding. Nothing in r
// refers to the mapping.
func (s *Spool) Read(r *Record) bool {
	if s.ring == nil || s.rd == s.tail {
		return false
	}
	pos := s.rd
	var h [recHeader]byte
	s.copyOut(h[:], pos)
	le := binary.LittleEndian
	msgLen := uint64(le.Uint32(h[rMsgLen:]))
	encLen := uint64(le.Uint32(h[rEncLen:]))
	r.Seq = le.Uint64(h[rSeq:])
	r.Time = int64(le.Uint64(h[rTime:]))
	r.Level = int32(le.Uint32(h[rLevel:]))
	s.msg = s.appendOut(s.msg[:0], pos+recHeader, msgLen)
	if string(s.msg) != r.Message {
		r.Message = string(s.msg)
	}
	r.Encoded = s.appendOut(r.Encoded[:0], pos+recHeader+msgLen, encLen)
	s.rd += uint64(le.Uint32(h[rSize:]))
	s.nrd++
	return true
}

// Release removes the n oldest records that were read, once the sink has
// them; their room is free for Append when it returns. The new head is
// stored with one aligned 8-byte store, so a crash keeps either all n or
// none. Release returns an error, and removes nothing, if fewer than n
// records were read and not released.
func (s *Spool) Release(n int) error {
	if s.ring == nil {
		return fmt.Errorf("spool: release: %w", ErrClosed)
	}
	if n < 0 || n > s.nrd {
		return fmt.Errorf("spool: release %d of %d read records", n, s.nrd)
	}
	head := s.head
	for range n {
		head += uint64(s.u32(head + rSize))
	}
	s.head = head
	s.putHdr64(hHead, head)
	s.n -= n
	s.nrd -= n
	return nil
}

// Evict removes the oldest record not yet read whose level is below below
// (pass math.MaxInt32 for the oldest unread record of any level), frees its
// room for Append, and tells what it removed; it returns false if no unread
// record is below below.
//
// Cost: the records between the oldest not released and the evicted one
// (the read but not released ones, and the unread ones Evict passed over
// because their level is not below below) are moved forward over the
// evicted one, byte for byte, and their headers and CRCs rewritten: time
// in proportion to their bytes: an Evict and an Append took 3 to 8 µs
// with 64 read records of 200 bytes in flight, against 60 ns with none
// (BenchmarkEvict).
//
// A crash during Evict loses no record as long as each moved record is no
// larger than the evicted one: each copy is complete, with its new offset
// and CRC, before the old one is overwritten, and head moves last. The
// next process may then read one moved record twice, and [Spool.Damage]
// may count the half-written copy as a damaged region
// (TestChildKilledMidEvict). A moved record larger than the evicted one
// overlaps its own old copy, and is lost if the crash hits during its move.
func (s *Spool) Evict(below int32) (Meta, bool) {
	if s.ring == nil {
		return Meta{}, false
	}
	v := s.rd
	for v != s.tail && int32(s.u32(v+rLevel)) >= below {
		v += uint64(s.u32(v + rSize))
	}
	if v == s.tail {
		return Meta{}, false
	}
	e := uint64(s.u32(v + rSize))
	m := Meta{Seq: s.u64(v + rSeq), Level: int32(s.u32(v + rLevel)), Time: int64(s.u64(v + rTime)), Size: int64(e)}
	s.slide(s.head, v, e)
	s.head += e
	s.rd += e
	s.putHdr64(hHead, s.head)
	s.n--
	return m, true
}

// slide moves the records from logical offset from up to to forward by e
// bytes, the last one first.
func (s *Spool) slide(from, to, e uint64) {
	s.starts = s.starts[:0]
	for x := from; x != to; x += uint64(s.u32(x + rSize)) {
		s.starts = append(s.starts, x)
	}
	for i := len(s.starts) - 1; i >= 0; i-- {
		s.move(s.starts[i], e)
	}
}

// move copies the record at logical offset x forward by e bytes and gives
// the copy its new offset and CRC. The old copy stays intact until the
// copy is complete when e is at least the record's size.
func (s *Spool) move(x, e uint64) {
	size := uint64(s.u32(x + rSize))
	body := uint64(recHeader) + uint64(s.u32(x+rMsgLen)) + uint64(s.u32(x+rEncLen))
	binary.LittleEndian.PutUint64(s.off[:], x+e)
	crc := crc32.Update(0, castagnoli, s.off[:])
	crc = s.crc(crc, x+16, body-16)
	s.memmove(x+e, x, size)
	s.put64(x+e+rOff, x+e)
	s.put32(x+e+rCRC, crc)
}

// memmove copies n bytes at logical offset src to dst, dst > src, where
// the two ranges may overlap: it copies from the end, one piece the ring's
// end does not cut at a time.
func (s *Spool) memmove(dst, src, n uint64) {
	for n > 0 {
		se, de := (src+n)%s.size, (dst+n)%s.size
		if se == 0 {
			se = s.size
		}
		if de == 0 {
			de = s.size
		}
		c := min(n, se, de)
		copy(s.ring[de-c:de], s.ring[se-c:se])
		n -= c
	}
}

// Len returns the number of records not released, read or not.
func (s *Spool) Len() int { return s.n }

// NextSeq returns the sequence number of the oldest record not yet read,
// and false if every record has been read.
func (s *Spool) NextSeq() (uint64, bool) {
	if s.ring == nil || s.rd == s.tail {
		return 0, false
	}
	return s.u64(s.rd + rSeq), true
}

// LastSeq returns the sequence number of the newest record not released,
// and false if there is none. It walks the records: Open's callers use it
// once, to number new records after the replayed ones.
func (s *Spool) LastSeq() (uint64, bool) {
	if s.ring == nil || s.head == s.tail {
		return 0, false
	}
	x, last := s.head, uint64(0)
	for x != s.tail {
		last = s.u64(x + rSeq)
		x += uint64(s.u32(x + rSize))
	}
	return last, true
}

// Unread returns the number of records not yet read.
func (s *Spool) Unread() int { return s.n - s.nrd }

// Used returns the bytes the records not released take in the ring.
func (s *Spool) Used() int64 { return int64(s.tail - s.head) }

// Cap returns the ring's size in bytes: the capacity Open was given,
// rounded up to a multiple of 4096, or an existing spool's own capacity.
func (s *Spool) Cap() int64 { return int64(s.size) }

// Replayed returns the number of records Open found left by an earlier
// process.
func (s *Spool) Replayed() int { return s.replayed }

// Damage returns what Open skipped as damaged; see [Damage].
func (s *Spool) Damage() Damage { return s.damage }

// CrashReport returns the crash report an earlier run left in the
// directory, which Open took (and removed, so that it is delivered once),
// and false if there was none.
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
	if clean {
		s.putHdr64(hTail, s.tail)
		s.putHdr64(hClean, 1)
	}
	errs := []error{s.disarm(), s.unmap()}
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
func (s *Spool) put32(x uint64, v uint32) {
	binary.LittleEndian.PutUint32(s.ring[x%s.size:], v)
}
func (s *Spool) put64(x uint64, v uint64) {
	binary.LittleEndian.PutUint64(s.ring[x%s.size:], v)
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
