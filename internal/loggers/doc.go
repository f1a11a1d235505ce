// Package loggers holds the tests of asynclog's front ends with the real
// loggers in front of them: zerolog, logrus, the standard log package and
// slog's handlers through [asynclog.NewWriter], and logr through
// logr.FromSlogHandler(asynclog.NewHandler(q, nil)). It is a module of its
// own so that those libraries stay out of the main module's go.mod; it
// exports nothing.
package loggers
