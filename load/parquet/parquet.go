// Package parquet loads the warehouse as Parquet files in a folder (warehouse spec
// parquet:DIR), for readers that query files: DuckDB, BigQuery external tables, Spark,
// Trino, pandas/polars.
//
// # Layout
//
// One folder per table of load.Tables under DIR:
//
//	DIR/fct_attribution/day=2026-03-01/part-<runid>.parquet   ReplaceRange facts, Hive-style
//	DIR/fct_attribution/day=2026-03-02/part-<runid>.parquet   partitions by UTC day of DateColumn
//	DIR/dim_person/part-<runid>.parquet                       ReplaceAll: the last run's file
//	DIR/run_log/part-<runid>.parquet                          Append: one file per run, kept
//	DIR/identity_conflicts/empty.parquet                      a table without rows (see below)
//	DIR/_manifests/<runid>.json                               what each run wrote and removed
//	DIR/.lock                                                 held (flock) while a run writes
//	DIR/.staging-<runid>/                                     a run's files before Commit
//
// The partition key is day, not date (fct_spend has a date column of its own). Files
// are written with arrow-go's pqarrow writer: zstd compression, statistics on,
// dictionary encoding on except for the *_id columns (nearly unique: plain encoding plus
// zstd is smaller and faster there), row groups of up to 1Mi rows or 128 MiB of encoded
// pages, the Arrow schema stored (ARROW:schema), so readers get the exact contract
// types: timestamp[us] adjusted to UTC, date32, int64, float64, bool, strings, with
// each column's description in its field metadata. Each file also carries
// closedloop.table and closedloop.run_id in its key-value metadata. Rows are written in
// the order Load receives them (ClusterBy is not applied: the day partitions and the
// row-group statistics do the pruning). Load streams the input's record batches into
// the files without concatenating them; the days of a fact table are written in
// parallel, up to four files at once.
//
// Every table is readable after every run, even without rows: a table that has no
// rows at all holds one zero-row file, empty.parquet, at its root, so that a glob
// such as DIR/<table>/**/*.parquet always matches something and carries the schema.
// It is removed by the commit that brings the table's first rows.
//
// # Atomicity and what readers see
//
// Load writes only under DIR/.staging-<runid>/ (same layout), each file under a
// temporary name renamed when complete and synced: nothing of a run is visible before
// Commit, and Close without Commit removes the staging folder and touches nothing else.
// Commit then moves the staged files into place with renames on the same file system:
// for a ReplaceRange table, every day partition of the run's range loses its old files
// and gets the new ones (days of the range without rows end up with no partition);
// a ReplaceAll table swaps its files; an Append table gains one. Rows re-pointed by
// RemapPersons replace their files in place (rename over the old name).
//
// Each file is atomic: a reader sees a whole old file or a whole new one, never half a
// file, and a reader that has a file open keeps reading it after it is replaced or
// removed (POSIX). A run as a whole is not atomic for readers: Commit publishes file by
// file, partition by partition (new files first, then the old ones of that partition
// are removed), table after table. During those few milliseconds of renames (no data is
// written during them), a reader that lists the files may see some tables or days of
// the new run next to others of the old one, a day partition with both its old and new
// file (that day counted twice), or a file it listed disappear before it opens it (an
// I/O "file not found" error: retry the query). Schedule dashboards' refreshes away from
// the nightly run, or read the file list of the last manifest, when that matters.
//
// Commit is crash-safe: before the first rename it writes its plan to
// DIR/.staging-<runid>/commit.json (synced); if the process dies during the renames,
// the next Open finishes the plan (every step can be repeated) and writes the manifest.
// A staging folder without a plan is a run that never committed: the next Open removes
// it. Two runs never write at once: Open takes an exclusive flock on DIR/.lock and
// fails with a clear message while another run holds it.
//
// # Reading the files
//
// DuckDB:
//
//	SELECT * FROM read_parquet('DIR/fct_attribution/**/*.parquet', hive_partitioning = false, union_by_name = true)
//
// (hive_partitioning = true adds the day column, a DATE, and lets a filter on day skip
// whole folders; union_by_name = true keeps files of an older contract readable next to
// newer ones). A version that adds nullable columns at the end of an Append table
// (run_log, rejected_rows, whose files are kept for ever) rewrites that table's older
// files with the new columns, NULL, on its first run (staged, renamed at Commit like
// the others, listed as files_rewritten in its manifest): every file of those tables
// then has the same columns, for readers that take one file's schema for all. BigQuery, after copying DIR to a bucket (gcloud storage rsync -r DIR
// gs://BUCKET/wh):
//
//	CREATE EXTERNAL TABLE wh.fct_attribution
//	WITH PARTITION COLUMNS (day DATE)
//	OPTIONS (format = 'PARQUET', uris = ['gs://BUCKET/wh/fct_attribution/*'],
//	         hive_partition_uri_prefix = 'gs://BUCKET/wh/fct_attribution')
//
// (tables without DateColumn: no WITH PARTITION COLUMNS; BigQuery maps timestamps
// adjusted to UTC to TIMESTAMP). A fact table that has never had rows holds only its
// root empty.parquet, outside the day= layout: create its partitioned external table
// once it has rows. Spark: spark.read.parquet("DIR/fct_attribution") discovers day as
// a partition column; Spark ignores files and folders starting with _ or ., so the
// manifests and staging folders are never read as data.
//
// Parquet has no views: ApplyViews does nothing. BI tools that read the files apply the
// views of the DuckDB or BigQuery dialect (sql/duckdb, sql/bigquery) over the tables
// they define on the files, as above.
//
// A Loader is not safe for concurrent use; a run calls its methods one after another.
package parquet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/load"
)

// Config configures a Loader.
type Config struct {
	Dir   string     // the warehouse folder: one sub-folder per table
	Range load.Range // days whose partitions ReplaceRange tables replace
	// RunID names the run's files (part-<runid>.parquet) and its manifest; letters,
	// digits, '.', '_', '-'. Empty: derived from the time (20260301T020304.123456Z).
	RunID string
	// Logger gets a warning for what a run cleans up or adds outside its range, and
	// debug lines per table; nil: discarded.
	Logger *slog.Logger
	// Mem allocates the Arrow and Parquet buffers of the loader; nil: the default
	// allocator.
	Mem memory.Allocator
}

const (
	dayKey          = "day"           // partition key: DIR/<table>/day=YYYY-MM-DD/
	placeholderName = "empty.parquet" // the zero-row file of a table without rows
	stagingPrefix   = ".staging-"
	lockName        = ".lock"
	manifestDir     = "_manifests"
	journalName     = "commit.json"
)

var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Loader writes one run as Parquet files under its staging folder and publishes them at
// Commit.
type Loader struct {
	cfg      Config
	mem      memory.Allocator
	log      *slog.Logger
	runID    string
	staging  string // DIR/.staging-<runid>
	from, to int32  // the range, days since 1970-01-01 (UTC)
	lock     *os.File

	tables   map[string][]FileEntry // staged files of each loaded table
	remapped map[string]*remapped   // staged rewrites by path of the file they replace
	migrated map[string]FileEntry   // staged files of Append tables given new columns (migrate)
	failed   error                  // a Load or RemapPersons that failed half-way

	journaled bool // Commit wrote its plan: the staging folder must survive a crash
	committed bool
	closed    bool
}

var _ load.Loader = (*Loader)(nil)

// Open prepares a run writing into cfg.Dir: it takes the lock, finishes or removes what
// a crashed run left, and creates the run's staging folder.
func Open(ctx context.Context, cfg Config) (_ *Loader, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Mem == nil {
		cfg.Mem = memory.DefaultAllocator
	}
	if cfg.Dir == "" {
		return nil, errors.New("parquet: no folder: the warehouse spec is parquet:DIR")
	}
	if cfg.Range.To.Before(cfg.Range.From) {
		return nil, fmt.Errorf("parquet: range %s..%s ends before it starts",
			cfg.Range.From.Format(time.DateOnly), cfg.Range.To.Format(time.DateOnly))
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("parquet: create the warehouse folder: %w", err)
	}
	l := &Loader{cfg: cfg, mem: cfg.Mem, log: cfg.Logger, from: dayOf(cfg.Range.From), to: dayOf(cfg.Range.To),
		tables: map[string][]FileEntry{}, remapped: map[string]*remapped{}, migrated: map[string]FileEntry{}}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	lockPath := filepath.Join(cfg.Dir, lockName)
	l.lock, err = os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("parquet: lock: %w", err)
	}
	if err := syscall.Flock(int(l.lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return nil, fmt.Errorf("parquet: another run is writing %s (lock %s held): wait for it to end", cfg.Dir, lockPath)
	}
	if err := l.recover(ctx); err != nil {
		return nil, err
	}
	l.runID = cfg.RunID
	if l.runID == "" {
		l.runID = time.Now().UTC().Format("20060102T150405.000000Z")
	}
	if !runIDPattern.MatchString(l.runID) {
		return nil, fmt.Errorf("parquet: run id %q cannot name files: use letters, digits, '.', '_' and '-' (at most 128, not starting with '.')", l.runID)
	}
	if _, err := os.Stat(manifestPath(cfg.Dir, l.runID)); err == nil {
		return nil, fmt.Errorf("parquet: run %s was already committed to %s (%s exists): give this run another id", l.runID, cfg.Dir, manifestPath(cfg.Dir, l.runID))
	}
	l.staging = filepath.Join(cfg.Dir, stagingPrefix+l.runID)
	if err := os.MkdirAll(l.staging, 0o755); err != nil {
		return nil, fmt.Errorf("parquet: create the staging folder: %w", err)
	}
	if err := l.migrate(ctx); err != nil {
		return nil, err
	}
	l.log.Debug("parquet run opened", "dir", cfg.Dir, "run_id", l.runID)
	return l, nil
}

// recover deals with the staging folders of earlier runs: one with a commit plan
// crashed during Commit and is finished; one without never committed and is removed.
func (l *Loader) recover(ctx context.Context) error {
	entries, err := os.ReadDir(l.cfg.Dir)
	if err != nil {
		return fmt.Errorf("parquet: list %s: %w", l.cfg.Dir, err)
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), stagingPrefix) {
			continue
		}
		dir := filepath.Join(l.cfg.Dir, e.Name())
		j, err := readJournal(dir)
		switch {
		case errors.Is(err, os.ErrNotExist):
			l.log.Warn("removing the staging folder of a run that did not commit", "folder", dir)
			if err := os.RemoveAll(dir); err != nil {
				return fmt.Errorf("parquet: remove the leftover staging folder %s: %w: remove it by hand", dir, err)
			}
		case err != nil:
			return fmt.Errorf("parquet: read the commit plan of an interrupted run: %w: move %s aside, then check the tables it names and re-run their range", err, dir)
		default:
			l.log.Warn("finishing the commit of an interrupted run", "run_id", j.Manifest.RunID, "folder", dir)
			if err := apply(ctx, l.cfg.Dir, dir, j); err != nil {
				return fmt.Errorf("parquet: finish the interrupted commit of run %s: %w", j.Manifest.RunID, err)
			}
		}
	}
	// A manifest half-written by a crash is only a temporary file.
	tmps, _ := filepath.Glob(filepath.Join(l.cfg.Dir, manifestDir, ".*.tmp"))
	for _, t := range tmps {
		os.Remove(t)
	}
	return nil
}

// RunID returns the id naming the run's files and manifest.
func (l *Loader) RunID() string { return l.runID }

// usable says why the loader cannot take more work, if it cannot.
func (l *Loader) usable() error {
	switch {
	case l.closed:
		return errors.New("parquet: the loader is closed")
	case l.committed:
		return errors.New("parquet: the run is already committed: open a new loader")
	case l.journaled:
		return errors.New("parquet: Commit failed half-way: close the loader; the next Open finishes the commit")
	}
	return nil
}

// Load writes the rows of table name under the staging folder: ReplaceRange tables one
// file per UTC day of their DateColumn, the others one file. A table is loaded at most
// once per run. A table with no rows writes nothing (Commit keeps every table readable).
func (l *Loader) Load(ctx context.Context, name string, t arrow.Table) (err error) {
	if err := l.usable(); err != nil {
		return err
	}
	spec, ok := load.Lookup(name)
	if !ok {
		return fmt.Errorf("parquet: %s is not a warehouse table", name)
	}
	if !t.Schema().Equal(spec.Schema) {
		return fmt.Errorf("parquet: %s: schema %s differs from the contract's %s", name, t.Schema(), spec.Schema)
	}
	if _, done := l.tables[name]; done {
		return fmt.Errorf("parquet: %s is loaded twice in run %s: load each table once", name, l.runID)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(filepath.Join(l.staging, name))
			l.failed = err
		}
	}()
	var files []FileEntry
	switch spec.Mode {
	case load.ReplaceRange:
		files, err = l.writeByDay(ctx, spec, t)
	default:
		var f FileEntry
		f, err = l.writeWhole(ctx, spec, t)
		if f.Rows > 0 {
			files = append(files, f)
		}
	}
	if err != nil {
		return err
	}
	l.tables[name] = files
	l.log.Debug("loaded", "table", name, "rows", t.NumRows(), "files", len(files))
	return nil
}

// ApplyViews does nothing: Parquet files have no views. BI tools that read the files
// apply the views of the DuckDB or BigQuery dialect (sql/duckdb, sql/bigquery) over the
// tables they define on the files.
func (l *Loader) ApplyViews(context.Context) error { return nil }

// Close releases the lock; without Commit it removes the run's staging folder and
// leaves every table as it was. After a Commit that failed half-way it keeps the
// staging folder, whose plan the next Open finishes. Safe to call twice.
func (l *Loader) Close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	var errs []error
	if !l.committed && l.staging != "" {
		if l.journaled {
			l.log.Warn("commit incomplete: the next run finishes it", "folder", l.staging)
		} else if err := os.RemoveAll(l.staging); err != nil {
			errs = append(errs, fmt.Errorf("parquet: remove the staging folder (the next Open retries): %w", err))
		}
	}
	if l.lock != nil {
		errs = append(errs, syscall.Flock(int(l.lock.Fd()), syscall.LOCK_UN), l.lock.Close())
	}
	return errors.Join(errs...)
}

// dayOf is the UTC calendar day of t, in days since 1970-01-01.
func dayOf(t time.Time) int32 {
	y, m, d := t.UTC().Date()
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// dayString formats a day number as YYYY-MM-DD.
func dayString(d int32) string {
	return time.Unix(int64(d)*86400, 0).UTC().Format(time.DateOnly)
}

// partitionDir is the folder of day d in table: "<table>/day=YYYY-MM-DD".
func partitionDir(table string, d int32) string {
	return table + "/" + dayKey + "=" + dayString(d)
}

// partFile is the name of the run's file in a folder.
func (l *Loader) partFile() string { return "part-" + l.runID + ".parquet" }
