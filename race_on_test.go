//go:build race

package asynclog_test

const raceEnabled = true
