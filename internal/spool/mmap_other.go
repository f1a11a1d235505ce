//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package spool

import "os"

// lockFile fails: this platform lacks the flock and mmap a Spool needs, so
// Open returns an error wrapping ErrUnsupported.
func lockFile(string) (*os.File, error) { return nil, ErrUnsupported }

func mapFile(*os.File, int) ([]byte, error) { return nil, ErrUnsupported }

func unmapFile([]byte) error { return ErrUnsupported }

func preallocate(*os.File, int64) error { return ErrUnsupported }

const supported = false
