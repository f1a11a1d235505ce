package asynclog

import (
	"log/slog"

	"go.uber.org/zap/zapcore"
)

// parseLevel reads a level name as zerolog, logrus, zap or slog spell it,
// in any case, quoted or not, with an optional slog offset ("ERROR+2").
func parseLevel(v []byte) (slog.Level, bool) {
	if n := len(v); n >= 2 && v[0] == '"' && v[n-1] == '"' {
		v = v[1 : n-1]
	}
	switch string(v) { // the usual spellings, without the general walk
	case "INFO", "info":
		return slog.LevelInfo, true
	case "DEBUG", "debug":
		return slog.LevelDebug, true
	case "WARN", "warn":
		return slog.LevelWarn, true
	case "ERROR", "error":
		return slog.LevelError, true
	}
	name, off, ok := levelOffset(v)
	if !ok {
		return 0, false
	}
	var buf [8]byte
	if len(name) > len(buf) {
		return 0, false
	}
	lower := buf[:len(name)]
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	l, ok := levelNamed(lower)
	if !ok {
		return 0, false
	}
	return l + slog.Level(off), true
}

// levelOffset splits slog's offset from a level name: "ERROR+2" is ERROR
// and 2, "INFO-1" INFO and -1, "WARN" WARN and 0. ok is false for an offset
// that is not one to four digits.
func levelOffset(v []byte) (name []byte, off int, ok bool) {
	for i, c := range v {
		if c != '+' && c != '-' {
			continue
		}
		digits := v[i+1:]
		if len(digits) == 0 || len(digits) > 4 {
			return nil, 0, false
		}
		for _, d := range digits {
			if d < '0' || d > '9' {
				return nil, 0, false
			}
			off = 10*off + int(d-'0')
		}
		if c == '-' {
			off = -off
		}
		return v[:i], off, true
	}
	return v, 0, true
}

// levelNamed returns the level of a name in lower case.
func levelNamed(lower []byte) (slog.Level, bool) {
	switch string(lower) {
	case "trace":
		return slog.LevelDebug - 4, true
	case "debug":
		return slog.LevelDebug, true
	case "info":
		return slog.LevelInfo, true
	case "warn", "warning":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	case "dpanic":
		return zapLevel(zapcore.DPanicLevel), true
	case "panic":
		return zapLevel(zapcore.PanicLevel), true
	case "fatal":
		return zapLevel(zapcore.FatalLevel), true
	}
	return 0, false
}
