package duckdb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// ErrLocked is the error (errors.Is) of a run refused because another run holds the
// writer lock of the warehouse file; errors.As gives the *LockedError.
var ErrLocked = errors.New("duckdb: another run is writing the warehouse")

// ErrReadOnly is the error (errors.Is) of a run refused because the warehouse file has
// no write bit for anyone: the operator made it read-only, so no run replaces it.
var ErrReadOnly = errors.New("duckdb: the warehouse file is read-only")

// Holder is the run that holds a writer lock, written as JSON into PATH.lock while held.
type Holder struct {
	PID     int       `json:"pid"`
	RunID   string    `json:"run_id,omitempty"`
	Started time.Time `json:"started"`
	Host    string    `json:"host,omitempty"`
}

// String describes the holder: "run r_1 (pid 1234 on host x, started 2026-12-05T05:31:45Z)".
func (h Holder) String() string {
	run := "a run"
	if h.RunID != "" {
		run = "run " + h.RunID
	}
	s := fmt.Sprintf("%s (pid %d", run, h.PID)
	if h.Host != "" {
		s += " on host " + h.Host
	}
	if !h.Started.IsZero() {
		s += ", started " + h.Started.UTC().Format(time.RFC3339)
	}
	return s + ")"
}

// LockedError is the error of a Lock refused because another run holds it.
type LockedError struct {
	Path   string // the warehouse file
	Holder Holder // the run holding it; zero when its lock file names none (an older closedloop)
}

func (e *LockedError) Error() string {
	if e.Holder.PID == 0 {
		return fmt.Sprintf("duckdb: another run is writing %s (lock %s.lock held); wait for it to end", e.Path, e.Path)
	}
	return fmt.Sprintf("duckdb: another run is writing %s: %s; wait for it to end", e.Path, e.Holder)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

type readOnlyError struct {
	path string
	mode fs.FileMode
}

func (e *readOnlyError) Error() string {
	return fmt.Sprintf("duckdb: %s is read-only (mode %04o): make it writable (chmod u+w) to let closedloop replace it", e.path, e.mode.Perm())
}

func (e *readOnlyError) Is(target error) bool { return target == ErrReadOnly }

// WriterLock is a held writer lock on a warehouse file: an flock on PATH.lock, which
// the kernel drops when the holding process ends, however it ends.
type WriterLock struct {
	path   string // the warehouse file, as given
	abs    string
	holder Holder
	stale  *Holder

	mu    sync.Mutex
	f     *os.File // nil once unlocked
	inUse bool     // a Loader builds the next version under it
}

// Lock takes the writer lock of the warehouse file at path for holder (its zero PID,
// Started and Host filled in with this process's), without waiting: a lock another
// run holds gives a *LockedError (ErrLocked) naming that run. A run takes it at its
// start, before any work, and passes it to Open in Config.Lock. A target the run could
// not replace is refused first, leaving no lock file: an unwritable or impossible
// directory, a directory at path, a read-only file (ErrReadOnly). The lock of a run
// that died is taken over; Stale says whose it was.
func Lock(path string, holder Holder) (*WriterLock, error) {
	if err := checkTarget(path); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("duckdb: %w", err)
	}
	if holder.PID == 0 {
		holder.PID = os.Getpid()
	}
	if holder.Started.IsZero() {
		holder.Started = time.Now()
	}
	holder.Started = holder.Started.UTC()
	if holder.Host == "" {
		holder.Host, _ = os.Hostname()
	}
	// The lock file is never removed: a process may hold an flock on it, or have it
	// open to take one, and a new file at the same path would be locked apart from it.
	f, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("duckdb: open the lock file of %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{Path: path, Holder: readHolder(f, true)}
		}
		return nil, fmt.Errorf("duckdb: lock %s: %w", path, err)
	}
	w := &WriterLock{path: path, abs: abs, holder: holder, f: f}
	// A holder still named in the file held the lock when its process ended: a run
	// that ends unlocks and empties the file.
	if h := readHolder(f, false); h.PID != 0 {
		w.stale = &h
	}
	b, _ := json.Marshal(holder)
	werr := f.Truncate(0)
	if werr == nil {
		_, werr = f.WriteAt(append(b, '\n'), 0)
	}
	if werr != nil {
		w.Unlock()
		return nil, fmt.Errorf("duckdb: write the lock file of %s: %w", path, werr)
	}
	return w, nil
}

// readHolder reads the holder named in the lock file f; wait gives a holder that has
// just taken the lock a few milliseconds to write itself.
func readHolder(f *os.File, wait bool) Holder {
	for try := 0; ; try++ {
		var h Holder
		b, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<16))
		if err == nil && json.Unmarshal(bytes.TrimSpace(b), &h) == nil && h.PID != 0 {
			return h
		}
		if !wait || try == 5 {
			return Holder{}
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Path is the warehouse file the lock is for.
func (w *WriterLock) Path() string { return w.path }

// Holder is the run the lock is held for, as written into the lock file.
func (w *WriterLock) Holder() Holder { return w.holder }

// Stale reports the run whose lock this one took over: it held the lock when its
// process ended (killed, crashed), so its process is no longer running.
func (w *WriterLock) Stale() (Holder, bool) {
	if w.stale == nil {
		return Holder{}, false
	}
	return *w.stale, true
}

// Unlock empties the lock file and releases the lock; a second Unlock does nothing.
// It leaves the lock file in place (see Lock).
func (w *WriterLock) Unlock() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := errors.Join(w.f.Truncate(0), syscall.Flock(int(w.f.Fd()), syscall.LOCK_UN), w.f.Close())
	w.f = nil
	if err != nil {
		return fmt.Errorf("duckdb: unlock %s: %w", w.path, err)
	}
	return nil
}

// use marks the lock as used by a Loader of path; release ends that.
func (w *WriterLock) use(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("duckdb: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case abs != w.abs:
		return fmt.Errorf("duckdb: the writer lock given is for %s, not %s", w.path, path)
	case w.f == nil:
		return fmt.Errorf("duckdb: the writer lock of %s given is no longer held", w.path)
	case w.inUse:
		return fmt.Errorf("duckdb: the writer lock of %s is in use by another loader", w.path)
	}
	w.inUse = true
	return nil
}

func (w *WriterLock) release() {
	w.mu.Lock()
	w.inUse = false
	w.mu.Unlock()
}

// checkTarget refuses a warehouse file no run could replace: its directory cannot be
// made or written, path is not a regular file, or it is read-only (Writable's rules).
// It makes a missing directory.
func checkTarget(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return dirError(path, err)
	}
	return Writable(path)
}
