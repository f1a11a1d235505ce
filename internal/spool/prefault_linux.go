package spool

import (
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
