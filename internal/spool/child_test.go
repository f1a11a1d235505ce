//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package spool

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
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
	s, err := Open(os.Getenv(dirEnv), 1<<16)
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
		// drop the oldest unread for ever: every Evict moves the batch.
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
			cmd := child(t, "spin", dir)
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err, "stdout pipe")
			require.NoError(t, cmd.Start(), "start child")
			t.Cleanup(func() { _ = cmd.Process.Kill() }) // if the test fails first
			line, err := bufio.NewReader(stdout).ReadString('\n')
			require.NoError(t, err, "child's ready line")
			require.Equal(t, "ready\n", line, "child's ready line")
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL), "SIGKILL the child")
			err = cmd.Wait()
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "child's exit: %v", err)
			ws := exit.Sys().(syscall.WaitStatus)
			require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "child killed by SIGKILL: %v", ws)

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

// TestChildKilledMidEvict: a child is killed while Evict moves its batch
// of 64 read records over the record it drops. With records of one size
// no read record may be lost; one may come back twice.
func TestChildKilledMidEvict(t *testing.T) {
	for i := range 4 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			dir := t.TempDir()
			cmd := child(t, "evict", dir)
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
			assert.LessOrEqual(t, dups, 1, "records delivered twice")
			t.Logf("%d records, %d twice, damage %+v", len(got), dups, s.Damage())
		})
	}
}

// TestChildPanicCrashReport: a child that panics after ArmCrashOutput
// leaves its crash report, panic value and stack, for the next Open, which
// delivers it once; its record is kept too.
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
