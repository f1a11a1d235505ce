package main

import (
	"github.com/rs/zerolog"

	"github.com/asynclog/asynclog"
)

// writerSubjects are the loggers that reach asynclog through its io.Writer
// front end, NewWriter: zerolog here, beside "zerolog + diode", the
// asynchronous writer zerolog's README suggests, so that lost records and
// the caller's cost can be read side by side.
func writerSubjects() []subject {
	return []subject{
		{
			name:     "asynclog NewWriter (zerolog)",
			async:    true,
			config:   "zerolog.New(asynclog.NewWriter(q)).With().Timestamp(), Options{} (Block, Size 4096, BatchSize 256, BlockTimeout 2s, CloseTimeout 5s); WriterSink(sink)",
			lossless: true,
			open: func(s *sink, _ *env) *instance {
				q, in := asynclogQueue(s, asynclog.Options{})
				l := zerolog.New(asynclog.NewWriter(q)).With().Timestamp().Logger()
				in.log = func() { zerologLog(&l) }
				in.close = asynclogClose(q)
				return in
			},
		},
	}
}
