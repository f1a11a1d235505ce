//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package spool

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func reserveRec(t *testing.T, s *Spool, r Record) Slot {
	t.Helper()
	sl, ok := s.Reserve(r.Seq, r.Level, r.Time, len(r.Message), len(r.Encoded))
	require.True(t, ok, "Reserve %d", r.Seq)
	return sl
}

// snapshotOpen opens a copy of s's file as a SIGKILL at this instant would
// leave it, and returns what it holds and the damage it reports.
func snapshotOpen(t *testing.T, s *Spool) ([]Record, Damage) {
	t.Helper()
	snap := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(snap, dataName), s.mem, 0o600))
	c := openT(t, snap, int64(s.size))
	defer func() { require.NoError(t, c.Close(false)) }()
	return readAll(c), c.Damage()
}

func TestAKillBeforeCommitDropsOnlyThatRecord(t *testing.T) {
	s := openT(t, t.TempDir(), 1<<16)
	defer s.Close(false)
	a, b, c := rec(1), rec(2), rec(3)
	require.True(t, appendRec(s, a))
	slB := reserveRec(t, s, b)
	slC := reserveRec(t, s, c)
	slC.Commit(c.Message, c.Encoded) // committed out of order: B's writer is slower

	got, d := snapshotOpen(t, s)
	assert.Equal(t, []Record{a, c}, got, "the record whose call never returned is dropped, the later one kept")
	assert.Equal(t, Damage{}, d, "an unfinished write is not damage")

	slB.Commit(b.Message, b.Encoded)
	got, d = snapshotOpen(t, s)
	assert.Equal(t, []Record{a, b, c}, got)
	assert.Equal(t, Damage{}, d)
}

func TestAKillBeforeCommitOutOfLineDropsOnlyThatRecord(t *testing.T) {
	s := openT(t, t.TempDir(), 1<<12)
	defer s.Close(false)
	var kept []Record
	head := rec(1)
	head.Level = keepLevel // kept at the head: the room Evict frees is a hole
	require.True(t, appendRec(s, head))
	q := uint64(1)
	for { // fill the ring with records below keepLevel
		q++
		r := rec(q)
		r.Level = 0
		if !appendRec(s, r) {
			break
		}
	}
	small := func(q uint64) Record { // small enough for the hole Evict makes
		r := rec(q)
		r.Level, r.Message, r.Encoded = 0, "", r.Encoded[:8]
		return r
	}
	for appendRec(s, small(q)) { // and no room at the tail even for it
		q++
	}
	_, ok := s.Evict(keepLevel)
	require.True(t, ok, "something to evict")
	r := small(q)
	sl, ok := s.Reserve(r.Seq, r.Level, r.Time, 0, len(r.Encoded))
	require.True(t, ok, "placed in the hole")
	require.Equal(t, uint64(resOolMagic), uint64(uint32(s.loadWord(sl.pos))), "out of line")

	got, d := snapshotOpen(t, s)
	assert.Equal(t, Damage{}, d)
	for _, g := range got {
		assert.NotEqual(t, r.Seq, g.Seq, "the reserved record is not read back")
	}
	kept = got

	sl.Commit(r.Message, r.Encoded)
	got, d = snapshotOpen(t, s)
	assert.Equal(t, Damage{}, d)
	assert.Len(t, got, len(kept)+1, "committed: read back too")
}

// TestCommitsOutsideTheLockAreReadWhole runs the queue's pattern: producers
// reserve under a mutex and commit outside it, a consumer claims under the
// mutex and reads outside it, evicting now and then; every record read is
// byte for byte the one written, in order, once, and the reopened spool
// agrees.
func TestCommitsOutsideTheLockAreReadWhole(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, 1<<16)
	var mu sync.Mutex
	const producers, each = 4, 3000
	var seq uint64
	var wg sync.WaitGroup
	for range producers {
		wg.Go(func() {
			for range each {
				mu.Lock()
				seq++
				r := mixed(seq)
				for !s.Fits(len(r.Message), len(r.Encoded)) {
					if _, ok := s.Evict(keepLevel); !ok {
						break
					}
				}
				sl, ok := s.Reserve(r.Seq, r.Level, r.Time, len(r.Message), len(r.Encoded))
				mu.Unlock()
				if ok {
					sl.Commit(r.Message, r.Encoded)
				}
			}
		})
	}
	stop := make(chan struct{})
	var read []Record
	consumer := make(chan struct{})
	go func() {
		defer close(consumer)
		var taken []uint64
		var views []Record
		var spare []byte
		done := false
		for !done {
			select {
			case <-stop:
				done = true // one more pass drains what is left
			default:
			}
			mu.Lock()
			taken = s.Claim(taken[:0], 64, 1<<20)
			mu.Unlock()
			views = views[:0]
			for i, pos := range taken {
				var r Record
				if i%2 == 0 {
					s.ReadAt(pos, &r)
				} else {
					spare = s.ViewAt(pos, &r, spare[:0:0]) // each record its own spare: a copy must last the batch
				}
				views = append(views, r)
				r.Encoded = bytes.Clone(r.Encoded)
				read = append(read, r)
			}
			for _, r := range views { // the producers wrote on meanwhile: a view lasts until Release
				require.Equal(t, string(mixed(r.Seq).Encoded), string(r.Encoded), "record %d's view before its Release", r.Seq)
			}
			mu.Lock()
			require.NoError(t, s.Release(len(taken)))
			mu.Unlock()
			if done && len(taken) > 0 {
				done = false
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-consumer
	require.NotEmpty(t, read)
	for k, r := range read {
		require.Equal(t, mixed(r.Seq), r, "record %d whole", r.Seq)
		if k > 0 {
			require.Greater(t, r.Seq, read[k-1].Seq, "in order, once")
		}
	}
	require.NoError(t, s.Close(true))
	c := openT(t, dir, 1<<16)
	defer c.Close(false)
	assert.Empty(t, readAll(c), "everything read was released")
	assert.Equal(t, Damage{}, c.Damage())
}

// commitWriters is how many goroutines the "commits" child writes with.
const commitWriters = 4

// runCommitsChild is the "commits" child: commitWriters goroutines reserve
// under a mutex and commit outside it, evicting the oldest record when the
// ring is full, for ever; it says "ready" once 4,000 are committed, and
// its parent kills it at a random point of some Reserves and Commits.
func runCommitsChild(s *Spool) {
	var mu sync.Mutex
	var seq uint64
	var committed atomic.Int64
	for range commitWriters {
		go func() {
			for {
				mu.Lock()
				seq++
				r := rec(seq)
				for !s.Fits(len(r.Message), len(r.Encoded)) {
					if _, ok := s.Evict(math.MaxInt32); !ok {
						break
					}
				}
				sl, ok := s.Reserve(r.Seq, r.Level, r.Time, len(r.Message), len(r.Encoded))
				mu.Unlock()
				if ok {
					sl.Commit(r.Message, r.Encoded)
					if committed.Add(1) == 4000 {
						fmt.Println("ready")
					}
				}
			}
		}()
	}
	select {}
}

// TestAKillAmidConcurrentCommitsLosesOnlyTheWritesInFlight: a process
// whose writers commit outside their lock is killed by SIGKILL; the next
// Open finds no damage, every record intact and in order, and no record
// missing between the oldest and the newest but those whose Commit the
// kill cut short, one a writer at most.
func TestAKillAmidConcurrentCommitsLosesOnlyTheWritesInFlight(t *testing.T) {
	for i := range 5 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			dir := t.TempDir()
			killWhenReady(t, "commits", dir)

			s := openT(t, dir, 1<<16)
			defer s.Close(true)
			assert.Equal(t, Damage{}, s.Damage(), "no damage from a kill")
			got := readAll(s)
			require.NotEmpty(t, got, "records recovered")
			for k, r := range got {
				require.Equal(t, rec(r.Seq), r, "record %d intact", r.Seq)
				if k > 0 {
					require.Greater(t, r.Seq, got[k-1].Seq, "in order, once")
				}
			}
			span := got[len(got)-1].Seq - got[0].Seq + 1
			assert.LessOrEqual(t, span-uint64(len(got)), uint64(commitWriters), "missing between the oldest and the newest: only writes in flight")
			t.Logf("%d records recovered, %d missing in their span", len(got), span-uint64(len(got)))
		})
	}
}

// TestCloseLeavesTheMappingToAStalledCommit: a Commit that has not come
// within closeCommitWait keeps its place mapped: Close says so, and the
// late Commit writes into the file instead of faulting; the next Open
// finds the record, committed late but whole.
func TestCloseLeavesTheMappingToAStalledCommit(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, 1<<16)
	r := rec(1)
	sl := reserveRec(t, s, r)
	err := s.Close(true)
	require.Error(t, err, "Close with a Commit under way")
	assert.Contains(t, err.Error(), "Commit still under way")
	sl.Commit(r.Message, r.Encoded) // late: into the mapping Close left
	c := openT(t, dir, 1<<16)
	defer c.Close(true)
	assert.Equal(t, []Record{r}, readAll(c), "committed late, but whole")
	assert.Equal(t, Damage{}, c.Damage())
}

func TestViewAtIsTheEncodingInTheMappingOrACopyWhereItWraps(t *testing.T) {
	s := openT(t, t.TempDir(), 1<<12)
	defer s.Close(false)
	ring := s.ring
	var views, copies int
	var spare []byte
	for seq := uint64(1); seq <= 400; seq++ { // many laps of a 4 KiB ring
		want := rec(seq)
		require.True(t, appendRec(s, want), "Append %d", seq)
		pos := s.Claim(nil, 1, 1<<20)
		require.Len(t, pos, 1)
		var r Record
		spare = s.ViewAt(pos[0], &r, spare)
		require.Equal(t, want, r, "record %d", seq)
		if s.inRing(r.Encoded) {
			views++
			require.Equal(t, len(r.Encoded), cap(r.Encoded), "record %d: a view's capacity is its length", seq)
			before := bytes.Clone(ring)
			_ = append(r.Encoded, "more"...)
			require.Equal(t, before, ring, "record %d: an append to the view leaves the ring as it was", seq)
		} else {
			copies++
			require.Equal(t, unsafe.SliceData(spare), unsafe.SliceData(r.Encoded), "record %d: the copy is in the spare array returned", seq)
		}
		require.NoError(t, s.Release(1))
	}
	assert.Positive(t, views, "records in one piece are views")
	assert.Positive(t, copies, "records across the ring's end are copies")
}

func TestReadAtIntoARecordHoldingAViewLeavesTheRingAsItWas(t *testing.T) {
	s := openT(t, t.TempDir(), 1<<16)
	defer s.Close(false)
	long, short := rec(40), rec(3) // the second's encoding fits in the first's view
	require.Less(t, len(short.Encoded), len(long.Encoded))
	require.True(t, appendRec(s, long))
	require.True(t, appendRec(s, short))
	pos := s.Claim(nil, 2, 1<<20)
	require.Len(t, pos, 2)
	var r Record
	s.ViewAt(pos[0], &r, nil)
	s.ReadAt(pos[1], &r) // r.Encoded is a view of the first record
	assert.Equal(t, short, r)
	var again Record
	s.ViewAt(pos[0], &again, nil)
	assert.Equal(t, long, again, "the first record, still claimed, is as it was written")
}
