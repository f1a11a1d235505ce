module github.com/asynclog/asynclog/httpsink/otlptest

go 1.25

replace github.com/asynclog/asynclog => ../..
