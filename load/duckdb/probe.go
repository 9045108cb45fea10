package duckdb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Writable reports whether a run could replace the warehouse file at path, by the
// rules Lock refuses a target with, without creating or changing anything: the file's
// directory (or, when it does not exist yet, its nearest existing ancestor, which Lock
// would make it in) must be a directory this process may write and enter
// (access(2), which also says EROFS on a read-only mount, even to root), and path, if
// it exists, must be a regular file with a write bit. nil means a run would not be
// refused for its target; the lock is LockHolder's matter.
func Writable(path string) error {
	dir := filepath.Dir(path)
	cannot := func(err error) error { return dirError(path, err) }
	existing := dir
	for {
		fi, err := os.Stat(existing)
		if err == nil {
			if !fi.IsDir() && existing == dir {
				return cannot(syscall.ENOTDIR)
			}
			if !fi.IsDir() {
				return cannot(fmt.Errorf("%s is a file: %w", existing, syscall.ENOTDIR))
			}
			break
		}
		parent := filepath.Dir(existing)
		if !errors.Is(err, fs.ErrNotExist) || parent == existing {
			return cannot(err) // a file on the way is ENOTDIR
		}
		existing = parent
	}
	const wOK, xOK = 2, 1
	if err := syscall.Access(existing, wOK|xOK); err != nil {
		return cannot(&fs.PathError{Op: "access", Path: existing, Err: err})
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("duckdb: %w", err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("duckdb: %s is not a regular file (%s)", path, fi.Mode().Type())
	case fi.Mode().Perm()&0o222 == 0:
		return &readOnlyError{path: path, mode: fi.Mode()}
	}
	return nil
}

// LockHolder reports whether a run holds the writer lock of the warehouse file at
// path, and which (as Lock's LockedError names it), without creating PATH.lock: no
// lock file means no run ever locked it. It tries a shared flock on the file and
// drops it at once: a run that starts in those microseconds is refused as if
// another run held the lock. stale is the run named in an unlocked lock file: it
// ended without unlocking (killed), and the next run takes the lock over.
func LockHolder(path string) (holder Holder, held bool, stale *Holder, err error) {
	f, err := os.Open(path + ".lock")
	if errors.Is(err, fs.ErrNotExist) {
		return Holder{}, false, nil, nil
	}
	if err != nil {
		return Holder{}, false, nil, fmt.Errorf("duckdb: open the lock file of %s: %w", path, err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return readHolder(f, true), true, nil, nil
		}
		return Holder{}, false, nil, fmt.Errorf("duckdb: lock %s: %w", path, err)
	}
	h := readHolder(f, false)
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		return Holder{}, false, nil, fmt.Errorf("duckdb: unlock %s: %w", path, err)
	}
	if h.PID != 0 {
		stale = &h
	}
	return Holder{}, false, stale, nil
}

// dirError says that the directory of the warehouse file path cannot be written, and
// why (err, without a PathError's wrapping).
func dirError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	dir := filepath.Dir(path)
	if a, aerr := filepath.Abs(dir); aerr == nil {
		dir = a
	}
	return fmt.Errorf("duckdb: cannot write %s's directory %s: %w", path, dir, err)
}
