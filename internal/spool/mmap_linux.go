package spool

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// mapFlags maps the data file shared and populates the page tables at once,
// so that neither recovery nor the first lap of Appends pays a page fault
// per page.
const mapFlags = syscall.MAP_SHARED | syscall.MAP_POPULATE

// preallocate reserves the data file's blocks, so that a store into the
// mapping never meets a full disk: a page the filesystem cannot back would
// kill the process with SIGBUS instead of making Open fail.
func preallocate(f *os.File, size int64) error {
	for {
		err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EOPNOTSUPP):
			return nil // the filesystem cannot; the file stays sparse
		case err != nil:
			return fmt.Errorf("spool: allocate data: %w", err)
		}
		return nil
	}
}
