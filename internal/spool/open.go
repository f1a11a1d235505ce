package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// Opening, syncing and closing a spool: its directory, its lock, the data
// file and its mapping.

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
	s.writesBack = writesBack(s.data)
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
