//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package spool

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func runChild(string) {}

func TestOpenUnsupported(t *testing.T) {
	_, err := Open(t.TempDir(), 1<<20)
	assert.ErrorIs(t, err, ErrUnsupported, "Open without mmap and flock")
	assert.True(t, errors.Is(err, errors.ErrUnsupported), "ErrUnsupported wraps errors.ErrUnsupported")
}
