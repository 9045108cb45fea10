// Package pgtest starts a throwaway PostgreSQL server for tests: initdb into a
// temporary directory, pg_ctl start on a free 127.0.0.1 port with durability off
// (fsync, synchronous_commit and full_page_writes), one database, and everything
// stopped and removed by Stop, or by a watchdog process if the test process dies
// first. It takes about a second.
//
// The binaries are those of the directory CLOSEDLOOP_POSTGRES_BIN if set, else the
// newest /usr/lib/postgresql/*/bin (Debian, Ubuntu), else initdb and pg_ctl on PATH. PostgreSQL refuses to run as root, so as root the server
// runs as the postgres user through runuser. When neither is possible StartServer
// returns an error wrapping ErrUnavailable, so a test can skip rather than fail.
//
// A typical TestMain:
//
//	srv, err := pgtest.StartServer()
//	if err != nil { ... skip or fail ... }
//	code := m.Run()
//	srv.Stop()
//	os.Exit(code)
//
// pgx's database/sql driver (pgx/v5/stdlib) needs github.com/jackc/puddle/v2, which
// this module does not require; OpenDB is a minimal database/sql adapter over pgx.Conn
// for code that reads through database/sql, such as load/loadtest.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrUnavailable is wrapped by the errors of StartServer when this machine cannot run
// PostgreSQL: no binaries, or running as root without a postgres user to switch to.
var ErrUnavailable = errors.New("pgtest: PostgreSQL is not available")

// Database is the name of the database StartServer creates.
const Database = "closedloop_test"

// Server is a running throwaway PostgreSQL server.
type Server struct {
	bin     string   // directory of initdb, pg_ctl, postgres
	asUser  []string // runuser prefix when running as root, else nil
	dir     string   // temporary directory: data/, server.log, the socket
	port    int
	guard   *os.File  // write end of the watchdog's stdin; see watch
	watcher *exec.Cmd // the watchdog
	stopped sync.Once
	stopErr error
}

// Start starts a server for one test or benchmark and stops it at its cleanup. It
// skips t when PostgreSQL is not available, unless CLOSEDLOOP_REQUIRE_POSTGRES=1,
// and fails t on any other error. It returns the DSN of a fresh database.
func Start(t testing.TB) (dsn string, stop func()) {
	t.Helper()
	srv, err := StartServer()
	if errors.Is(err, ErrUnavailable) && os.Getenv("CLOSEDLOOP_REQUIRE_POSTGRES") != "1" {
		t.Skipf("%v (set CLOSEDLOOP_REQUIRE_POSTGRES=1 to fail instead)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	stop = func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(stop)
	return srv.DSN(), stop
}

// StartServer initialises and starts a server and creates database Database in it.
// Call Stop when done. The server runs detached from the test process: if the process
// ends without Stop (a panic, a timeout, a kill), a watchdog stops the server and
// removes its directory.
func StartServer() (_ *Server, err error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	if os.Geteuid() == 0 {
		if s.asUser, err = rootPrefix(); err != nil {
			return nil, err
		}
	}
	s.dir, err = os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if s.asUser != nil {
		pg, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("pgtest: %w", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		if err := os.Chown(s.dir, uid, gid); err != nil {
			return nil, fmt.Errorf("pgtest: give %s to postgres: %w", s.dir, err)
		}
	}
	if err := os.Chmod(s.dir, 0o755); err != nil { // postgres must traverse it
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if err := s.watch(); err != nil {
		return nil, err
	}
	if out, err := s.run("initdb", "-D", s.data(), "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	// A free port can be taken between our probe and the server's bind: retry.
	for attempt := 1; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			return nil, fmt.Errorf("pgtest: %w", err)
		}
		opts := strings.Join([]string{
			"-p", strconv.Itoa(s.port), "-k", s.dir, "-c", "listen_addresses=127.0.0.1",
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			"-c", "max_wal_size=4GB", "-c", "shared_buffers=256MB",
		}, " ")
		out, err := s.run("pg_ctl", "-D", s.data(), "-l", s.logFile(), "-w", "-t", "60", "-o", opts, "start")
		if err == nil {
			break
		}
		log := s.log()
		if attempt < 3 && strings.Contains(log, "could not bind") {
			continue
		}
		return nil, fmt.Errorf("pgtest: pg_ctl start: %w\n%s\nserver log %s:\n%s", err, out, s.logFile(), log)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.dsn("postgres"))
	if err != nil {
		return nil, fmt.Errorf("pgtest: connect: %w\nserver log:\n%s", err, s.log())
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+Database); err != nil {
		return nil, fmt.Errorf("pgtest: create database: %w\nserver log:\n%s", err, s.log())
	}
	return s, nil
}

// DSN is the URL of database Database, as user postgres (trust authentication).
func (s *Server) DSN() string { return s.dsn(Database) }

func (s *Server) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

func (s *Server) data() string    { return filepath.Join(s.dir, "data") }
func (s *Server) logFile() string { return filepath.Join(s.dir, "server.log") }

// log returns the server log, or why it cannot be read.
func (s *Server) log() string {
	b, err := os.ReadFile(s.logFile())
	if err != nil {
		return fmt.Sprintf("(no server log: %v)", err)
	}
	return string(b)
}

// Stop stops the server (immediate shutdown: the data is thrown away) and removes its
// directory. Safe to call twice.
func (s *Server) Stop() error {
	s.stopped.Do(func() {
		if s.dir == "" {
			return
		}
		var errs []error
		if _, err := os.Stat(filepath.Join(s.data(), "postmaster.pid")); err == nil {
			if out, err := s.run("pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "stop"); err != nil {
				errs = append(errs, fmt.Errorf("pgtest: pg_ctl stop: %w\n%s\nserver log:\n%s", err, out, s.log()))
			}
		}
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("pgtest: %w", err))
		}
		if s.guard != nil {
			s.guard.Close() // the watchdog finds nothing left to do and exits
			s.watcher.Wait()
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

// watch starts a watchdog that stops the server and removes its directory once this
// process is gone, however it ends (a panic, a test timeout, SIGKILL): it waits for
// EOF on a pipe whose only writer is this process. In its own process group, it
// outlives a Ctrl-C sent to the test's group.
func (s *Server) watch() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("pgtest: watchdog: %w", err)
	}
	defer r.Close()
	stop := append(append([]string{}, s.asUser...), filepath.Join(s.bin, "pg_ctl"), "-D", s.data(), "-m", "immediate", "-w", "stop")
	script := fmt.Sprintf("cat >/dev/null; if [ -f %s ]; then %s >/dev/null 2>&1; fi; rm -rf %s",
		shellQuote(filepath.Join(s.data(), "postmaster.pid")), shellJoin(stop), shellQuote(s.dir))
	s.watcher = exec.Command("/bin/sh", "-c", script)
	s.watcher.Stdin = r
	s.watcher.Dir = "/"
	s.watcher.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.watcher.Start(); err != nil {
		w.Close()
		return fmt.Errorf("pgtest: watchdog: %w", err)
	}
	s.guard = w
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

// run runs one of the server's programs, as postgres when we are root.
func (s *Server) run(prog string, args ...string) (string, error) {
	argv := append(append(append([]string{}, s.asUser...), filepath.Join(s.bin, prog)), args...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = s.dir // the postgres user may not be able to read our working directory
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	// pg_ctl start leaves the postmaster running with our stdout unless it is a file:
	// collect output in a file so that Wait does not wait for the server to exit.
	f, err := os.CreateTemp("", "pgtest-out-")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return strings.TrimSpace(string(out)), err
}

// findBinaries returns the directory of the newest PostgreSQL's initdb and pg_ctl.
func findBinaries() (string, error) {
	if d := os.Getenv("CLOSEDLOOP_POSTGRES_BIN"); d != "" {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
		return "", fmt.Errorf("%w: CLOSEDLOOP_POSTGRES_BIN=%s has no initdb, pg_ctl and postgres", ErrUnavailable, d)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		d := filepath.Dir(p)
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w: no initdb, pg_ctl and postgres under /usr/lib/postgresql/*/bin or on PATH (Debian: apt-get install postgresql)", ErrUnavailable)
}

// version is the major version in a /usr/lib/postgresql/N/bin path.
func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// rootPrefix is the command prefix that runs a program as postgres.
func rootPrefix() ([]string, error) {
	if _, err := user.Lookup("postgres"); err != nil {
		return nil, fmt.Errorf("%w: running as root, and PostgreSQL refuses root, but there is no postgres user to switch to (%v)", ErrUnavailable, err)
	}
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		return nil, fmt.Errorf("%w: running as root, and PostgreSQL refuses root, but runuser is missing to switch to postgres", ErrUnavailable)
	}
	prefix := []string{runuser, "-u", "postgres", "--"}
	if out, err := exec.Command(runuser, "-u", "postgres", "--", "true").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%w: running as root, and PostgreSQL refuses root, but runuser -u postgres fails: %v %s", ErrUnavailable, err, out)
	}
	return prefix, nil
}

// freePort returns a TCP port of 127.0.0.1 that nothing listens on right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
