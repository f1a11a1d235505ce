package main

import (
	"context"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/asynclog/asynclog"
)

func BenchmarkTmpWith(b *testing.B) {
	for _, name := range []string{"sync", "ring", "asynclog"} {
		b.Run(name, func(b *testing.B) {
			s := newSink(fast)
			var l *zap.Logger
			var done func()
			switch name {
			case "sync":
				l = zap.New(zapcore.NewCore(zapEncoder(), zapcore.AddSync(s), zapcore.InfoLevel))
				done = func() {}
			case "ring":
				r := newRingWriter(s)
				l = zap.New(zapcore.NewCore(zapEncoder(), zapcore.AddSync(r), zapcore.InfoLevel))
				done = r.close
			case "asynclog":
				q, err := asynclog.NewQueue(asynclog.WriterSink(s), asynclog.Options{})
				if err != nil {
					b.Fatal(err)
				}
				l = zap.New(asynclog.NewCore(zapEncoder(), zapcore.InfoLevel, q))
				done = func() { _ = q.Shutdown(context.Background()) }
			}
			l = l.With(preparedFields()...)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					l.Info(benchMsg)
				}
			})
			done()
		})
	}
}
