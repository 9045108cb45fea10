package duckdb

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/load"
)

const helperEnv = "CLOSEDLOOP_DUCKDB_LOCK_HELPER"

// TestHelperProcess is the other run of the lock tests, in a child process (holder):
// it takes the writer lock of $CLOSEDLOOP_DUCKDB_LOCK_HELPER as run r_child, opens a
// loader with it, loads a spend row and says "locked"; on "commit" it commits, says
// "committed" and exits; otherwise it holds the lock until killed.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("the child process of the lock tests")
	}
	fail := func(err error) {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	w, err := Lock(path, Holder{RunID: "r_child"})
	if err != nil {
		fail(err)
	}
	l, err := Open(ctx, Config{Path: path, Range: load.Range{From: day(1), To: day(1)}, Lock: w})
	if err != nil {
		fail(err)
	}
	spend := tableOf(t, memory.NewGoAllocator(), load.FctSpend, spendRow(day(1), "child", 7))
	if err := l.Load(ctx, load.FctSpend, spend); err != nil {
		fail(err)
	}
	fmt.Println("locked")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "commit" {
			if err := errors.Join(l.Commit(ctx), l.Close(), w.Unlock()); err != nil {
				fail(err)
			}
			fmt.Println("committed")
			os.Exit(0)
		}
	}
	os.Exit(0) // the test process ended
}

type holderProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

// holder starts TestHelperProcess on path and waits until it holds the lock.
func holder(t *testing.T, path string) *holderProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &holderProc{cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	p.expect(t, "locked")
	return p
}

func (p *holderProc) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case line := <-p.lines:
		require.Equal(t, want, line)
	case <-time.After(time.Minute):
		t.Fatalf("the holder process did not say %q", want)
	}
}

// kill ends the holder as SIGKILL does, without unlocking.
func (p *holderProc) kill(t *testing.T) {
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	require.Error(t, p.cmd.Wait())
}

// TestRefusedRunLeavesHolderRunIntact: while another process builds the next version,
// a second run is refused at once, naming the holder, and leaves its files alone: the
// first run then commits.
func TestRefusedRunLeavesHolderRunIntact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wh.duckdb")
	run(t, path, day(1), day(1), nil, 0)
	p := holder(t, path)
	require.FileExists(t, path+".next")
	require.FileExists(t, path+".next.wal")

	start := time.Now()
	_, err := Lock(path, Holder{RunID: "r_second"})
	require.Less(t, time.Since(start), time.Second, "refused without waiting")
	require.ErrorIs(t, err, ErrLocked)
	var le *LockedError
	require.ErrorAs(t, err, &le)
	require.Equal(t, p.cmd.Process.Pid, le.Holder.PID)
	require.Equal(t, "r_child", le.Holder.RunID)
	host, _ := os.Hostname()
	require.Equal(t, host, le.Holder.Host)
	require.ErrorContains(t, err, fmt.Sprintf("duckdb: another run is writing %s: run r_child (pid %d on host %s, started ",
		path, p.cmd.Process.Pid, host))
	require.ErrorContains(t, err, "); wait for it to end")

	_, err = Open(context.Background(), Config{Path: path, Range: load.Range{From: day(1), To: day(1)}})
	require.ErrorIs(t, err, ErrLocked)
	require.ErrorContains(t, err, "r_child")
	require.FileExists(t, path+".next", "the holder's next version is kept")
	require.FileExists(t, path+".next.wal", "the holder's WAL is kept")

	_, err = p.stdin.Write([]byte("commit\n"))
	require.NoError(t, err)
	p.expect(t, "committed")
	require.NoError(t, p.cmd.Wait())
	db, err := OpenReadOnly(path)
	require.NoError(t, err)
	defer db.Close()
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM fct_spend WHERE campaign = 'child'`))

	lock, err := os.ReadFile(path + ".lock")
	require.NoError(t, err)
	require.Empty(t, lock, "an unlocked lock file names no holder")
	w, err := Lock(path, Holder{})
	require.NoError(t, err)
	_, stale := w.Stale()
	require.False(t, stale, "a lock released by its run is not stale")
	require.NoError(t, w.Unlock())
}

// TestStaleLockIsTakenOver: the lock of a run killed while it held it is taken over,
// its holder reported, and the lock file then names the new holder.
func TestStaleLockIsTakenOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wh.duckdb")
	p := holder(t, path)
	pid := p.cmd.Process.Pid
	p.kill(t)

	w, err := Lock(path, Holder{RunID: "r_next", Started: time.Date(2026, 12, 5, 5, 31, 45, 0, time.UTC)})
	require.NoError(t, err)
	h, stale := w.Stale()
	require.True(t, stale)
	require.Equal(t, pid, h.PID)
	require.Equal(t, "r_child", h.RunID)
	require.False(t, h.Started.IsZero())

	b, err := os.ReadFile(path + ".lock")
	require.NoError(t, err)
	var inFile Holder
	require.NoError(t, json.Unmarshal(b, &inFile))
	host, _ := os.Hostname()
	want := Holder{PID: os.Getpid(), RunID: "r_next", Started: time.Date(2026, 12, 5, 5, 31, 45, 0, time.UTC), Host: host}
	require.Equal(t, want, inFile)
	require.Equal(t, want, w.Holder())
	require.Equal(t, fmt.Sprintf("run r_next (pid %d on host %s, started 2026-12-05T05:31:45Z)", os.Getpid(), host), want.String())

	// The dead run's next version is removed by the run that took its lock over.
	ctx := context.Background()
	l, err := Open(ctx, Config{Path: path, Range: load.Range{From: day(1), To: day(1)}, Lock: w})
	require.NoError(t, err)
	require.NoError(t, l.Commit(ctx))
	require.NoError(t, l.Close())
	require.NoError(t, w.Unlock())
	db, err := OpenReadOnly(path)
	require.NoError(t, err)
	require.Equal(t, 0, count(t, db, `SELECT count(*) FROM fct_spend`), "nothing of the killed run is committed")
	require.NoError(t, db.Close())

	// Open taking the lock itself logs the takeover.
	p = holder(t, path)
	pid = p.cmd.Process.Pid
	p.kill(t)
	var logs bytes.Buffer
	l, err = Open(ctx, Config{Path: path, Range: load.Range{From: day(1), To: day(1)}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	require.NoError(t, l.Close())
	require.Contains(t, logs.String(), "took over the writer lock of a run no longer running")
	require.Contains(t, logs.String(), "run_id=r_child pid="+strconv.Itoa(pid))
}

// TestLockGivenToOpen: Open uses the lock it is given and leaves it held; the lock is
// for one path and one loader at a time.
func TestLockGivenToOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wh.duckdb")
	ctx := context.Background()
	w, err := Lock(path, Holder{RunID: "r_1"})
	require.NoError(t, err)
	_, err = Lock(path, Holder{RunID: "r_2"})
	require.ErrorIs(t, err, ErrLocked, "a second lock in the same process is refused too")
	require.ErrorContains(t, err, "run r_1 (pid "+strconv.Itoa(os.Getpid()))

	_, err = Open(ctx, Config{Path: filepath.Join(dir, "other.duckdb"), Lock: w})
	require.ErrorContains(t, err, "the writer lock given is for "+path)
	require.NoFileExists(t, filepath.Join(dir, "other.duckdb.lock"))

	l, err := Open(ctx, Config{Path: path, Range: load.Range{From: day(1), To: day(1)}, Lock: w})
	require.NoError(t, err)
	_, err = Open(ctx, Config{Path: path, Lock: w})
	require.ErrorContains(t, err, "in use by another loader")
	require.FileExists(t, path+".next", "the loader's next version is kept")
	require.NoError(t, l.Commit(ctx))
	require.NoError(t, l.Close())
	_, err = Lock(path, Holder{})
	require.ErrorIs(t, err, ErrLocked, "Close leaves a lock it was given held")

	l, err = Open(ctx, Config{Path: path, Range: load.Range{From: day(1), To: day(1)}, Lock: w})
	require.NoError(t, err, "the lock serves the next loader")
	require.NoError(t, l.Close())
	require.NoError(t, w.Unlock())
	require.NoError(t, w.Unlock())
	_, err = Open(ctx, Config{Path: path, Lock: w})
	require.ErrorContains(t, err, "no longer held")
	w, err = Lock(path, Holder{})
	require.NoError(t, err)
	require.NoError(t, w.Unlock())
}

// TestUnwritablePathIsRefused: a warehouse path no run could write is refused naming
// the path and its directory, and leaves no file.
func TestUnwritablePathIsRefused(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	for _, path := range []string{filepath.Join(file, "wh.duckdb"), filepath.Join(file, "missing", "wh.duckdb")} {
		_, err := Open(context.Background(), Config{Path: path})
		require.ErrorContains(t, err, "duckdb: cannot write "+path+"'s directory "+filepath.Dir(path)+": not a directory")
		require.ErrorIs(t, err, syscall.ENOTDIR)
		require.NotContains(t, err.Error(), ".lock")
		_, err = Lock(path, Holder{})
		require.ErrorContains(t, err, "duckdb: cannot write "+path+"'s directory")
	}
	if os.Geteuid() != 0 { // root writes any directory
		ro := filepath.Join(dir, "ro")
		require.NoError(t, os.Mkdir(ro, 0o555))
		path := filepath.Join(ro, "wh.duckdb")
		_, err := Open(context.Background(), Config{Path: path})
		require.ErrorContains(t, err, "duckdb: cannot write "+path+"'s directory "+ro+": permission denied")
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1+btoi(os.Geteuid() != 0), "no file made")
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestReadOnlyFileIsRefused: a warehouse file with no write bit is refused before any
// work and left as it was, with no lock file or next version beside it; one made
// read-only during a run is not replaced by its commit.
func TestReadOnlyFileIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wh.duckdb")
	db, err := sql.Open("duckdb", path)
	require.NoError(t, err)
	_, err = db.Exec(`CREATE TABLE keep (x INTEGER); INSERT INTO keep VALUES (1)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	require.NoError(t, os.Chmod(path, 0o444))
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	fi0, err := os.Stat(path)
	require.NoError(t, err)

	_, err = Open(context.Background(), Config{Path: path})
	require.ErrorIs(t, err, ErrReadOnly)
	require.EqualError(t, err, "duckdb: "+path+" is read-only (mode 0444): make it writable (chmod u+w) to let closedloop replace it")
	_, err = Lock(path, Holder{})
	require.ErrorIs(t, err, ErrReadOnly)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o444), fi.Mode().Perm())
	require.Equal(t, fi0.ModTime(), fi.ModTime())
	for _, f := range []string{".lock", ".next", ".next.wal"} {
		require.NoFileExists(t, path+f)
	}

	// Made read-only while a run loads: the commit keeps it.
	require.NoError(t, os.Chmod(path, 0o644))
	ctx := context.Background()
	l, err := Open(ctx, Config{Path: path, Range: load.Range{From: day(1), To: day(1)}})
	require.NoError(t, err)
	require.NoError(t, os.Chmod(path, 0o444))
	require.ErrorIs(t, l.Commit(ctx), ErrReadOnly)
	require.NoError(t, l.Close())
	after, err = os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after)
	require.NoFileExists(t, path+".next")
}

// TestSwapKeepsModeAndOwner: the new version has the live file's mode, and its owner
// when the run may give it (root); the next version is never readable by more people
// than the live file.
func TestSwapKeepsModeAndOwner(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wh.duckdb")
	run(t, path, day(1), day(1), nil, 0)
	require.NoError(t, os.Chmod(path, 0o640))
	ctx := context.Background()
	l, err := Open(ctx, Config{Path: path, Range: load.Range{From: day(1), To: day(1)}})
	require.NoError(t, err)
	next, err := os.Stat(path + ".next")
	require.NoError(t, err)
	require.Zero(t, next.Mode().Perm()&^0o640, "the next version is no more readable than the live file")
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	spend := tableOf(t, mem, load.FctSpend, spendRow(day(1), "new", 1))
	require.NoError(t, l.Load(ctx, load.FctSpend, spend))
	spend.Release()
	require.NoError(t, l.Commit(ctx))
	require.NoError(t, l.Close())
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
	db, err := OpenReadOnly(path)
	require.NoError(t, err)
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM fct_spend WHERE campaign = 'new'`), "the new version was swapped in")
	require.NoError(t, db.Close())

	if os.Geteuid() != 0 {
		t.Log("not root: the owner part needs chown")
		return
	}
	require.NoError(t, os.Chown(path, 65534, 65534))
	require.NoError(t, os.Chmod(path, 0o600))
	run(t, path, day(1), day(1), nil, 0)
	fi, err = os.Stat(path)
	require.NoError(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	require.Equal(t, uint32(65534), st.Uid)
	require.Equal(t, uint32(65534), st.Gid)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}
