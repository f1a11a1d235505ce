package asynclog

import (
	"bytes"
	"runtime"
	"strconv"
)

// goid returns the calling goroutine's id, read from its stack header
// ("goroutine 42 [running]:"). It costs about a microsecond, so it is read
// only where a call might come from the consumer itself: to refuse, rather
// than deadlock on, a Flush or Close from a Sink or OnError.
func goid() int64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return -1
	}
	return id
}
