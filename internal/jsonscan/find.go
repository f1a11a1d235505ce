package jsonscan

import (
	"encoding/binary"
	"math/bits"
)

// FindMember returns the value of the first top-level member of the
// object in b whose key is k1 or k2 (k2 "" names none), as written: a
// string with its quotes and escapes. Keys are compared as written, so a
// key spelled with escapes matches no k1 or k2 without a backslash. The
// members before it are walked in one loop, their values skipped as
// [SkipValue] skips them, unchecked. ok is false if there is no such
// member, or the text is malformed before its value ends.
//
// It does not allocate, and makes no call but for a value that is an
// object or array: it is the io.Writer front end's level lookup, on the
// log call.
func FindMember(b []byte, k1, k2 string) (v []byte, ok bool) {
	i := SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	for i++; ; i++ { // i just past '{' or ','
		if i = SkipSpace(b, i); i >= len(b) || b[i] != '"' {
			return nil, false // '}' (no such member) or malformed
		}
		end := SkipString(b, i)
		if end < 0 {
			return nil, false
		}
		key := b[i+1 : end-1]
		match := string(key) == k1 || (k2 != "" && string(key) == k2)
		if i = SkipSpace(b, end); i >= len(b) || b[i] != ':' {
			return nil, false
		}
		start := SkipSpace(b, i+1)
		switch i = start; {
		case i >= len(b):
			return nil, false
		case b[i] == '"': // SkipString, eight bytes at a time
			for i = plainWords(b, i+1); i < len(b) && b[i] != '"'; i = plainWords(b, i) {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			if i++; i > len(b) {
				return nil, false
			}
		case b[i] == '{' || b[i] == '[':
			if i = SkipValue(b, i); i < 0 {
				return nil, false
			}
		default:
			if i = skipBare(b, i); i == start {
				return nil, false
			}
		}
		if match {
			return b[start:i], true
		}
		if i = SkipSpace(b, i); i >= len(b) || b[i] != ',' {
			return nil, false
		}
	}
}

// plainWords passes over the bytes of b from j that are neither '"' nor
// '\\', eight at a time: it returns the index of the first '"' or '\\' in
// the whole words from j, or the index where fewer than eight bytes are
// left, for the caller to read on byte by byte. A byte of w equal to c is
// a zero byte of w^(c*ones), and the lowest byte with its high bit set in
// (x-ones)&^x&highs is x's first zero byte (the bytes above it may be
// set falsely, but they are not looked at).
func plainWords(b []byte, j int) int {
	for ; j+8 <= len(b); j += 8 {
		w := binary.LittleEndian.Uint64(b[j:])
		if m := zeroBytes(w^(ones*'"')) | zeroBytes(w^(ones*'\\')); m != 0 {
			return j + bits.TrailingZeros64(m)>>3
		}
	}
	return j
}

// Masks for finding a byte in a word, eight bytes at a time.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// zeroBytes sets the high bit of x's first zero byte, and maybe of bytes
// above it, but of no byte below.
func zeroBytes(x uint64) uint64 { return (x - ones) &^ x & highs }
