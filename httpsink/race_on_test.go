//go:build race

package httpsink

// raceEnabled: the race detector adds allocations, so allocation limits
// are not checked under it.
const raceEnabled = true
