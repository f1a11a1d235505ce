//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package spool

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	dirEnv       = "ASYNCLOG_SPOOL_DIR"
	childRecords = 100
	panicValue   = "spool child panics on purpose"
)

// runChild is the child process's part: "hold" opens the spool, appends
// childRecords records, says "ready" and waits to be killed; "panic" arms
// the crash output and panics.
func runChild(mode string) {
	capacity := int64(1 << 16)
	if mode == "drop" {
		capacity = dropCap
	}
	s, err := Open(os.Getenv(dirEnv), capacity)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(4)
	}
	switch mode {
	case "hold":
		for q := uint64(1); q <= childRecords; q++ {
			appendRec(s, rec(q))
		}
		// Read a few without releasing: they must come back too.
		for range 10 {
			s.Read(new(Record))
		}
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin) // until killed
		os.Exit(5)
	case "commits":
		runCommitsChild(s)
	case "spin":
		// Append for ever, releasing the older half whenever full, so
		// that SIGKILL lands at a random point of Append or Release.
		for q := uint64(1); ; q++ {
			for !appendRec(s, rec(q)) {
				half := s.Len() / 2
				for range half {
					s.Read(new(Record))
				}
				_ = s.Release(half)
			}
			if q == 2000 {
				fmt.Println("ready")
			}
		}
	case "evict":
		// Fill with records of one size, read a batch of 64 and then
		// drop the oldest unread for ever: each new record goes in the
		// hole its Evict left behind the batch.
		q := uint64(1)
		for ; appendRec(s, sameSize(q)); q++ {
		}
		for range 64 {
			s.Read(new(Record))
		}
		for n := 0; ; n++ {
			if _, ok := s.Evict(math.MaxInt32); !ok || !appendRec(s, sameSize(q)) {
				fmt.Fprintln(os.Stderr, "child: Evict or Append refused")
				os.Exit(4)
			}
			q++
			if n == 500 {
				fmt.Println("ready")
			}
		}
	case "drop":
		runDropChild(s)
	case "panic":
		if err := s.ArmCrashOutput(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(4)
		}
		appendRec(s, rec(1))
		childPanics()
	}
}

func childPanics() { panic(panicValue) }

// sameSize returns record seq, 200 bytes in the ring whatever seq is.
func sameSize(seq uint64) Record {
	return Record{Seq: seq, Time: int64(seq), Message: "evict", Encoded: fmt.Appendf(nil, "%0147d", seq)}
}

// killWhenReady runs a child in mode on dir, waits for its "ready" line,
// kills it with SIGKILL at that instant and checks that SIGKILL ended it.
func killWhenReady(t *testing.T, mode, dir string) {
	t.Helper()
	cmd := child(t, mode, dir)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err, "stdout pipe")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start(), "start child")
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // if the test fails first
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "child's ready line; stderr: %s", stderr.String())
	require.Equal(t, "ready\n", line, "child's ready line")
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL), "SIGKILL the child")
	err = cmd.Wait()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "child's exit: %v", err)
	ws := exit.Sys().(syscall.WaitStatus)
	require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "child killed by SIGKILL: %v", ws)
}

func child(t *testing.T, mode, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, dirEnv+"="+dir)
	return cmd
}

// TestChildKilled: a spool held by another process is in use; once that
// process is killed by SIGKILL, which runs nothing of ours, its records
// are all there, the read but unreleased ones included.
func TestChildKilled(t *testing.T) {
	dir := t.TempDir()
	cmd := child(t, "hold", dir)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err, "stdin pipe")
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err, "stdout pipe")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start(), "start child")
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // if the test fails first

	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "child's ready line; stderr: %s", stderr.String())
	require.Equal(t, "ready\n", line, "child's ready line")

	_, err = Open(dir, 1<<16)
	assert.ErrorIs(t, err, ErrInUse, "Open while the child holds the spool")

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL), "SIGKILL the child")
	err = cmd.Wait()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "child's exit: %v", err)
	ws := exit.Sys().(syscall.WaitStatus)
	require.True(t, ws.Signaled(), "child ended by a signal: %v", ws)
	assert.Equal(t, syscall.SIGKILL, ws.Signal(), "child killed by SIGKILL")

	s := openT(t, dir, 1<<16)
	defer s.Close(true)
	assert.Equal(t, childRecords, s.Replayed(), "Replayed: every record the child appended")
	assert.Equal(t, Damage{}, s.Damage(), "no damage")
	got := readAll(s)
	require.Len(t, got, childRecords, "records recovered")
	for i, r := range got {
		assert.Equal(t, rec(uint64(i+1)), r, "record %d", i+1)
	}
}

// TestChildKilledMidAppend: a child appending and releasing as fast as it
// can is killed at a random instant; the records it leaves are intact,
// contiguous and undamaged, because Append writes the magic last and
// Release moves head with one store.
func TestChildKilledMidAppend(t *testing.T) {
	for i := range 3 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			dir := t.TempDir()
			killWhenReady(t, "spin", dir)

			s := openT(t, dir, 1<<16)
			defer s.Close(true)
			assert.Equal(t, Damage{}, s.Damage(), "no damage from a kill")
			got := readAll(s)
			require.NotEmpty(t, got, "records recovered")
			for k, r := range got {
				require.Equal(t, got[0].Seq+uint64(k), r.Seq, "records contiguous")
				require.Equal(t, rec(r.Seq), r, "record %d intact", r.Seq)
			}
			assert.GreaterOrEqual(t, got[len(got)-1].Seq, uint64(2000), "the newest records are there")
		})
	}
}

// TestChildKilledMidEvict: a child is killed while it evicts the oldest
// unread record behind a batch of 64 read ones, over and over, and puts a
// new record in its place. No read record is lost, none comes back twice,
// and nothing is damaged.
func TestChildKilledMidEvict(t *testing.T) {
	for i := range 4 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			dir := t.TempDir()
			killWhenReady(t, "evict", dir)

			s := openT(t, dir, 1<<16)
			defer s.Close(true)
			got := readAll(s)
			seen := map[uint64]bool{}
			dups := 0
			for k, r := range got {
				require.Equal(t, sameSize(r.Seq), r, "record %d intact", r.Seq)
				if k > 0 {
					require.GreaterOrEqual(t, r.Seq, got[k-1].Seq, "records in order")
				}
				if seen[r.Seq] {
					dups++
				}
				seen[r.Seq] = true
			}
			for q := uint64(1); q <= 64; q++ {
				assert.True(t, seen[q], "read record %d kept", q)
			}
			assert.Zero(t, dups, "records delivered twice")
			assert.Equal(t, Damage{}, s.Damage(), "no damage from a kill")
		})
	}
}

// TestChildPanicCrashReport: a child that panics after ArmCrashOutput
// leaves its crash report, panic value and stack, for the next Open; the
// report stays until RemoveCrashReport, so it is delivered once; its
// record is kept too.
func TestChildPanicCrashReport(t *testing.T) {
	dir := t.TempDir()
	cmd := child(t, "panic", dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "child's exit: %v", err)
	assert.Equal(t, 2, exit.ExitCode(), "an unrecovered panic exits 2; stderr: %s", stderr.String())

	s := openT(t, dir, 1<<16)
	c, ok := s.CrashReport()
	require.True(t, ok, "crash report found")
	assert.Contains(t, c.Text, "panic: "+panicValue, "report has the panic value")
	assert.Contains(t, c.Text, "goroutine ", "report has a goroutine stack")
	assert.Contains(t, c.Text, "childPanics", "report has the panicking function")
	assert.WithinDuration(t, start, c.Time, time.Minute, "report's time")
	assert.Equal(t, []uint64{1}, seqs(readAll(s)), "the child's record")
	require.NoError(t, s.Close(true), "Close")

	s = openT(t, dir, 1<<16)
	c2, ok := s.CrashReport()
	assert.True(t, ok && c2.Text == c.Text, "the report stays until removed")
	require.NoError(t, s.ArmCrashOutput(), "arm")
	b, err := os.ReadFile(filepath.Join(dir, crashName))
	require.NoError(t, err, "read the crash file")
	assert.Equal(t, c.Text, string(b), "arming keeps a report not removed")
	require.NoError(t, s.Close(true), "Close")

	s = openT(t, dir, 1<<16)
	require.NoError(t, s.RemoveCrashReport(), "RemoveCrashReport")
	require.NoError(t, s.Close(true), "Close")

	s = openT(t, dir, 1<<16)
	defer s.Close(true)
	_, ok = s.CrashReport()
	assert.False(t, ok, "the crash report is delivered once")
}

// TestArmCrashOutput: Close disarms the output it armed and leaves no
// empty report behind; a second Spool's arming replaces the first's.
func TestArmCrashOutput(t *testing.T) {
	a := openT(t, t.TempDir(), 4096)
	b := openT(t, t.TempDir(), 4096)
	require.NoError(t, a.ArmCrashOutput(), "arm a")
	require.NoError(t, b.ArmCrashOutput(), "arm b replaces a")
	require.NoError(t, a.Close(true), "Close a, not armed last")
	_, err := os.Stat(a.Dir() + "/" + crashName)
	assert.NoError(t, err, "a's crash file stays: a no longer owns the output")
	require.NoError(t, b.Close(true), "Close b disarms")
	_, err = os.Stat(b.Dir() + "/" + crashName)
	assert.ErrorIs(t, err, os.ErrNotExist, "b's empty crash file removed")
}

// keepLevel is the level the "drop" child keeps: its Error records;
// dropCap its spool's size.
const (
	keepLevel = 8
	dropCap   = 1 << 20
)

// mixed returns record seq of the "drop" child: every 16th an Error of 2
// to 8 KB, the others Info records of 60 to 200 bytes, sizes fixed by seq.
func mixed(seq uint64) Record {
	h := seq * 0x9e3779b97f4a7c15
	if seq%16 == 0 {
		return Record{Seq: seq, Level: keepLevel, Time: int64(seq), Message: "error", Encoded: fmt.Appendf(nil, "%0*d", 2048+int(h>>52)%6144, seq)}
	}
	return Record{Seq: seq, Level: 0, Time: int64(seq), Message: "info", Encoded: fmt.Appendf(nil, "%0*d", 60+int(h>>56)%140, seq)}
}

// runDropChild is a queue in DropOldest mode behind a sink that takes a
// batch of 8 only every 256 records: the 1 MiB spool is full, every Info
// record evicts the oldest unread Info record, kept Error records pile up
// in front of it (an Error record that finds nothing to evict is not
// appended). It writes "a <seq>" once an Error record is appended and
// "r <seq>" before it releases a batch whose newest record is seq, each
// line in one unbuffered write, so that the parent never believes more
// than happened.
func runDropChild(s *Spool) {
	say := func(f string, v uint64) { _, _ = os.Stdout.WriteString(fmt.Sprintf(f, v)) }
	var batch uint64 // newest seq read and not released
	nread := 0
	for q := uint64(1); ; q++ {
		r := mixed(q)
		ok := appendRec(s, r)
		for !ok {
			if _, ev := s.Evict(keepLevel); !ev {
				break
			}
			ok = appendRec(s, r)
		}
		if ok && r.Level >= keepLevel {
			say("a %d\n", q)
		}
		if q%256 == 0 {
			if nread > 0 {
				say("r %d\n", batch)
				if err := s.Release(nread); err != nil {
					fmt.Fprintln(os.Stderr, "child:", err)
					os.Exit(4)
				}
			}
			nread = 0
			var rr Record
			for nread < 8 && s.Read(&rr) {
				batch = rr.Seq
				nread++
			}
		}
		if q == 4000 {
			fmt.Println("ready")
		}
	}
}

// TestChildKilledMidDropOldest: a child evicting Info records from behind
// piles of kept Error records (see runDropChild) is killed with SIGKILL at
// many points, inside Evict among them. After each kill, the spool holds
// every Error record the child appended and did not release, no record
// twice, every record intact and in order, and no damage.
func TestChildKilledMidDropOldest(t *testing.T) {
	kills := 40
	if testing.Short() {
		kills = 10
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 18))
	evicting := 0
	defer func() { t.Logf("%d kills; %d Error records appended and checked", kills, evicting) }()
	for i := range kills {
		dir := t.TempDir()
		cmd := child(t, "drop", dir)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err, "stdout pipe")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start(), "start child")
		t.Cleanup(func() { _ = cmd.Process.Kill() }) // if the test fails first
		sc := bufio.NewScanner(stdout)
		var released uint64
		acked := map[uint64]bool{}
		note := func(line string) {
			var v uint64
			if _, err := fmt.Sscanf(line, "a %d", &v); err == nil {
				acked[v] = true
			} else if _, err := fmt.Sscanf(line, "r %d", &v); err == nil {
				released = v
			}
		}
		for sc.Scan() && sc.Text() != "ready" {
			note(sc.Text())
		}
		require.NoError(t, sc.Err(), "child's lines; stderr: %s", stderr.String())
		// Kill after a random number of further lines: the instant falls
		// anywhere in the loop, most often inside Evict, where it spends
		// most of its time.
		for n := rng.IntN(64); n > 0 && sc.Scan(); n-- {
			note(sc.Text())
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL), "SIGKILL the child")
		for sc.Scan() { // lines written before the kill
			note(sc.Text())
		}
		err = cmd.Wait()
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "child's exit: %v; stderr: %s", err, stderr.String())
		ws := exit.Sys().(syscall.WaitStatus)
		require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "child killed by SIGKILL: %v", ws)

		s := openT(t, dir, dropCap)
		got := readAll(s)
		d := s.Damage()
		require.NoError(t, s.Close(false), "Close")
		have := map[uint64]bool{}
		for k, r := range got {
			require.Equal(t, mixed(r.Seq), r, "kill %d: record %d intact", i, r.Seq)
			if k > 0 {
				require.Greater(t, r.Seq, got[k-1].Seq, "kill %d: records in order, none twice", i)
			}
			have[r.Seq] = true
		}
		assert.Equal(t, Damage{}, d, "kill %d: no damage from a kill", i)
		var lost []uint64
		for q := range acked {
			if q > released && !have[q] {
				lost = append(lost, q)
			}
		}
		require.Empty(t, lost, "kill %d: Error records appended after the last release (seq %d) lost", i, released)
		evicting += len(acked)
	}
}
