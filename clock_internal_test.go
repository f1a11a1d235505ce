package asynclog

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWallNowFollowsTheWallClock(t *testing.T) {
	for range 1000 {
		before := time.Now()
		got := wallNow()
		after := time.Now()
		// Carried by the monotonic clock, it may differ from the wall
		// clock by the wall clock's slew since the last reading: far less
		// than a millisecond here.
		require.WithinRange(t, got, before.Add(-time.Millisecond), after.Add(time.Millisecond))
	}
}

func TestWallNowNeverGoesBackWithinARebase(t *testing.T) {
	prev := wallNow()
	for range 100000 {
		now := wallNow()
		require.False(t, now.Before(prev.Add(-time.Millisecond)), "%v after %v", now, prev)
		prev = now
	}
}

func TestWallNowReadsASynctestBubblesClock(t *testing.T) {
	_ = wallNow() // a reading from the real clock first
	synctest.Test(t, func(t *testing.T) {
		require.Equal(t, time.Now().UnixNano(), wallNow().UnixNano())
		time.Sleep(time.Hour) // the bubble's clock moves; nothing to wait for
		require.Equal(t, time.Now().UnixNano(), wallNow().UnixNano())
		time.Sleep(time.Millisecond) // within a rebase: carried forward
		require.Equal(t, time.Now().UnixNano(), wallNow().UnixNano())
	})
	require.WithinDuration(t, time.Now(), wallNow(), time.Millisecond)
}

// BenchmarkClock sets wallNow beside time.Now: the io.Writer front end's
// clock is read once per log call.
func BenchmarkClock(b *testing.B) {
	b.Run("time.Now", func(b *testing.B) {
		for b.Loop() {
			_ = time.Now()
		}
	})
	b.Run("wallNow", func(b *testing.B) {
		for b.Loop() {
			_ = wallNow()
		}
	})
}
