package duckdb

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWritableCreatesNothing: Writable judges a target by Lock's rules, root or not
// (a path under a regular file, a read-only file), and makes no directory or file.
func TestWritableCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, Writable(filepath.Join(dir, "a", "b", "wh.duckdb")), "a missing directory a run would make")
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	for _, p := range []string{filepath.Join(file, "wh.duckdb"), filepath.Join(file, "sub", "wh.duckdb")} {
		err := Writable(p)
		require.ErrorIs(t, err, syscall.ENOTDIR, p)
		require.ErrorContains(t, err, "duckdb: cannot write "+p+"'s directory")
	}
	ro := filepath.Join(dir, "ro.duckdb")
	require.NoError(t, os.WriteFile(ro, nil, 0o444))
	require.ErrorIs(t, Writable(ro), ErrReadOnly)
	require.ErrorContains(t, Writable(dir), "is not a regular file")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2, "only the test's own files: %v", entries)
}

// TestLockHolder: no lock file is free and stays absent; a held lock names its
// holder; a released one is free; a killed holder's is stale.
func TestLockHolder(t *testing.T) {
	wh := filepath.Join(t.TempDir(), "wh.duckdb")
	_, held, stale, err := LockHolder(wh)
	require.NoError(t, err)
	require.False(t, held)
	require.Nil(t, stale)
	require.NoFileExists(t, wh+".lock")

	lk, err := Lock(wh, Holder{RunID: "r_first"})
	require.NoError(t, err)
	h, held, _, err := LockHolder(wh)
	require.NoError(t, err)
	require.True(t, held)
	require.Equal(t, "r_first", h.RunID)
	require.Equal(t, os.Getpid(), h.PID)
	require.NoError(t, lk.Unlock())
	_, held, stale, err = LockHolder(wh)
	require.NoError(t, err)
	require.False(t, held)
	require.Nil(t, stale, "an unlocked lock file is emptied")

	// A holder still named in an unlocked file: its run died holding it.
	require.NoError(t, os.WriteFile(wh+".lock", []byte(`{"pid":99999,"run_id":"r_killed","started":"2026-01-02T03:04:05Z"}`), 0o644))
	_, held, stale, err = LockHolder(wh)
	require.NoError(t, err)
	require.False(t, held)
	require.NotNil(t, stale)
	require.Equal(t, "r_killed", stale.RunID)
}
