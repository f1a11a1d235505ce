//go:build !linux

package spool

// populateWrite does nothing where MADV_POPULATE_WRITE is not known.
func populateWrite([]byte) {}
