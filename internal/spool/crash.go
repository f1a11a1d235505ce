package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
)

// armed is the Spool whose directory receives the runtime's crash output:
// the runtime keeps one crash output per process, so this is package
// state, and Close disarms only the Spool that armed last.
var armed struct {
	mu sync.Mutex
	s  *Spool
}

// ArmCrashOutput makes the runtime copy its crash report (an unrecovered
// panic or a fatal error, with the goroutine stacks; see
// [debug.SetCrashOutput]) to the file "crash" in the spool's directory, as
// well as to standard error, so that the next [Open] of the directory gets
// it through [Spool.CrashReport].
//
// The runtime keeps one crash output per process: arming a second Spool
// replaces the first one's, and the last armed wins. [Spool.Close]
// disarms the output only if this Spool is the one armed last. Nothing is
// written for SIGKILL or os.Exit: the runtime runs nothing then. For a
// fatal error that is not a panic (such as concurrent map writes) the
// runtime writes its first line, "fatal error: ...", to standard error
// only: the report starts with the goroutine stacks.
//
// A report still in the file (one [Spool.RemoveCrashReport] was not called
// for) is kept: the next report is appended to it.
func (s *Spool) ArmCrashOutput() error {
	if s.ring == nil {
		return fmt.Errorf("spool: arm crash output: %w", ErrClosed)
	}
	f, err := os.OpenFile(filepath.Join(s.dir, crashName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool: arm crash output: %w", err)
	}
	armed.mu.Lock()
	defer armed.mu.Unlock()
	err = debug.SetCrashOutput(f, debug.CrashOptions{})
	// SetCrashOutput keeps a duplicate of the descriptor.
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool: arm crash output: %w", err)
	}
	armed.s = s
	return nil
}

// disarm stops the crash output if s armed it last, and removes the crash
// file if nothing was written to it.
func (s *Spool) disarm() error {
	armed.mu.Lock()
	defer armed.mu.Unlock()
	if armed.s != s {
		return nil
	}
	armed.s = nil
	if err := debug.SetCrashOutput(nil, debug.CrashOptions{}); err != nil {
		return fmt.Errorf("spool: disarm crash output: %w", err)
	}
	path := filepath.Join(s.dir, crashName)
	if fi, err := os.Stat(path); err == nil && fi.Size() == 0 {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("spool: remove crash output: %w", err)
		}
	}
	return nil
}

// takeCrash reads an earlier run's crash report from the directory into
// s.crash. The file stays until RemoveCrashReport, so that a process that
// dies before it stored the report elsewhere does not lose it.
func (s *Spool) takeCrash() {
	path := filepath.Join(s.dir, crashName)
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return
	}
	s.crash = Crash{Text: string(b), Time: fi.ModTime()}
}

// RemoveCrashReport removes the crash report Open found from the
// directory, once the caller has stored it (as a record in this spool), so
// that it is delivered once. [Spool.CrashReport] still returns it.
func (s *Spool) RemoveCrashReport() error {
	if s.crash.Text == "" {
		return nil
	}
	if err := os.Remove(filepath.Join(s.dir, crashName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool: remove crash report: %w", err)
	}
	return nil
}
