// Package duckdb loads the warehouse into an embedded DuckDB file.
//
// DuckDB allows one writing process or many readers, never both. So a run never opens
// the live file for writing: it copies the live file to PATH.next, loads and checks
// everything there, checkpoints it, and renames it over PATH. A dashboard holding the
// live file open read-only keeps reading the old version until it reopens; it never
// blocks the run and never sees a half-loaded table. A failed run removes PATH.next
// and leaves PATH as it was. A writer lock (Lock: an flock on PATH.lock, which names the
// run holding it) keeps two runs from building the next version at once; a run it
// refuses touches nothing. The new version keeps the live file's mode and owner, and a
// live file made read-only is never replaced.
//
// Every table, view and column carries a description as a DuckDB comment (COMMENT ON,
// shown by DuckDB clients and Metabase's DuckDB driver): the tables' and columns' from
// load.Tables, the views' and their columns' from the header comments of their SQL
// files. They are checked and written on every run, as an older file may lack them and
// CREATE OR REPLACE VIEW drops a view's comments (about 80 ms a run).
//
// A run_log or rejected_rows (Append tables: their rows are history) written by an
// older version whose columns are the contract's first ones, missing only nullable
// columns at the end, gets those columns (ALTER TABLE ... ADD COLUMN, NULL on the old
// rows) in the next version of the file, like every change of the run. Any other
// difference from the contract is refused, but for a table replaced whole by every
// run, which is recreated.
//
// Rows go in through DuckDB's Arrow scan: DuckDB reads the Arrow buffers in place, in
// one INSERT ... SELECT on every core. With -tags duckdb_arrow (the Dockerfile) through
// duckdb-go's Arrow interface; without it (a plain `go build`, `go run`, `go test`)
// through the C API's duckdb_arrow_scan on the connection's C handle, which
// arrowscan.go reads from the pinned duckdb-go's Conn. Should that handle not be found
// (another duckdb-go), rows go through the appender, a Go call per value.
// BenchmarkLoadAttribution measures the path a build uses. (A Parquet file staged
// beside the database and inserted with read_parquet was tried too: on 2.15M GA4 events
// it loaded and committed in 22 s against the appender's 11 s, with 0.8 GB more peak
// memory, as the inserted rows wait in memory for the checkpoint.)
package duckdb

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver

	"closedloop/load"
	views "closedloop/sql"
)

// Config configures a Loader.
type Config struct {
	Path   string     // the live database file
	Range  load.Range // days whose rows ReplaceRange tables replace
	Logger *slog.Logger
	// MemoryLimit is DuckDB's memory_limit while it loads ("512MB", "2GB"; empty:
	// DefaultMemoryLimit). DuckDB writes what is over it to a temporary directory
	// beside the database. Its own default, 80% of the machine, lets the loads of a
	// large run take gigabytes that they do not need to be fast.
	MemoryLimit string
	// Lock is the writer lock of Path the run took at its start (Lock). Open uses it and
	// leaves it held, for the caller to Unlock after Close; nil: Open takes it and Close
	// releases it.
	Lock *WriterLock
}

// DefaultMemoryLimit is Config.MemoryLimit when empty: on 10M GA4 events a run takes
// as long with it as with DuckDB's default and peaks half a GiB lower; on 2.15M it
// takes 3% longer (15.5 s against 15.0 s) and peaks 0.2 GiB lower (bench/run).
const DefaultMemoryLimit = "512MB"

// Loader writes one run into the next version of the database.
type Loader struct {
	cfg       Config
	next      string
	lock      *WriterLock
	ownLock   bool // taken by Open, released by Close
	db        *sql.DB
	conn      *sql.Conn
	committed bool
	closed    bool
}

var _ load.Loader = (*Loader)(nil)

// Open prepares the next version of the database at cfg.Path: it takes the writer lock
// (or uses cfg.Lock), copies the live file (if any) and makes sure every contract table
// exists with its columns. A run refused (ErrLocked, ErrReadOnly, an unwritable
// directory) changes no file.
func Open(ctx context.Context, cfg Config) (_ *Loader, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	limit := cmp.Or(cfg.MemoryLimit, DefaultMemoryLimit)
	if strings.ContainsAny(limit, "&?=#") {
		return nil, fmt.Errorf("duckdb: memory limit %q: want a size such as 512MB or 2GB", limit)
	}
	lock, own := cfg.Lock, cfg.Lock == nil
	if own {
		if lock, err = Lock(cfg.Path, Holder{}); err != nil {
			return nil, err
		}
		if h, ok := lock.Stale(); ok {
			cfg.Logger.Warn("took over the writer lock of a run no longer running", "path", cfg.Path,
				"run_id", h.RunID, "pid", h.PID, "host", h.Host, "started", h.Started)
		}
	} else {
		if err := lock.use(cfg.Path); err != nil {
			return nil, err
		}
		if err := checkTarget(cfg.Path); err != nil {
			lock.release()
			return nil, err
		}
	}
	l := &Loader{cfg: cfg, next: cfg.Path + ".next", lock: lock, ownLock: own}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	// What a run that died left is removed: the lock is held, no other run is writing.
	for _, f := range []string{l.next, l.next + ".wal"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("duckdb: remove stale %s: %w", f, err)
		}
	}
	if err := copyFile(cfg.Path, l.next); err != nil {
		return nil, fmt.Errorf("duckdb: copy the live database: %w", err)
	}
	if err := copyFile(cfg.Path+".wal", l.next+".wal"); err != nil {
		return nil, fmt.Errorf("duckdb: copy the live database's WAL: %w", err)
	}
	// Rows need not keep the order they were inserted in: DuckDB then inserts on
	// every core without holding rows back to order them. (DuckDB's automatic
	// checkpoints stay: put off to the commit, they made it 1.5 s longer at 2.15M events.)
	l.db, err = sql.Open("duckdb", l.next+"?preserve_insertion_order=false&memory_limit="+limit)
	if err != nil {
		return nil, fmt.Errorf("duckdb: open %s: %w", l.next, err)
	}
	l.conn, err = l.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("duckdb: open %s: %w", l.next, err)
	}
	for _, t := range load.Tables {
		if err := l.ensure(ctx, t); err != nil {
			return nil, err
		}
	}
	if err := l.dropScanViews(ctx); err != nil {
		return nil, err
	}
	if err := l.commentTables(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// copyFile copies src to dst, made with src's permissions (and its owner's read and
// write); a missing src is not an error (first run).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm()|0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// SQLType is the DuckDB column type of an Arrow type of the contract.
func SQLType(t arrow.DataType) string {
	switch t.ID() {
	case arrow.STRING:
		return "VARCHAR"
	case arrow.INT64:
		return "BIGINT"
	case arrow.FLOAT64:
		return "DOUBLE"
	case arrow.BOOL:
		return "BOOLEAN"
	case arrow.DATE32:
		return "DATE"
	case arrow.TIMESTAMP:
		return "TIMESTAMP" // UTC, without zone: BI tools and BigQuery read it the same
	}
	panic("duckdb: no SQL type for " + t.String())
}

func quote(id string) string { return `"` + strings.ReplaceAll(id, `"`, `""`) + `"` }

// ensure creates table t or checks that the existing one has the contract's columns.
// An Append or ReplaceRange table written by an older version, whose columns are the
// contract's first ones and which lacks only columns at the end that load.AddableColumns
// allows, gets them (NULL on its old rows, or the contract's value for them,
// load.ExistingRows): its history is kept. Comments are written by commentTables, after every table.
func (l *Loader) ensure(ctx context.Context, t load.Table) error {
	rows, err := l.conn.QueryContext(ctx,
		`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position`, t.Name)
	if err != nil {
		return fmt.Errorf("duckdb: %s: %w", t.Name, err)
	}
	var have []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			rows.Close()
			return fmt.Errorf("duckdb: %s: %w", t.Name, err)
		}
		have = append(have, name+" "+typ)
	}
	rows.Close()
	var want, defs []string
	for _, f := range t.Schema.Fields() {
		want = append(want, f.Name+" "+SQLType(f.Type))
		def := quote(f.Name) + " " + SQLType(f.Type)
		if !f.Nullable {
			def += " NOT NULL"
		}
		defs = append(defs, def)
	}
	if len(have) > 0 && t.Mode == load.ReplaceAll && strings.Join(have, ", ") != strings.Join(want, ", ") {
		// A table replaced whole by every run holds nothing to keep: an older version's
		// is recreated with this version's columns.
		if _, err := l.conn.ExecContext(ctx, "DROP TABLE "+quote(t.Name)); err != nil {
			return fmt.Errorf("duckdb: recreate %s with this version's columns: %w", t.Name, err)
		}
		l.cfg.Logger.Info("table recreated with this version's columns (it is replaced whole by every run)", "table", t.Name,
			"had", strings.Join(have, ", "))
		have = nil
	}
	if len(have) == 0 {
		ddl := fmt.Sprintf("CREATE TABLE %s (\n  %s\n)", quote(t.Name), strings.Join(defs, ",\n  "))
		if _, err := l.conn.ExecContext(ctx, ddl); err != nil {
			return fmt.Errorf("duckdb: create %s: %w", t.Name, err)
		}
		return nil
	}
	if added := load.AddableColumns(t, len(have)); added != nil && slices.Equal(have, want[:len(have)]) {
		// In PATH.next, like every change of the run: a failed run leaves the live file
		// without the columns.
		for _, f := range added {
			stmts := []string{fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", quote(t.Name), quote(f.Name), SQLType(f.Type))}
			value, ok := load.ExistingRows(f)
			if ok {
				// DuckDB adds no column with a constraint: the older rows get the value
				// through a default, then the column becomes NOT NULL and loses the
				// default (the run writes every value).
				stmts[0] += " DEFAULT CAST(" + literal(value) + " AS " + SQLType(f.Type) + ")"
				stmts = append(stmts,
					fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL", quote(t.Name), quote(f.Name)),
					fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT", quote(t.Name), quote(f.Name)))
			}
			for _, s := range stmts {
				if _, err := l.conn.ExecContext(ctx, s); err != nil {
					return fmt.Errorf("duckdb: add column %s to %s: %w", f.Name, t.Name, err)
				}
			}
			if ok {
				l.cfg.Logger.Info("column added", "table", t.Name, "column", f.Name, "type", SQLType(f.Type), "existing_rows", value)
			} else {
				l.cfg.Logger.Info("column added", "table", t.Name, "column", f.Name, "type", SQLType(f.Type))
			}
		}
		return nil
	}
	if strings.Join(have, ", ") != strings.Join(want, ", ") {
		return fmt.Errorf("duckdb: table %s in %s has columns (%s), this version writes (%s): move the file aside or drop the table, then re-run the date ranges you need",
			t.Name, l.cfg.Path, strings.Join(have, ", "), strings.Join(want, ", "))
	}
	return nil
}

// dropScanViews drops the views of the Arrow scan (_closedloop_arrow_<table>) that
// versions before appendRecords dropped them left in the file: they point at memory of
// the run that made them, and BI tools list them beside the tables.
func (l *Loader) dropScanViews(ctx context.Context) error {
	rows, err := l.conn.QueryContext(ctx, `SELECT view_name FROM duckdb_views()
		WHERE database_name = current_database() AND schema_name = 'main' AND starts_with(view_name, '_closedloop_arrow_')`)
	if err != nil {
		return fmt.Errorf("duckdb: list views: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("duckdb: list views: %w", err)
		}
		names = append(names, n)
	}
	rows.Close()
	for _, n := range names {
		if _, err := l.conn.ExecContext(ctx, "DROP VIEW "+quote(n)); err != nil {
			return fmt.Errorf("duckdb: drop the leftover view %s: %w", n, err)
		}
		l.cfg.Logger.Info("leftover view of an earlier run's Arrow scan dropped", "view", n)
	}
	return nil
}

// ConcurrentLoads says how many tables Load may write at once, from as many
// goroutines (load.ConcurrentLoader): one per core. Each appends on a connection of
// its own into its own table; the run stays atomic, as Commit swaps the whole file.
func (l *Loader) ConcurrentLoads() int { return runtime.GOMAXPROCS(0) }

// Load replaces the rows of table name as its mode says. Loads of different tables
// may run at once.
func (l *Loader) Load(ctx context.Context, name string, t arrow.Table) error {
	tr := array.NewTableReader(t, 0)
	defer tr.Release()
	return l.LoadRecords(ctx, name, tr)
}

// LoadRecords is Load of the rows rr gives, batch by batch (load.RecordLoader): a
// table larger than memory goes in without being held whole.
func (l *Loader) LoadRecords(ctx context.Context, name string, rr array.RecordReader) error {
	return l.LoadRange(ctx, name, l.cfg.Range, rr)
}

// LoadRange is LoadRecords over the days rng (load.RangeLoader).
func (l *Loader) LoadRange(ctx context.Context, name string, rng load.Range, rr array.RecordReader) error {
	spec, ok := load.Lookup(name)
	if !ok {
		return fmt.Errorf("duckdb: %s is not a warehouse table", name)
	}
	if !rr.Schema().Equal(spec.Schema) {
		return fmt.Errorf("duckdb: %s: schema %s differs from the contract's %s", name, rr.Schema(), spec.Schema)
	}
	// Each Load has a connection of its own, so that tables load at once (ConcurrentLoads).
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("duckdb: load %s: %w", name, err)
	}
	defer conn.Close()
	switch spec.Mode {
	case load.ReplaceAll:
		if _, err := conn.ExecContext(ctx, "DELETE FROM "+quote(name)); err != nil {
			return fmt.Errorf("duckdb: clear %s: %w", name, err)
		}
	case load.ReplaceRange:
		q := fmt.Sprintf("DELETE FROM %s WHERE CAST(%s AS DATE) BETWEEN ? AND ?", quote(name), quote(spec.DateColumn))
		if _, err := conn.ExecContext(ctx, q, rng.From, rng.To); err != nil {
			return fmt.Errorf("duckdb: clear %s for %s..%s: %w", name, rng.From.Format(time.DateOnly), rng.To.Format(time.DateOnly), err)
		}
	}
	n, err := appendRecords(ctx, conn, name, rr)
	if err == nil {
		err = rr.Err()
	}
	if err != nil {
		return fmt.Errorf("duckdb: load %s: %w", name, err)
	}
	l.cfg.Logger.Debug("loaded", "table", name, "rows", n)
	return nil
}

// RemapPersons re-points person_id of the date-keyed tables through aliases (see
// load.Loader): the aliases go into a temporary table, then one UPDATE per table.
func (l *Loader) RemapPersons(ctx context.Context, aliases arrow.Table) (int64, error) {
	if aliases == nil || aliases.NumRows() == 0 {
		return 0, nil
	}
	const tmp = "_closedloop_person_alias"
	if _, err := l.conn.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE "+tmp+" (alias_id VARCHAR PRIMARY KEY, person_id VARCHAR NOT NULL)"); err != nil {
		return 0, fmt.Errorf("duckdb: person aliases: %w", err)
	}
	defer l.conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+tmp)
	if _, err := appendTable(ctx, l.conn, tmp, aliases); err != nil {
		return 0, fmt.Errorf("duckdb: person aliases: %w", err)
	}
	var total int64
	for _, t := range load.Tables {
		if t.Mode != load.ReplaceRange || t.Schema.FieldIndices("person_id") == nil {
			continue
		}
		res, err := l.conn.ExecContext(ctx, fmt.Sprintf(
			"UPDATE %s SET person_id = a.person_id FROM %s a WHERE %s.person_id = a.alias_id", quote(t.Name), tmp, quote(t.Name)))
		if err != nil {
			return total, fmt.Errorf("duckdb: re-point %s.person_id: %w", t.Name, err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	l.cfg.Logger.Debug("persons re-pointed", "rows", total)
	return total, nil
}

// ApplyViews creates or replaces every DuckDB view of package views, and comments each
// view and its columns (commentViews).
func (l *Loader) ApplyViews(ctx context.Context) error {
	vs, err := views.List("duckdb")
	if err != nil {
		return err
	}
	for _, v := range vs {
		if _, err := l.conn.ExecContext(ctx, v.SQL); err != nil {
			return fmt.Errorf("duckdb: view %s (sql/duckdb/%s.sql): %w", v.Name, v.Name, err)
		}
	}
	return l.commentViews(ctx, vs)
}

// Commit checkpoints the next version and renames it over the live file, with the live
// file's mode and owner. A live file made read-only meanwhile is kept (ErrReadOnly).
func (l *Loader) Commit(ctx context.Context) error {
	live, err := os.Stat(l.cfg.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		live = nil
	case err != nil:
		return fmt.Errorf("duckdb: %w", err)
	case live.Mode().Perm()&0o222 == 0:
		return &readOnlyError{path: l.cfg.Path, mode: live.Mode()}
	}
	if _, err := l.conn.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("duckdb: checkpoint: %w", err)
	}
	if err := errors.Join(l.conn.Close(), l.db.Close()); err != nil {
		return fmt.Errorf("duckdb: close %s: %w", l.next, err)
	}
	l.conn, l.db = nil, nil
	if live != nil {
		if err := l.keepModeOwner(live); err != nil {
			return err
		}
	}
	if err := syncFile(l.next); err != nil {
		return fmt.Errorf("duckdb: sync %s: %w", l.next, err)
	}
	// A clean close leaves no WAL; one left over would belong to the old file.
	if err := os.Remove(l.cfg.Path + ".wal"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("duckdb: %w", err)
	}
	if err := os.Rename(l.next, l.cfg.Path); err != nil {
		return fmt.Errorf("duckdb: swap in the new database: %w", err)
	}
	l.committed = true
	return syncFile(filepath.Dir(l.cfg.Path))
}

// keepModeOwner gives the next version the mode and owner of the live file. An owner
// this process may not give (not root) is logged: the group alone is kept if it may be.
func (l *Loader) keepModeOwner(live fs.FileInfo) error {
	if want, ok := live.Sys().(*syscall.Stat_t); ok {
		next, err := os.Stat(l.next)
		if err != nil {
			return fmt.Errorf("duckdb: %w", err)
		}
		if have := next.Sys().(*syscall.Stat_t); have.Uid != want.Uid || have.Gid != want.Gid {
			if err := os.Chown(l.next, int(want.Uid), int(want.Gid)); err != nil {
				group := have.Gid == want.Gid || os.Chown(l.next, -1, int(want.Gid)) == nil
				l.cfg.Logger.Warn("the new version of the warehouse file cannot keep its owner", "path", l.cfg.Path,
					"uid", want.Uid, "gid", want.Gid, "group_kept", group, "err", err)
			}
		}
	}
	if err := os.Chmod(l.next, live.Mode().Perm()); err != nil {
		return fmt.Errorf("duckdb: keep the mode of %s: %w", l.cfg.Path, err)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Close releases the loader; without Commit it discards the next version.
func (l *Loader) Close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	var errs []error
	if l.conn != nil {
		errs = append(errs, l.conn.Close())
	}
	if l.db != nil {
		errs = append(errs, l.db.Close())
	}
	if !l.committed {
		for _, f := range []string{l.next, l.next + ".wal"} {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if l.ownLock {
		errs = append(errs, l.lock.Unlock())
	} else {
		l.lock.release()
	}
	return errors.Join(errs...)
}

// OpenReadOnly opens a warehouse file for reading, as a dashboard would.
func OpenReadOnly(path string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("duckdb: %w", err)
	}
	return sql.Open("duckdb", path+"?access_mode=READ_ONLY")
}
