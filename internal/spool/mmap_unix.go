//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package spool

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile opens path and takes an exclusive flock on it, which the kernel
// drops when the file is closed or the process dies. flock locks belong to
// the open file, so a second lockFile of the same path fails in this
// process too.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: open lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrInUse, path)
		}
		return nil, fmt.Errorf("spool: lock: %w", err)
	}
	return f, nil
}

// mapFile maps the first size bytes of f shared, readable and writable.
func mapFile(f *os.File, size int) ([]byte, error) {
	mem, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, mapFlags)
	if err != nil {
		return nil, fmt.Errorf("spool: mmap: %w", err)
	}
	return mem, nil
}

func unmapFile(mem []byte) error { return syscall.Munmap(mem) }

const supported = true
