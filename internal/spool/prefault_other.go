//go:build !linux

package spool

import "os"

// populateWrite does nothing where MADV_POPULATE_WRITE is not known.
func populateWrite([]byte) {}

// writesBack is true: populateWrite does nothing here anyway.
func writesBack(*os.File) bool { return true }
