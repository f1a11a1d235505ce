package spool

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestASpoolOnTmpfsIsNotPrefaulted(t *testing.T) {
	dir, err := os.MkdirTemp("/dev/shm", "spool-test-")
	if err != nil {
		t.Skipf("no /dev/shm here: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	s := openT(t, dir, 1<<16)
	defer s.Close(false)
	assert.False(t, s.writesBack, "tmpfs writes nothing back: Prefault has nothing to do")
	s.Prefault(s.Ahead()) // and does nothing, without failing
	require.True(t, appendRec(s, rec(1)))
	assert.Equal(t, []Record{rec(1)}, readAll(s))
}
