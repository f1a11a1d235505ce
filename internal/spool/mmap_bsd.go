//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package spool

import "syscall"

// mapFlags maps the data file shared.
const mapFlags = syscall.MAP_SHARED
