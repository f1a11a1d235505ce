module github.com/asynclog/asynclog/examples/slog-email

go 1.25

require (
	github.com/asynclog/asynclog v0.0.0-00010101000000-000000000000
	github.com/asynclog/asynclog/mailsink v0.0.0-00010101000000-000000000000
	github.com/emersion/go-sasl v0.0.0-20241020182733-b788ff22d5a6
	github.com/emersion/go-smtp v0.25.1
)

require (
	go.uber.org/multierr v1.10.0 // indirect
	go.uber.org/zap v1.28.0 // indirect
)

replace (
	github.com/asynclog/asynclog => ../..
	github.com/asynclog/asynclog/mailsink => ../../mailsink
)
