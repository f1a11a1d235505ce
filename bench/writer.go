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
			config:   "zerolog.New(asynclog.NewWriter(q)).With().Timestamp(), Options{} (Block, Size 16384, MaxBytes 16 MiB, BatchSize 256, FlushInterval 1ms, BlockTimeout 2s, CloseTimeout 5s); WriterSink(sink)",
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

// zerologSyncSubject is zerolog writing to the sink directly, configured as
// the NewWriter subject but with no queue between: the synchronous peer
// that scenario 5 measures asynclog's NewWriter against.
func zerologSyncSubject() subject {
	return subject{
		name:     zerologSync,
		config:   "zerolog.New(sink).With().Timestamp()",
		lossless: true,
		open: func(s *sink, _ *env) *instance {
			l := zerolog.New(s).With().Timestamp().Logger()
			return &instance{log: func() { zerologLog(&l) }}
		},
	}
}
