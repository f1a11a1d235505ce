module github.com/asynclog/asynclog/mailsink

go 1.25

replace github.com/asynclog/asynclog => ..
