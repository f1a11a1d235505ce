package spool

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// A test that needs a child process re-runs this binary with
	// childEnv set; the child does its part and never runs the tests.
	if mode := os.Getenv(childEnv); mode != "" {
		runChild(mode)
		os.Exit(3) // runChild returns only if mode is unknown
	}
	goleak.VerifyTestMain(m)
}

const childEnv = "ASYNCLOG_SPOOL_CHILD"
