package main

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// latencyChart draws scenario 2 as an SVG dot plot: one panel per load, a
// row per subject, p50, p99, p99.9 and max on a log-scale time axis.
func latencyChart(rows []s2Row) string {
	var modes []string
	byMode := map[string][]s2Row{}
	for _, r := range rows {
		if _, ok := byMode[r.mode]; !ok {
			modes = append(modes, r.mode)
		}
		byMode[r.mode] = append(byMode[r.mode], r)
	}
	const (
		width    = 960
		left     = 300 // subject names
		right    = 30
		rowH     = 26
		panelGap = 56
		top      = 78
	)
	// Axis: whole decades covering every figure.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range rows {
		for _, d := range r.p {
			if d > 0 {
				lo = math.Min(lo, float64(d))
				hi = math.Max(hi, float64(d))
			}
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 1, 10
	}
	dlo, dhi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if dhi <= dlo {
		dhi = dlo + 1
	}
	plotW := float64(width - left - right)
	x := func(d time.Duration) float64 {
		v := math.Max(float64(d), math.Pow(10, dlo))
		return left + plotW*(math.Log10(v)-dlo)/(dhi-dlo)
	}

	height := top
	for _, m := range modes {
		height += len(byMode[m])*rowH + panelGap
	}
	height += 24

	type marker struct {
		name, color string
		shape       func(cx, cy float64) string
	}
	circle := func(color string) func(cx, cy float64) string {
		return func(cx, cy float64) string {
			return fmt.Sprintf(`<circle cx="%.1f" cy="%.1f" r="5" fill="%s"/>`, cx, cy, color)
		}
	}
	square := func(color string) func(cx, cy float64) string {
		return func(cx, cy float64) string {
			return fmt.Sprintf(`<rect x="%.1f" y="%.1f" width="9" height="9" fill="%s"/>`, cx-4.5, cy-4.5, color)
		}
	}
	diamond := func(color string) func(cx, cy float64) string {
		return func(cx, cy float64) string {
			return fmt.Sprintf(`<path d="M%.1f %.1fl6 6l-6 6l-6 -6z" fill="%s"/>`, cx, cy-6, color)
		}
	}
	cross := func(color string) func(cx, cy float64) string {
		return func(cx, cy float64) string {
			return fmt.Sprintf(`<path d="M%.1f %.1fl10 10m0 -10l-10 10" stroke="%s" stroke-width="2.5"/>`, cx-5, cy-5, color)
		}
	}
	markers := []marker{
		{"p50", "#1b9e77", circle("#1b9e77")},
		{"p99", "#d95f02", square("#d95f02")},
		{"p99.9", "#7570b3", diamond("#7570b3")},
		{"max", "#e7298a", cross("#e7298a")},
	}

	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="13">`+"\n", width, height, width, height)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	p(`<text x="%d" y="24" font-size="16" font-weight="bold">Caller latency per log call, slow sink (1 ms per write), log scale</text>`+"\n", 10)
	lx := float64(left)
	for _, m := range markers {
		p("%s\n", m.shape(lx, 48))
		p(`<text x="%.1f" y="53">%s</text>`+"\n", lx+10, m.name)
		lx += 80
	}
	y := top
	for _, mode := range modes {
		rs := byMode[mode]
		ph := len(rs) * rowH
		p(`<text x="10" y="%d" font-weight="bold">%s</text>`+"\n", y+4, html.EscapeString(mode))
		y0 := y + 14
		// Grid and decade labels.
		for d := dlo; d <= dhi; d++ {
			gx := x(time.Duration(math.Pow(10, d)))
			p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", gx, y0, gx, y0+ph)
			p(`<text x="%.1f" y="%d" text-anchor="middle" fill="#555" font-size="11">%s</text>`+"\n", gx, y0+ph+14, fmtDur(time.Duration(math.Pow(10, d))))
		}
		for i, r := range rs {
			cy := float64(y0 + i*rowH + rowH/2)
			name := r.sub.name
			if r.lost > 0 {
				name += fmt.Sprintf(" (lost %.1f%%)", 100*float64(r.lost)/float64(max(r.logged, 1)))
			}
			if r.capped {
				name += " (capped)"
			}
			weight := "normal"
			if isOurs(r.sub) {
				weight = "bold"
			}
			p(`<text x="%d" y="%.1f" text-anchor="end" font-weight="%s">%s</text>`+"\n", left-10, cy+4, weight, html.EscapeString(name))
			p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999" stroke-width="1.5"/>`+"\n", x(r.p[0]), cy, x(r.p[3]), cy)
			for k, m := range markers {
				if r.p[k] > 0 {
					p("%s\n", m.shape(x(r.p[k]), cy))
				}
			}
		}
		y = y0 + ph + panelGap - 14
	}
	p(`<text x="%.1f" y="%d" text-anchor="middle" fill="#333">latency of one log call (p50, p99, p99.9, max over every call)</text>`+"\n", left+plotW/2, height-12)
	p("</svg>\n")
	return b.String()
}
