//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package spool_test

import (
	"fmt"
	"os"

	"github.com/asynclog/asynclog/internal/spool"
)

// A record appended by one run and not released is read back by the next,
// here after a Close(false), which leaves the file as a crash would.
func Example() {
	dir, err := os.MkdirTemp("", "spool-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	s, err := spool.Open(dir, 1<<20)
	if err != nil {
		panic(err)
	}
	s.Append(1, 0, 1700000000000000000, "hello", []byte(`{"msg":"hello"}`))
	s.Append(2, 4, 1700000000000000001, "careful", []byte(`{"msg":"careful"}`))
	var r spool.Record
	s.Read(&r) // read, handed to a sink...
	_ = s.Release(1)
	s.Read(&r) // ...read but not released when the process dies
	_ = s.Close(false)

	s, err = spool.Open(dir, 1<<20)
	if err != nil {
		panic(err)
	}
	defer s.Close(true)
	fmt.Println("replayed:", s.Replayed())
	for s.Read(&r) {
		fmt.Println(r.Seq, r.Level, r.Message, string(r.Encoded))
	}
	// Output:
	// replayed: 1
	// 2 4 careful {"msg":"careful"}
}
