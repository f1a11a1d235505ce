//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package spool

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rec returns the record with sequence number seq: its sizes and level
// vary with seq, so that every test sees records of several sizes.
func rec(seq uint64) Record {
	return Record{
		Seq:     seq,
		Level:   int32(seq%4)*4 - 4,
		Time:    1_700_000_000_000_000_000 + int64(seq),
		Message: strings.Repeat("m", int(seq%7)) + fmt.Sprint(seq),
		Encoded: []byte(fmt.Sprintf(`{"seq":%d,"pad":%q}`, seq, strings.Repeat("x", int(seq*37%150)))),
	}
}

func appendRec(s *Spool, r Record) bool {
	return s.Append(r.Seq, r.Level, r.Time, r.Message, r.Encoded)
}

func openT(t testing.TB, dir string, capacity int64) *Spool {
	t.Helper()
	s, err := Open(dir, capacity)
	require.NoError(t, err, "Open %s", dir)
	return s
}

// readAll reads every unread record.
func readAll(s *Spool) []Record {
	var out []Record
	for {
		var r Record
		if !s.Read(&r) {
			return out
		}
		out = append(out, r)
	}
}

func seqs(rs []Record) []uint64 {
	if len(rs) == 0 {
		return nil
	}
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.Seq
	}
	return out
}

// orNil returns rs, or nil if it is empty, as readAll does.
func orNil(rs []Record) []Record {
	if len(rs) == 0 {
		return nil
	}
	return rs
}

// stored appends records first..last and fails the test if one does not fit.
func stored(t *testing.T, s *Spool, first, last uint64) []Record {
	t.Helper()
	var out []Record
	for q := first; q <= last; q++ {
		r := rec(q)
		require.True(t, appendRec(s, r), "Append %d", q)
		out = append(out, r)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	s := openT(t, t.TempDir(), 1<<16)
	defer s.Close(true)
	want := stored(t, s, 1, 50)
	assert.Equal(t, 50, s.Len(), "Len after 50 Appends")
	assert.Equal(t, 50, s.Unread(), "Unread before any Read")
	got := readAll(s)
	assert.Equal(t, want, got, "records read back in order, every field")
	assert.Equal(t, 0, s.Unread(), "Unread after reading all")
	assert.Equal(t, 50, s.Len(), "Read removes nothing")
	require.NoError(t, s.Release(50), "Release all read")
	assert.Equal(t, 0, s.Len(), "Len after Release")
	assert.Equal(t, int64(0), s.Used(), "Used after Release")
}

func TestCapacity(t *testing.T) {
	tests := []struct {
		name     string
		capacity int64
		wantCap  int64
	}{
		{"page", 4096, 4096},
		{"rounded up", 5000, 8192},
		{"one byte", 1, 4096},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir, tt.capacity)
			defer s.Close(true)
			assert.Equal(t, tt.wantCap, s.Cap(), "Cap")
			fi, err := os.Stat(filepath.Join(dir, dataName))
			require.NoError(t, err, "stat data file")
			assert.Equal(t, tt.wantCap+headerSize, fi.Size(), "data file: header page and ring")
		})
	}
	_, err := Open(t.TempDir(), 0)
	assert.Error(t, err, "Open with capacity 0")
}

// TestCapacityChange: an existing spool keeps its size while it holds
// records and takes the new one once empty.
func TestCapacityChange(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, 8192)
	want := stored(t, s, 1, 5)
	require.NoError(t, s.Close(true), "Close")

	s = openT(t, dir, 1<<16)
	assert.Equal(t, int64(8192), s.Cap(), "a spool holding records keeps its capacity")
	assert.Equal(t, want, readAll(s), "records kept across the capacity change")
	require.NoError(t, s.Release(5), "Release")
	require.NoError(t, s.Close(true), "Close")

	s = openT(t, dir, 1<<16)
	defer s.Close(true)
	assert.Equal(t, int64(1<<16), s.Cap(), "an empty spool takes the new capacity")
	assert.Equal(t, 0, s.Replayed(), "nothing replayed")
}

func TestFull(t *testing.T) {
	s := openT(t, t.TempDir(), 4096)
	defer s.Close(true)
	enc := make([]byte, 200-recHeader)
	n := 0
	for s.Append(uint64(n), 0, 0, "", enc) {
		n++
	}
	assert.Equal(t, int(4096/RecordSize(0, len(enc))), n, "records of 200 bytes in 4096")
	used := s.Used()
	assert.LessOrEqual(t, used, s.Cap(), "Used within Cap")
	assert.False(t, s.Append(99, 0, 0, "", enc), "Append into a full spool")
	assert.Equal(t, n, s.Len(), "a refused Append stores nothing: Len")
	assert.Equal(t, used, s.Used(), "a refused Append stores nothing: Used")

	var r Record
	require.True(t, s.Read(&r), "Read the oldest")
	assert.False(t, s.Append(99, 0, 0, "", enc), "Read alone frees no room")
	require.NoError(t, s.Release(1), "Release the oldest")
	assert.True(t, s.Append(99, 0, 0, "", enc), "Append after Release")

	assert.Error(t, s.Release(1), "Release of a record not read")
	assert.False(t, s.Append(0, 0, 0, "", make([]byte, 4096)), "a record larger than the ring never fits")
}

// TestWrapAround checks every operation against a model of the records
// not released: in a small ring with large records, and in a larger one
// with small records, where hundreds of records sit out of line and the
// list of them is compacted.
func TestWrapAround(t *testing.T) {
	for _, tc := range []struct {
		name     string
		capacity int64
		maxEnc   int
		ops      int
		closePct int // of ops, Close and reopen
	}{
		{"small ring", 8192, 1500, 6000, 3},
		{"many records", 1 << 17, 300, 30000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) { wrapAround(t, tc.capacity, tc.maxEnc, tc.ops, tc.closePct) })
	}
}

func wrapAround(t *testing.T, capacity int64, maxEnc, ops, closePct int) {
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	s := openT(t, dir, capacity)
	defer func() { s.Close(false) }()

	var model []Record // not released, oldest first
	nread := 0
	var seq uint64
	var appended int64 // bytes
	buf := make([]byte, maxEnc)
	maxOOL, lastOOL, compactions := 0, 0, 0
	for i := range ops {
		switch op := rng.IntN(100); {
		case op < 50:
			seq++
			r := Record{
				Seq:     seq,
				Level:   int32(rng.IntN(5)*4 - 4),
				Time:    rng.Int64(),
				Message: strings.Repeat("a", rng.IntN(40)),
				Encoded: buf[:rng.IntN(len(buf))],
			}
			for k := range r.Encoded {
				r.Encoded[k] = byte(rng.Uint32())
			}
			r.Encoded = append([]byte(nil), r.Encoded...)
			fits := s.Fits(len(r.Message), len(r.Encoded))
			require.Equal(t, fits, appendRec(s, r), "op %d: Append of seq %d returns whether it fits", i, seq)
			if fits {
				model = append(model, r)
				appended += RecordSize(len(r.Message), len(r.Encoded))
			}
		case op < 75:
			var r Record
			ok := s.Read(&r)
			require.Equal(t, nread < len(model), ok, "op %d: Read returns whether a record is unread", i)
			if ok {
				require.Equal(t, model[nread], r, "op %d: Read", i)
				nread++
			}
		case op < 90:
			k := rng.IntN(nread + 1)
			require.NoError(t, s.Release(k), "op %d: Release %d", i, k)
			model = model[k:]
			nread -= k
		case op < 100-closePct:
			below := int32(math.MaxInt32)
			if rng.IntN(2) == 0 {
				below = 4
			}
			m, ok := s.Evict(below)
			j := nread
			for j < len(model) && model[j].Level >= below {
				j++
			}
			require.Equal(t, j < len(model), ok, "op %d: Evict(%d) returns whether an unread record is below", i, below)
			if ok {
				require.Equal(t, model[j].Seq, m.Seq, "op %d: Evict removes the oldest unread below %d", i, below)
				model = append(model[:j], model[j+1:]...)
			}
		default:
			require.NoError(t, s.Close(rng.IntN(2) == 0), "op %d: Close", i)
			s = openT(t, dir, capacity)
			require.Equal(t, Damage{}, s.Damage(), "op %d: no damage after a reopen", i)
			require.Equal(t, len(model), s.Replayed(), "op %d: Replayed after a reopen", i)
			nread = 0
		}
		require.Equal(t, len(model), s.Len(), "op %d: Len", i)
		require.Equal(t, len(model)-nread, s.Unread(), "op %d: Unread", i)
		if len(s.ool) < lastOOL {
			compactions++
		}
		lastOOL = len(s.ool)
		maxOOL = max(maxOOL, len(s.ool)-s.oolRd)
		next, ok := s.NextSeq()
		require.Equal(t, nread < len(model), ok, "op %d: NextSeq finds an unread record", i)
		if ok {
			require.Equal(t, model[nread].Seq, next, "op %d: NextSeq", i)
		}
		last, ok := s.LastSeq()
		require.Equal(t, len(model) > 0, ok, "op %d: LastSeq finds a record", i)
		if ok {
			require.Equal(t, model[len(model)-1].Seq, last, "op %d: LastSeq", i)
		}
	}
	assert.Greater(t, appended, 10*s.Cap(), "the test went round the ring 10 times or more")
	t.Logf("most records out of line at once: %d; compactions: %d", maxOOL, compactions)
}

func TestEvict(t *testing.T) {
	tests := []struct {
		name  string
		read  int   // records read (not released) before Evict
		below int32 // Evict's argument
		level []int32
		want  uint64 // seq evicted, 0 if none
	}{
		{"oldest unread, nothing read", 0, math.MaxInt32, []int32{0, 0, 0, 0}, 1},
		{"oldest unread after read records", 2, math.MaxInt32, []int32{0, 0, 0, 0}, 3},
		{"below level passes over kept records", 0, 4, []int32{8, 4, 0, 8}, 3},
		{"below level after read records", 1, 4, []int32{0, 8, 0, 0}, 3},
		{"none below", 0, 4, []int32{4, 8, 4, 8}, 0},
		{"none unread", 4, math.MaxInt32, []int32{0, 0, 0, 0}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir, 4096)
			// Fill so that the records wrap around the ring's end.
			enc := make([]byte, 900)
			for range 3 {
				require.True(t, s.Append(0, 0, 0, "", enc), "filler")
			}
			readAll(s)
			require.NoError(t, s.Release(3), "release filler")
			var all []Record
			for i, l := range tt.level {
				r := rec(uint64(i + 1))
				r.Level = l
				r.Encoded = append(r.Encoded, enc[:200]...)
				require.True(t, appendRec(s, r), "Append %d", i+1)
				all = append(all, r)
			}
			for range tt.read {
				require.True(t, s.Read(new(Record)), "Read")
			}
			used := s.Used()

			m, ok := s.Evict(tt.below)
			var want []Record
			for _, r := range all {
				if r.Seq != tt.want {
					want = append(want, r)
				}
			}
			if tt.want == 0 {
				assert.False(t, ok, "Evict finds nothing")
				assert.Equal(t, used, s.Used(), "Used unchanged")
			} else {
				require.True(t, ok, "Evict")
				assert.Equal(t, tt.want, m.Seq, "evicted seq")
				assert.Equal(t, all[tt.want-1].Level, m.Level, "evicted level")
				assert.Equal(t, used-m.Size, s.Used(), "Evict frees the record's room")
			}
			assert.Equal(t, orNil(want[tt.read:]), readAll(s), "unread records after Evict")
			assert.Equal(t, len(want), s.Len(), "Len after Evict")
			require.NoError(t, s.Release(tt.read), "read records are still released as read")
			assert.Equal(t, len(want)-tt.read, s.Len(), "Len after Release")
			require.NoError(t, s.Close(false), "Close unclean")

			s = openT(t, dir, 4096)
			defer s.Close(true)
			assert.Equal(t, Damage{}, s.Damage(), "no damage after Evict")
			assert.Equal(t, orNil(want[tt.read:]), readAll(s), "records after reopen")
		})
	}
}

func TestReopen(t *testing.T) {
	tests := []struct {
		name    string
		read    int
		release int
		clean   bool
		want    []uint64
	}{
		{"clean, all released", 10, 10, true, nil},
		{"unclean, all released", 10, 10, false, nil},
		{"clean, none read", 0, 0, true, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"unclean, none read", 0, 0, false, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"unclean, read but not released delivered again", 6, 3, false, []uint64{4, 5, 6, 7, 8, 9, 10}},
		{"clean, read but not released delivered again", 6, 3, true, []uint64{4, 5, 6, 7, 8, 9, 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir, 1<<14)
			stored(t, s, 1, 10)
			for range tt.read {
				require.True(t, s.Read(new(Record)), "Read")
			}
			require.NoError(t, s.Release(tt.release), "Release")
			require.NoError(t, s.Close(tt.clean), "Close")

			s = openT(t, dir, 1<<14)
			defer s.Close(true)
			got := readAll(s)
			assert.Equal(t, tt.want, seqs(got), "records replayed")
			for _, r := range got {
				assert.Equal(t, rec(r.Seq), r, "replayed record %d intact", r.Seq)
			}
			assert.Equal(t, len(tt.want), s.Replayed(), "Replayed")
			assert.Equal(t, Damage{}, s.Damage(), "no damage")
		})
	}
}

func TestInUse(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, 4096)
	_, err := Open(dir, 4096)
	assert.ErrorIs(t, err, ErrInUse, "second Open in this process")
	require.NoError(t, s.Close(true), "Close")
	s = openT(t, dir, 4096)
	require.NoError(t, s.Close(true), "Close after reopen")
	assert.ErrorIs(t, s.Close(true), ErrClosed, "second Close")
	assert.False(t, s.Append(1, 0, 0, "", nil), "Append after Close")
	assert.False(t, s.Read(new(Record)), "Read after Close")
	assert.ErrorIs(t, s.Release(0), ErrClosed, "Release after Close")
}

func TestAppendAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	s := openT(t, t.TempDir(), 1<<16)
	defer s.Close(true)
	enc := make([]byte, 152)
	var r Record
	allocs := testing.AllocsPerRun(1000, func() {
		s.Append(1, 0, 2, "message", enc)
		s.Read(&r)
		_ = s.Release(1)
	})
	assert.Zero(t, allocs, "Append, Read into a reused Record and Release")
}

// TestCrashBeforeEveryStore plays the "drop" child's workload (see
// runDropChild) in a 64 KiB spool and, before each store of a frame's
// first word or of a header field (every 5th, past the first fill), copies
// the mapping as a SIGKILL there would leave the file and opens the copy:
// no damage, every record intact, in order and once, every Error record
// appended and not released still there (every 13th store under the race
// detector, which is slow). Between two such stores Append
// only writes bytes that no walk reads, so these are all the states a
// kill can leave.
func TestCrashBeforeEveryStore(t *testing.T) {
	s := openT(t, t.TempDir(), 1<<16)
	defer s.Close(false)
	var released uint64 // every seq up to here was released
	acked := map[uint64]bool{}
	stores, checked := 0, 0
	every := 5
	if raceEnabled {
		every = 13
	}
	s.beforeStore = func() {
		stores++
		if stores%every != 0 || s.tail < uint64(s.size) {
			return
		}
		checked++
		snap := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(snap, dataName), s.mem, 0o600), "snapshot")
		c := openT(t, snap, 1<<16)
		got := readAll(c)
		d := c.Damage()
		require.NoError(t, c.Close(false), "Close the copy")
		have := map[uint64]bool{}
		for k, r := range got {
			require.Equal(t, mixed(r.Seq), r, "store %d: record %d intact", stores, r.Seq)
			if k > 0 {
				require.Greater(t, r.Seq, got[k-1].Seq, "store %d: in order, once", stores)
			}
			have[r.Seq] = true
		}
		require.Equal(t, Damage{}, d, "store %d: no damage", stores)
		for q := range acked {
			require.True(t, q <= released || have[q], "store %d: Error record %d kept", stores, q)
		}
	}
	var batch uint64
	nread := 0
	for q := uint64(1); q <= 3000; q++ {
		r := mixed(q)
		ok := appendRec(s, r)
		for !ok {
			if _, ev := s.Evict(keepLevel); !ev {
				break
			}
			ok = appendRec(s, r)
		}
		if ok && r.Level >= keepLevel {
			acked[q] = true
		}
		if q%64 == 0 {
			if nread > 0 {
				released = batch
				require.NoError(t, s.Release(nread), "Release")
			}
			nread = 0
			var rr Record
			for nread < 8 && s.Read(&rr) {
				batch = rr.Seq
				nread++
			}
		}
	}
	s.beforeStore = nil
	t.Logf("%d stores, %d crash images checked", stores, checked)
	assert.Greater(t, checked, 800, "crash images checked")
}

// TestVersion1Upgraded: a spool written by version 1 (records in line
// only) is read as it was and its header rewritten as version 2, so that a
// version 1 binary does not take frames it does not know for records.
func TestVersion1Upgraded(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, 1<<14)
	want := stored(t, s, 1, 10)
	require.NoError(t, s.Close(false), "Close")
	path := filepath.Join(dir, dataName)
	b, err := os.ReadFile(path)
	require.NoError(t, err, "read data file")
	binary.LittleEndian.PutUint32(b[hVersion:], 1)
	binary.LittleEndian.PutUint64(b[hHead:], 0) // version 1: a plain offset
	binary.LittleEndian.PutUint64(b[hHead2:], 0)
	binary.LittleEndian.PutUint32(b[hCRC:], crc32.Checksum(b[:hCRC], castagnoli))
	require.NoError(t, os.WriteFile(path, b, 0o600), "write version 1 header")

	s = openT(t, dir, 1<<14)
	assert.Equal(t, Damage{}, s.Damage(), "no damage")
	assert.Equal(t, want, readAll(s), "version 1 records")
	require.NoError(t, s.Close(false), "Close")
	b, err = os.ReadFile(path)
	require.NoError(t, err, "read data file")
	assert.Equal(t, uint32(version), binary.LittleEndian.Uint32(b[hVersion:]), "header rewritten as version 2")
	_, ok := checkHeader(b[:headerSize])
	assert.True(t, ok, "rewritten header valid")
}

// TestEvictRoomComesFromRuns: evicted records free room for a new one only
// as a run of dead bytes (or at the head): with 200-byte Info records
// between kept ones of 600, evicting every Info record leaves no run of
// 1,000 bytes, so a kept record of that size does not fit, though the dead
// bytes add up to more; once the consumer releases the records at the
// head, it does. A 200-byte record fits in the first hole at once.
func TestEvictRoomComesFromRuns(t *testing.T) {
	s := openT(t, t.TempDir(), 8192)
	defer s.Close(false)
	kept := make([]byte, 600-recHeader)
	info := make([]byte, 200-recHeader)
	q := uint64(0)
	for {
		q++
		enc, level := info, int32(0)
		if q%2 == 1 {
			enc, level = kept, 8
		}
		if !s.Append(q, level, 0, "", enc) {
			break
		}
	}
	require.False(t, s.Fits(0, len(info)), "full")
	_, ok := s.Evict(8)
	require.True(t, ok, "Evict an Info record")
	assert.True(t, s.Fits(0, len(info)), "a record of the evicted one's size fits in its hole")
	assert.Equal(t, int64(200), s.Room(), "Room: the hole")
	evicted := 1
	for {
		if _, ok := s.Evict(8); !ok {
			break
		}
		evicted++
	}
	big := make([]byte, 1000-recHeader)
	assert.Greater(t, int64(evicted*200), int64(1000), "more dead bytes than the record needs")
	assert.False(t, s.Fits(0, len(big)), "no run of dead bytes is long enough")
	for range 2 {
		require.True(t, s.Read(new(Record)), "Read a kept record")
	}
	require.NoError(t, s.Release(2), "Release the two oldest kept records")
	assert.True(t, s.Fits(0, len(big)), "the head passed them and the dead records behind them")
	require.True(t, s.Append(q, 8, 0, "", big), "Append")
}
