//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package spool

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// damaged builds a spool holding records 1..5 in dir, closes it, and
// returns the data file's path and where each record starts in the file.
func damaged(t *testing.T, dir string, clean bool) (string, []int64) {
	t.Helper()
	s := openT(t, dir, 1<<14)
	var at []int64
	for q := uint64(1); q <= 5; q++ {
		at = append(at, headerSize+s.Used())
		require.True(t, appendRec(s, rec(q)), "Append %d", q)
	}
	require.NoError(t, s.Close(clean), "Close")
	return filepath.Join(dir, dataName), at
}

func patch(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err, "open data file")
	defer f.Close()
	_, err = f.WriteAt(b, off)
	require.NoError(t, err, "patch data file at %d", off)
}

func TestDamage(t *testing.T) {
	size := func(q uint64) int64 { r := rec(q); return RecordSize(len(r.Message), len(r.Encoded)) }
	tests := []struct {
		name     string
		clean    bool
		harm     func(t *testing.T, path string, at []int64)
		want     []uint64
		regions  int
		bytes    int64
		trunc    int64 // Damage.Truncated
		header   bool
		headLost bool // Damage.Head
	}{
		{
			name: "payload byte flipped",
			harm: func(t *testing.T, path string, at []int64) {
				patch(t, path, at[1]+recHeader+3, []byte{0xff})
			},
			want: []uint64{1, 3, 4, 5}, regions: 1, bytes: size(2),
		},
		{
			name:  "payload byte flipped after a clean close",
			clean: true,
			harm: func(t *testing.T, path string, at []int64) {
				patch(t, path, at[1]+recHeader+3, []byte{0xff})
			},
			want: []uint64{1, 3, 4, 5}, regions: 1, bytes: size(2),
		},
		{
			name: "size field garbled",
			harm: func(t *testing.T, path string, at []int64) {
				patch(t, path, at[2]+rSize, binary.LittleEndian.AppendUint32(nil, 0xfffffff8))
			},
			want: []uint64{1, 2, 4, 5}, regions: 1, bytes: size(3),
		},
		{
			name: "two records damaged apart",
			harm: func(t *testing.T, path string, at []int64) {
				patch(t, path, at[0]+rSeq, []byte{9})
				patch(t, path, at[3]+rMagic, []byte{0})
			},
			want: []uint64{2, 3, 5}, regions: 2, bytes: size(1) + size(4),
		},
		{
			name: "tail torn mid-record",
			harm: func(t *testing.T, path string, at []int64) {
				patch(t, path, at[4]+size(5)/2, make([]byte, size(5)/2))
			},
			want: []uint64{1, 2, 3, 4}, regions: 1, bytes: size(5),
		},
		{
			name:  "file truncated mid-record",
			clean: true,
			harm: func(t *testing.T, path string, at []int64) {
				require.NoError(t, os.Truncate(path, at[4]+20), "truncate")
			},
			// Only the torn record's header is known to be lost.
			want: []uint64{1, 2, 3, 4}, regions: 1, bytes: recHeader,
			trunc: -1, // computed below
		},
		{
			name: "header page garbled",
			harm: func(t *testing.T, path string, at []int64) {
				patch(t, path, hCap, []byte{1, 2, 3})
			},
			want: nil, regions: 0, bytes: headerSize + 1<<14, header: true,
		},
		{
			name: "head field garbled",
			harm: func(t *testing.T, path string, at []int64) {
				patch(t, path, hHead+7, []byte{0xff})
			},
			want: []uint64{1, 2, 3, 4, 5}, headLost: true,
		},
		{
			name: "file truncated inside the header page",
			harm: func(t *testing.T, path string, at []int64) {
				require.NoError(t, os.Truncate(path, 100), "truncate")
			},
			// The header's fields survive; every record is cut off.
			want: nil, regions: 0, bytes: 0, trunc: headerSize + 1<<14 - 100,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path, at := damaged(t, dir, tt.clean)
			tt.harm(t, path, at)
			if tt.trunc < 0 {
				tt.trunc = headerSize + 1<<14 - (at[4] + 20)
			}

			s := openT(t, dir, 1<<14)
			defer s.Close(true)
			got := readAll(s)
			assert.Equal(t, tt.want, seqs(got), "records delivered")
			for _, r := range got {
				assert.Equal(t, rec(r.Seq), r, "record %d intact", r.Seq)
			}
			d := s.Damage()
			assert.Equal(t, tt.regions, d.Regions, "damaged regions")
			assert.Equal(t, tt.bytes, d.Bytes, "damaged bytes")
			assert.Equal(t, tt.trunc, d.Truncated, "bytes missing from the file's end")
			assert.Equal(t, tt.header, d.Header, "header reset")
			assert.Equal(t, tt.headLost, d.Head, "head found again by a scan")
			assert.Error(t, d.Err(), "damage reported as an error")
			assert.Equal(t, len(tt.want), s.Replayed(), "Replayed")

			// The spool is usable and the damage gone after a clean cycle.
			require.NoError(t, s.Release(len(got)), "Release")
			require.True(t, appendRec(s, rec(6)), "Append after damage")
			require.NoError(t, s.Close(false), "Close")
			s = openT(t, dir, 1<<14)
			assert.Equal(t, []uint64{6}, seqs(readAll(s)), "records after a second reopen")
			assert.NoError(t, s.Damage().Err(), "no damage reported twice")
		})
	}
}

// FuzzOpenDamaged writes bytes over a spool's file, with wrapped and
// evicted records in it, and checks that Open neither fails nor panics and
// that every record it delivers is one that was appended, intact, in
// order. Each 4 bytes of harm are an offset (2 bytes, scaled to the file),
// a byte to XOR in and a run length.
func FuzzOpenDamaged(f *testing.F) {
	f.Add([]byte{}, uint16(0))
	f.Add([]byte{0x10, 0x00, 0xff, 1}, uint16(0))
	f.Add([]byte{0x20, 0x40, 0x01, 8, 0x00, 0x90, 0x80, 200}, uint16(0))
	f.Add([]byte{0xff, 0xff, 0x55, 255}, uint16(30000))
	f.Add([]byte{0x00, 0x00, 0x01, 1}, uint16(0))   // header page
	f.Add([]byte{0x00, 0x01, 0x04, 4}, uint16(100)) // head field, truncated
	f.Add([]byte{0x80, 0x80, 0x00, 255, 0x90, 0x90, 0x00, 255}, uint16(0))
	f.Fuzz(fuzzBody)
}

func fuzzBody(t *testing.T, harm []byte, truncate uint16) {
	{
		dir := t.TempDir()
		s := openT(t, dir, 8192)
		want := map[uint64]Record{}
		for q := uint64(1); q <= 60; q++ {
			r := rec(q)
			if !appendRec(s, r) {
				readAll(s)
				require.NoError(t, s.Release(s.Len()-s.Unread()), "Release")
				require.True(t, appendRec(s, r), "Append %d after Release", q)
			}
			want[q] = r
			if q%9 == 0 {
				m, ok := s.Evict(4)
				if ok {
					delete(want, m.Seq)
				}
			}
		}
		require.NoError(t, s.Close(truncate%2 == 0), "Close")

		path := filepath.Join(dir, dataName)
		b, err := os.ReadFile(path)
		require.NoError(t, err, "read data file")
		for ; len(harm) >= 4; harm = harm[4:] {
			off := int(binary.LittleEndian.Uint16(harm)) * len(b) / 65536
			for i := off; i < min(len(b), off+int(harm[3])); i++ {
				b[i] ^= harm[2]
			}
		}
		if truncate > 1 {
			b = b[:int(truncate)*len(b)/65536]
		}
		require.NoError(t, os.WriteFile(path, b, 0o600), "write data file")

		s, err = Open(dir, 8192)
		require.NoError(t, err, "Open a damaged spool")
		defer s.Close(false)
		var last uint64
		for _, r := range readAll(s) {
			w, ok := want[r.Seq]
			require.True(t, ok, "record %d was appended and not evicted or released", r.Seq)
			require.Equal(t, w, r, "record %d intact", r.Seq)
			require.Greater(t, r.Seq, last, "records in order")
			last = r.Seq
		}
	}
}

// TestHeadDamaged: the head field (where the oldest record not released
// starts) is kept twice, each copy with a check. A damaged head is found
// again by reading the ring and reported; the records released before it
// do not come back, and none queued is lost, whether the ring has wrapped
// or not. A crash between the two stores of the head is not damage.
func TestHeadDamaged(t *testing.T) {
	le := binary.LittleEndian
	tests := []struct {
		name     string
		total    uint64 // records appended; all but the last 40 released
		harm     func(b []byte)
		headLost bool
	}{
		{"zeroed before the ring wraps", 200, func(b []byte) { clear(b[hHead : hHead+8]) }, true},
		{"zeroed after it wrapped", 3000, func(b []byte) { clear(b[hHead : hHead+8]) }, true},
		{"both copies zeroed", 3000, func(b []byte) { clear(b[hHead : hHead+8]); clear(b[hHead2 : hHead2+8]) }, true},
		{"garbled", 3000, func(b []byte) { b[hHead+2] ^= 0x10 }, true},
		{"copy ahead of the head", 3000, func(b []byte) {
			h, _ := unpackHead(le.Uint64(b[hHead:]))
			le.PutUint64(b[hHead2:], packHead(h+8))
		}, true},
		{"crash between the two stores", 3000, func(b []byte) {
			le.PutUint64(b[hHead2:], packHead(0)) // the copy one step behind
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir, 1<<16)
			for q := uint64(1); q <= tt.total; q++ {
				require.True(t, appendRec(s, rec(q)), "Append %d", q)
				if q%40 == 0 && q < tt.total {
					readAll(s)
					require.NoError(t, s.Release(s.Len()), "Release")
				}
			}
			require.NoError(t, s.Close(false), "Close")
			path := filepath.Join(dir, dataName)
			b, err := os.ReadFile(path)
			require.NoError(t, err, "read data file")
			tt.harm(b)
			require.NoError(t, os.WriteFile(path, b, 0o600), "write data file")

			s = openT(t, dir, 1<<16)
			defer s.Close(true)
			got := readAll(s)
			var want []uint64
			for q := tt.total - 39; q <= tt.total; q++ {
				want = append(want, q)
			}
			assert.Equal(t, want, seqs(got), "the records not released, no others")
			d := s.Damage()
			assert.Equal(t, tt.headLost, d.Head, "head damage found")
			assert.Zero(t, d.Regions, "no damaged region")
			if tt.headLost {
				assert.ErrorContains(t, d.Err(), "head field damaged", "reported")
			}
		})
	}
	assert.NotEqual(t, uint64(0), packHead(0), "a zeroed head field is never a valid head")
}
