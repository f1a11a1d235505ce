package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"time"
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
	// writesBack: the file system writes dirty pages back, so a page is
	// write-protected again after it is written back (see Prefault).
	writesBack bool

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
