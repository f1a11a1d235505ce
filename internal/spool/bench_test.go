//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package spool

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ring is the contender the benchmarks measure the Spool against: the same
// framing in a plain []byte on the heap, without CRC, mapping or recovery.
type ring struct {
	buf            []byte
	head, rd, tail uint64
	n, nrd         int
}

func (r *ring) append(seq uint64, level int32, t int64, msg string, enc []byte) bool {
	size := align8(recHeader + uint64(len(msg)) + uint64(len(enc)))
	if size > uint64(len(r.buf))-(r.tail-r.head) {
		return false
	}
	var h [recHeader]byte
	binary.LittleEndian.PutUint64(h[rSeq:], seq)
	binary.LittleEndian.PutUint64(h[rTime:], uint64(t))
	binary.LittleEndian.PutUint32(h[rLevel:], uint32(level))
	binary.LittleEndian.PutUint32(h[rSize:], uint32(size))
	binary.LittleEndian.PutUint32(h[rMsgLen:], uint32(len(msg)))
	binary.LittleEndian.PutUint32(h[rEncLen:], uint32(len(enc)))
	x := r.put(r.tail, h[:])
	x = r.put(x, []byte(msg))
	r.put(x, enc)
	r.tail += size
	r.n++
	return true
}

func (r *ring) put(x uint64, b []byte) uint64 {
	p := x % uint64(len(r.buf))
	c := copy(r.buf[p:], b)
	copy(r.buf, b[c:])
	return x + uint64(len(b))
}

func (r *ring) get(b []byte, x, n uint64) []byte {
	p := x % uint64(len(r.buf))
	first := min(n, uint64(len(r.buf))-p)
	b = append(b, r.buf[p:p+first]...)
	return append(b, r.buf[:n-first]...)
}

func (r *ring) read(out *Record) bool {
	if r.rd == r.tail {
		return false
	}
	// Header fields are 8-byte aligned pieces, never cut by the end.
	f := func(off uint64) []byte { return r.buf[(r.rd+off)%uint64(len(r.buf)):] }
	msgLen := uint64(binary.LittleEndian.Uint32(f(rMsgLen)))
	encLen := uint64(binary.LittleEndian.Uint32(f(rEncLen)))
	out.Seq = binary.LittleEndian.Uint64(f(rSeq))
	out.Time = int64(binary.LittleEndian.Uint64(f(rTime)))
	out.Level = int32(binary.LittleEndian.Uint32(f(rLevel)))
	out.Encoded = r.get(out.Encoded[:0], r.rd+recHeader+msgLen, encLen)
	r.rd += uint64(binary.LittleEndian.Uint32(f(rSize)))
	r.nrd++
	return true
}

func (r *ring) release(n int) {
	for range n {
		r.head += uint64(binary.LittleEndian.Uint32(r.buf[(r.head+rSize)%uint64(len(r.buf)):]))
	}
	r.n -= n
	r.nrd -= n
}

// store is what both contenders offer the benchmarks.
type store struct {
	append  func(seq uint64, level int32, t int64, msg string, enc []byte) bool
	read    func(*Record) bool
	release func(int)
	unread  func() int
}

const benchCap = 64 << 20 // the queue's default SpoolBytes

func contenders(b *testing.B) map[string]func(*testing.B) store {
	return map[string]func(*testing.B) store{
		"spool": func(b *testing.B) store {
			s := openT(b, b.TempDir(), benchCap)
			b.Cleanup(func() { s.Close(false) })
			return store{s.Append, s.Read, func(n int) { _ = s.Release(n) }, s.Unread}
		},
		"memring": func(b *testing.B) store {
			r := &ring{buf: make([]byte, benchCap)}
			return store{r.append, r.read, r.release, func() int { return r.n - r.nrd }}
		},
	}
}

// benchRecord is a 200-byte record in the ring: header, a 20-byte message
// and a 132-byte JSON object.
var (
	benchMsg = "request handled okay"
	benchEnc = []byte(`{"level":"info","msg":"request handled okay","path":"/api/v1/items","status":200,"bytes":5123,"dur":0.0042,"id":"` + strings.Repeat("a", 17) + `"}`)
)

func BenchmarkAppend(b *testing.B) {
	if RecordSize(len(benchMsg), len(benchEnc)) != 200 {
		b.Fatalf("bench record is %d bytes", RecordSize(len(benchMsg), len(benchEnc)))
	}
	for _, name := range []string{"spool", "memring"} {
		b.Run(name, func(b *testing.B) {
			st := contenders(b)[name](b)
			var r Record
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if !st.append(uint64(i), 0, int64(i), benchMsg, benchEnc) {
					b.StopTimer()
					n := 0
					for st.read(&r) {
						n++
					}
					st.release(n)
					b.StartTimer()
					st.append(uint64(i), 0, int64(i), benchMsg, benchEnc)
				}
			}
		})
	}
}

// BenchmarkAppendReadRelease is the queue's steady state: each record is
// appended, read and, in batches of 64, released.
func BenchmarkAppendReadRelease(b *testing.B) {
	for _, name := range []string{"spool", "memring"} {
		b.Run(name, func(b *testing.B) {
			st := contenders(b)[name](b)
			var r Record
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				st.append(uint64(i), 0, int64(i), benchMsg, benchEnc)
				if st.unread() == 64 {
					for st.read(&r) {
					}
					st.release(64)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
		})
	}
}

// BenchmarkSync is the cost of making an Append survive a power loss too.
func BenchmarkSync(b *testing.B) {
	s := openT(b, b.TempDir(), 1<<20)
	b.Cleanup(func() { s.Close(false) })
	var r Record
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s.Append(uint64(i), 0, 0, benchMsg, benchEnc)
		require.NoError(b, s.Sync(), "Sync")
		s.Read(&r)
		_ = s.Release(1)
	}
}

// BenchmarkOpen is the start-up cost of a full 64 MiB spool of 200-byte
// records left by a crash (a scan of the whole ring) or by a clean Close.
func BenchmarkOpen(b *testing.B) {
	for _, clean := range []bool{false, true} {
		name := "unclean"
		if clean {
			name = "clean"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			s := openT(b, dir, benchCap)
			for i := 0; s.Append(uint64(i), 0, 0, benchMsg, benchEnc); i++ {
			}
			n := s.Len()
			require.NoError(b, s.Close(clean), "Close")
			b.ResetTimer()
			for range b.N {
				s = openT(b, dir, benchCap)
				if s.Replayed() != n {
					b.Fatalf("replayed %d of %d", s.Replayed(), n)
				}
				require.NoError(b, s.Close(clean), "Close")
			}
			b.ReportMetric(float64(n), "records")
		})
	}
}

// BenchmarkEvict is drop-oldest on a full spool of 200-byte records with
// none or a batch of 64 read and not released: each op evicts the oldest
// unread record and appends one, after the newest record if the evicted
// one was at the head, else in the hole it left behind the read ones.
func BenchmarkEvict(b *testing.B) {
	for _, inFlight := range []int{0, 64} {
		b.Run(fmt.Sprintf("read=%d", inFlight), func(b *testing.B) {
			s := openT(b, b.TempDir(), 1<<20)
			b.Cleanup(func() { s.Close(false) })
			for i := 0; s.Append(uint64(i), 0, 0, benchMsg, benchEnc); i++ {
			}
			var r Record
			for range inFlight {
				s.Read(&r)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, ok := s.Evict(1 << 30); !ok {
					b.Fatal("Evict found nothing")
				}
				if !s.Append(uint64(i), 0, 0, benchMsg, benchEnc) {
					b.Fatal("Append after Evict")
				}
			}
		})
	}
}
