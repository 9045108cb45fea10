package rulefile

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScan(t *testing.T) {
	text := "\ufeff# a comment\n\n  Persona:  A: b  \nno colon here\n  # indented comment\nkey:\n"
	var got []Line
	require.NoError(t, Scan(strings.NewReader(text), "f", func(l Line) error {
		got = append(got, l)
		return nil
	}))
	assert.Equal(t, []Line{{3, "persona", "A: b"}, {4, "", "no colon here"}, {6, "key", ""}}, got)
}

func TestScanStops(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := Scan(strings.NewReader("a: 1\nb: 2\n"), "f", func(Line) error { calls++; return stop })
	assert.Same(t, stop, err)
	assert.Equal(t, 1, calls)
}

func TestScanLongLine(t *testing.T) {
	err := Scan(strings.NewReader("a: 1\nb: "+strings.Repeat("x", 2<<20)+"\n"), "rules.txt", func(Line) error { return nil })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "rules.txt: line 2: ")
}
