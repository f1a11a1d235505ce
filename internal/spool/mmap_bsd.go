//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package spool

import (
	"os"
	"syscall"
)

// mapFlags maps the data file shared.
const mapFlags = syscall.MAP_SHARED

// preallocate does nothing here: the data file stays sparse, and a store
// into a page of it on a full disk raises SIGBUS.
func preallocate(*os.File, int64) error { return nil }
