// Package spool keeps a bounded ring of log records in a memory-mapped file,
// so that a record outlives the process that appended it.
//
// The queue (package asynclog) appends a record on the caller's goroutine
// and its consumer reads records, hands them to the sink and then releases
// them. Because the ring is a shared file mapping, a record is in the
// kernel's page cache the moment [Spool.Append] returns: a process that is
// killed by SIGKILL, dies of an unrecovered panic, calls os.Exit or returns
// from main without Close loses nothing that was appended. The next process
// to [Open] the directory reads first every record that was not released,
// in order ([Spool.Replayed] counts them).
//
// # Durability
//
// The guarantee is against the process dying, not the machine: the kernel
// writes the page cache back to the disk in its own time, so a power loss or
// a kernel crash loses whatever it had not written yet. A spool on tmpfs
// (/dev/shm, often /tmp or /run) survives the process but not a reboot; on
// a disk it survives a clean reboot too, since the kernel writes the page
// cache back before it stops. Neither survives a power loss: the spool
// does not fsync unless asked. [Spool.Sync] forces the write-back (fsync
// of the data file) and waits for it: measured at
// 0.35 to 1.9 ms per call with one 200-byte record dirty, on an ext4
// virtual disk of a shared 2-CPU machine (BenchmarkSync), against 57 to 65
// ns for an Append of 200 bytes (BenchmarkAppend) on the same machine, so
// the queue should not call it per record.
//
// Delivery across a crash is at least once: a record read but not yet
// released when the process died is read again by the next process. A
// record is removed only by [Spool.Release] or [Spool.Evict], and a kill
// at any instruction of either removes no other record and repeats none.
//
// # Room and eviction
//
// The ring is reused at its head: Append writes a record after the newest
// one while the room between the newest and the oldest frame not dead (the
// head) allows. [Spool.Evict] does not move the records in front of the
// one it evicts (the batch read and not released, kept records the queue
// never evicts): it marks the record dead in place, with one aligned
// store, so its cost does not depend on them. A dead record's room comes
// back in two ways: at once if it lies at the head (the head moves past
// it), or, while records in front of it hold the head, as a hole: a record
// that does not fit after the newest one is placed out of line at the end
// of the hole the last Evict made or grew (neighbouring dead records join
// into one hole), and read in its turn by sequence number. So DropOldest
// evicts the oldest records below the kept level until the new record
// fits in the run of dead bytes they leave, each Evict a constant cost
// (amortised: its search for the oldest record below the level resumes
// where the last one stopped, so it passes each kept record once, and the
// in-memory list of records out of line, 16 bytes a record, is compacted
// when evicted entries make up half of it). When the evicted records lie
// between kept ones, a record larger than any run of dead bytes does not
// fit before the head moves, even if the dead bytes add up to more than
// it needs ([Spool.Fits] tells). [Spool.Used] counts the live records
// only.
//
// # Directory
//
// A spool directory holds three files:
//
//   - lock: an empty file, locked with flock(LOCK_EX) while a Spool is open,
//     so that a second [Open] of the directory, from this process or any
//     other, fails with [ErrInUse]. The kernel drops the lock when its owner
//     closes it or dies, however it dies.
//   - data: the header page and the ring (see below), mapped shared. On
//     Linux its blocks are reserved when it is created (fallocate), so a
//     full disk makes Open fail rather than kill the process with SIGBUS
//     at a store into the mapping; elsewhere the file is sparse.
//   - crash: the runtime's crash report, once [Spool.ArmCrashOutput] has
//     been called; [Open] reads an earlier run's report from it
//     ([Spool.CrashReport]), and the file stays until
//     [Spool.RemoveCrashReport], once the caller has stored the report.
//
// # File format
//
// All integers are little-endian. The data file is a 4096-byte header page
// followed by the ring of Cap bytes (a multiple of 8):
//
//	offset  size  field
//	0       8     magic "ASYNCSPL"
//	8       4     version (2; a version 1 file is read as 2 and rewritten so)
//	12      4     header size (4096)
//	16      8     capacity of the ring in bytes
//	24      4     CRC-32C (Castagnoli) of bytes 0..24
//	32      8     head: the logical offset of the oldest frame not dead, divided by 8 (56 bits), and an 8-bit check of it
//	40      8     tail: the logical offset after the newest frame in line; valid only if clean is 1
//	48      8     clean: 1 after Close(true), set back to 0 by Open
//	56      8     a copy of head, stored after it
//
// A crash between the two stores of the head leaves the first copy one
// step ahead, both intact; anything else that makes them differ, or fails
// a check, is damage: Open then finds the head again by reading the whole
// ring (every record holds its own offset, and released and evicted
// records are dead frames), and reports it ([Damage].Head).
//
// Offsets in the ring are logical: they only grow, and the byte at logical
// offset x is at x mod Cap in the ring. Frames tile the ring from head to
// tail; each is 8-byte aligned and may be split by the end of the ring (its
// bytes continue at the start), so the ring needs no padding. A frame's
// first 8 bytes are its first word, never cut by the ring's end, and every
// change that makes a frame appear, die or change size is one aligned
// 8-byte store of it. A record is a 48-byte header, then the message, then
// the encoded bytes, then zero to 7 bytes of padding up to a multiple of 8:
//
//	offset  size  field
//	0       4     magic 0x4c505341 ("ASPL") in line, 0x4f505341 ("ASPO") out of line
//	4       4     CRC-32C of the bytes from offset 8 to the end of the encoded bytes
//	8       8     logical offset of this record
//	16      8     sequence number (assigned by the queue)
//	24      8     time, unix nanoseconds
//	32      4     level (slog scale)
//	36      4     size of the whole record, header and padding included
//	40      4     message length
//	44      4     encoded length
//
// A dead frame (a record evicted or released, a hole, a damaged run) is:
//
//	offset  size  field
//	0       4     magic 0x44505341 ("ASPD")
//	4       4     size of the frame, 8 or more
//	8       8     logical offset of this frame (a record's, kept; absent if size is 8)
//
// A reserved frame (a record placed by [Spool.Reserve] whose
// [Slot.Commit] has not finished) has the record's header from offset 8,
// and a first word of its own:
//
//	offset  size  field
//	0       4     magic 0x52505341 ("ASPR") in line, 0x51505341 ("ASPQ") out of line
//	4       4     size of the frame, as in its header
//
// Records in line are in the order of their sequence numbers; a record out
// of line was placed in a hole and is read, after a restart too, by its
// sequence number among the others. Reserve writes a record's header in
// line with its first word cleared, then the reserved word; out of line,
// it writes them at the end of a hole, where the hole's dead first frame
// still spans it, then shortens that frame. Commit, outside the caller's
// lock, copies the message and the encoding and stores the record's magic
// and CRC last, with one atomic store. Records reserved after it may be
// committed before it: recovery steps over a reserved frame by its size
// and drops it (the call that wrote it never returned), without calling
// it damage. Release turns each released record
// into a dead frame, then moves the head; Evict turns the evicted one into
// a dead frame and, if it joins a neighbouring hole, widens the hole's
// first frame. So a crash leaves each frame either as it was or as it
// became.
//
// Recovery walks the frames from head onwards; a record counts only if its
// magic, its own logical offset and its CRC all match. The logical offset
// is what tells a current record from a stale one left in the ring by an
// earlier lap, and what lets recovery resynchronise after damage: it steps
// 8 bytes at a time until a record (or a dead frame holding its own
// offset) matches again, so damage costs only the records it touches. The
// damaged run becomes a dead frame in place, with stores each of which
// leaves the spool readable; nothing is moved. What was skipped is
// reported by [Spool.Damage], never delivered as a record with bad bytes.
//
// Recovery costs a pass over the ring: Open of a full 64 MiB spool
// (335,544 records of 200 bytes) took 40 to 120 ms, after a crash or a
// clean Close alike: the clean Close saves the scan past the tail, but
// every record's CRC is still checked (BenchmarkOpen).
package spool
