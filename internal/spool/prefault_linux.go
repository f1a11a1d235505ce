package spool

import (
	"os"
	"syscall"
	"unsafe"
)

// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14): fault the range
// in, writable, as if each page were written, without writing.
const madvPopulateWrite = 23

// populateWrite asks the kernel to make b's pages present and writable.
// Older kernels answer EINVAL, which is ignored: the pages fault on write
// as before.
func populateWrite(b []byte) {
	const page = 4096
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	start := p &^ (page - 1)
	end := (p + uintptr(len(b)) + page - 1) &^ (page - 1)
	if end <= start {
		return
	}
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, start, end-start, madvPopulateWrite)
}

// The file systems that keep their files in memory only: no write-back,
// so a page of a shared mapping, once present and writable, stays so.
const (
	tmpfsMagic = 0x01021994
	ramfsMagic = 0x858458f6
)

// writesBack reports whether f's file system writes dirty pages back
// (true when statfs fails: Prefault then runs, as it is harmless).
func writesBack(f *os.File) bool {
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(int(f.Fd()), &st); err != nil {
		return true
	}
	t := uint32(st.Type) // a 32-bit field on some platforms
	return t != tmpfsMagic && t != ramfsMagic
}
