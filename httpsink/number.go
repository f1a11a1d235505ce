package httpsink

import "math"

// pow10 holds the powers of ten that a float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// shortDecimal parses the number a log record most often holds, a
// decimal such as 1796163011.0594788 or -0.25 (at most 18 significant
// digits, at most 22 after the point, no exponent), to the float64
// ParseFloat returns, in a fraction of its time. The digits m are an integer below 2^60 and
// 10^k is exact, so m/10^k is computed as a double-double: m = mh + ml
// exactly, q1 = mh/10^k rounded, its remainder exact with an FMA, q2 the
// remainder's quotient. q1+q2 is then within about 2^-100 of m/10^k, and
// rounding it gives the correctly rounded value unless m/10^k lies that
// close to a midpoint between two float64s: then, and for anything else
// (a literal JSON refuses, such as a leading zero, included), it is not
// ok and the caller takes ParseFloat's general path.
func shortDecimal(lit []byte) (float64, bool) {
	i, neg := 0, false
	if i < len(lit) && lit[i] == '-' {
		neg = true
		i++
	}
	var m uint64
	digits, sig, frac := 0, 0, -1
	start := i
	for ; i < len(lit); i++ {
		c := lit[i]
		switch {
		case c >= '0' && c <= '9':
			if m != 0 || c != '0' {
				if sig++; sig > 18 {
					return 0, false
				}
			}
			m = m*10 + uint64(c-'0')
			digits++
			if frac >= 0 {
				frac++
			}
		case c == '.' && frac < 0 && i > start:
			frac = 0
		default:
			return 0, false
		}
	}
	intDigits := digits - max(frac, 0)
	if frac <= 0 || frac >= len(pow10) || intDigits == 0 || lit[start] == '0' && intDigits > 1 {
		return 0, false
	}
	p := pow10[frac]
	var f float64
	if m < 1<<53 {
		f = float64(m) / p // both exact: one correctly rounded division
	} else {
		mh := float64(m)
		ml := float64(int64(m) - int64(mh)) // exact: |m - mh| <= 2^(60-53)
		q1 := mh / p
		r := math.FMA(-q1, p, mh) + ml // mh - q1*p is exact; adding ml rounds far below q1's ulp
		q2 := r / p
		f = q1 + q2
		e := q2 - (f - q1) // exact: what rounding q1+q2 to f dropped
		bits := math.Float64bits(f)
		if bits&(1<<52-1) == 0 {
			return 0, false // a power of two: the midpoint below is nearer
		}
		half := math.Float64frombits(bits&^(1<<52-1)) * 0x1p-53 // half of f's ulp
		if d := math.Abs(math.Abs(e) - half); d <= half*0x1p-40 {
			return 0, false // too near a midpoint to tell
		}
	}
	if neg {
		f = -f
	}
	return f, true
}

// parseInt64 parses a JSON integer within int64, in one pass: what
// fitsInt64 accepts.
func parseInt64(lit []byte) (int64, bool) {
	neg := len(lit) > 0 && lit[0] == '-'
	d := lit
	if neg {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 19 || len(d) > 1 && d[0] == '0' {
		return 0, false
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	var u uint64
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0') // 19 digits cannot overflow uint64
	}
	if u > limit {
		return 0, false
	}
	if neg {
		return -int64(u), true // -(1<<63) wraps to itself, as it must
	}
	return int64(u), true
}
