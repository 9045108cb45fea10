// Package postgres loads the warehouse into a PostgreSQL schema (postgres:DSN).
//
// # One transaction per run
//
// Open connects (one pgx connection) and begins the run's transaction. Every Load
// (DELETE of the rows the run replaces, then COPY FROM STDIN BINARY of its rows),
// RemapPersons and ApplyViews runs inside it, and Commit commits it: all tables and
// views change at once. PostgreSQL's DDL is transactional too, so even a first run's
// CREATE TABLEs disappear when Close rolls back a run that was not committed. Until
// Commit every other session sees the previous rows through MVCC.
//
// Locks a reader meets: DELETE, COPY and UPDATE take ROW EXCLUSIVE on the tables they
// write, held until Commit; a SELECT takes ACCESS SHARE, which does not conflict with
// it. So readers never wait for the run and the run never waits for readers, including
// a dashboard that holds a REPEATABLE READ transaction open across the whole run (it
// keeps its snapshot: the old rows). Only a session that locks rows or tables itself
// (SELECT ... FOR UPDATE or FOR SHARE, LOCK TABLE) can make the run wait. ReplaceAll
// tables are emptied with DELETE, not TRUNCATE: TRUNCATE takes ACCESS EXCLUSIVE (every
// reader of the table would wait until Commit) and is not MVCC-safe (an older snapshot
// would see the table empty).
//
// DDL is the exception, and a nightly run with an unchanged contract runs none.
// CREATE TABLE and CREATE INDEX when a table or an index is missing (SHARE on an
// existing table) and COMMENT when a description changed (SHARE UPDATE EXCLUSIVE) do
// not conflict with readers either. CREATE OR REPLACE VIEW, when a view's SQL changed,
// takes ACCESS EXCLUSIVE on the view until Commit. ApplyViews therefore skips a view
// whose SQL is unchanged (a SHA-256 of the file is kept in the view's comment). One
// that must be replaced waits at most 5 s at a time for sessions that have read the
// view (queries arriving meanwhile queue behind it for no longer), retrying for about
// a minute before it fails the run; once it has the lock, readers of the view wait
// only from ApplyViews to Commit, the end of the run.
//
// The first run of a version that added nullable columns at the end of an Append table
// (run_log, rejected_rows: history that no run rewrites) adds them to the existing
// table with ALTER TABLE ... ADD COLUMN (NULL on the old rows), in the run's
// transaction. That takes ACCESS EXCLUSIVE on the table: it waits for its readers as a
// view's replacement does, and readers of that table wait from Open to Commit, once.
//
// Why not staging tables and a swap (load into new tables, then rename them over the
// live ones):
//   - The swap needs ACCESS EXCLUSIVE on every live table: it waits for every open
//     transaction that has read one of them, every new query queues behind it, and
//     the lock is held until the swap's transaction commits.
//   - Views bind to tables by OID, not name: after a rename v_channel_performance would
//     still read the old table, so every view would have to be dropped and recreated
//     at each run (and the old table dropped with CASCADE).
//   - ReplaceRange keeps the other days, so staging would copy a fact table's whole
//     history every run instead of writing the range.
//   - Indexes, comments, grants and statistics would have to be rebuilt each run.
//
// The costs of the single transaction: deleted rows stay as dead tuples until
// (auto)vacuum reclaims them (a ReplaceAll table is twice its size until then), and
// the run's transaction holds back vacuum's horizon while it lasts. For a nightly job
// both are cheaper than the swap's locks.
//
// A transaction-level advisory lock on the schema name keeps two runs from loading the
// same schema at once: the second Open fails and says so.
//
// # Tables
//
// Open makes sure the schema and every contract table exist. Column types come from
// Arrow (see SQLType), non-nullable fields are NOT NULL, table and field descriptions
// become COMMENTs, and the DateColumn and each ClusterBy column (the keys dashboards
// filter by) get a b-tree index. An existing table with other columns is refused, with
// two exceptions: a ReplaceAll table (nothing to keep) is dropped and recreated, and an
// Append table gets the nullable columns it lacks at the end (see above).
//
// Rows go in with pgx's CopyFrom in the binary format, read straight from the Arrow
// record batches (see source): no per-row INSERTs and no per-row allocation.
package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"closedloop/load"
	"closedloop/load/postgres/pgdb"
	views "closedloop/sql"
)

// Config configures a Loader.
type Config struct {
	DSN    string       // libpq URL or key=value string; the role needs CREATE on the schema for a first run
	Range  load.Range   // days whose rows ReplaceRange tables replace
	Logger *slog.Logger // progress at Debug, waits at Info; nil discards
	Schema string       // PostgreSQL schema of the tables and views, default "public"; created if missing
}

// Loader writes one run inside one transaction (see the package documentation).
type Loader struct {
	cfg       Config
	conn      *pgx.Conn
	tx        pgx.Tx
	failed    error // the first failed statement: the transaction is aborted
	committed bool
	closed    bool
}

var _ load.Loader = (*Loader)(nil)

// Open connects to cfg.DSN, begins the run's transaction, takes the schema's run lock
// and makes sure the schema and every contract table exist with their columns.
func Open(ctx context.Context, cfg Config) (_ *Loader, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Schema == "" {
		cfg.Schema = "public"
	}
	if cfg.Range.To.Before(cfg.Range.From) {
		return nil, fmt.Errorf("postgres: range %s..%s ends before it starts", cfg.Range.From.Format(time.DateOnly), cfg.Range.To.Format(time.DateOnly))
	}
	pc, err := pgx.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres: DSN: %w", err)
	}
	if pc.RuntimeParams["application_name"] == "" {
		pc.RuntimeParams["application_name"] = "closedloop"
	}
	pc.RuntimeParams["timezone"] = "UTC" // day boundaries and any text rendering in UTC
	l := &Loader{cfg: cfg}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	l.conn, err = pgx.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect to %s:%d/%s: %w", pc.Host, pc.Port, pc.Database, err)
	}
	if l.tx, err = l.conn.Begin(ctx); err != nil {
		return nil, fmt.Errorf("postgres: begin: %w", err)
	}
	var locked bool
	if err := l.tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))", "closedloop:"+cfg.Schema).Scan(&locked); err != nil {
		return nil, fmt.Errorf("postgres: run lock: %w", err)
	}
	if !locked {
		return nil, fmt.Errorf("postgres: another run is loading schema %s of database %s: wait for it to end", cfg.Schema, pc.Database)
	}
	if err := l.ensureSchema(ctx); err != nil {
		return nil, err
	}
	for _, t := range load.Tables {
		if err := l.ensure(ctx, t); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// SQLType is the PostgreSQL column type of an Arrow type of the contract, as
// format_type prints it.
func SQLType(t arrow.DataType) string {
	switch t.ID() {
	case arrow.STRING:
		return "text"
	case arrow.INT64:
		return "bigint"
	case arrow.FLOAT64:
		return "double precision"
	case arrow.BOOL:
		return "boolean"
	case arrow.DATE32:
		return "date"
	case arrow.TIMESTAMP:
		return "timestamp with time zone" // the contract's timestamps are UTC instants
	}
	panic("postgres: no SQL type for " + t.String())
}

// ident is the quoted name of a relation of the run's schema.
func (l *Loader) ident(name string) string { return pgx.Identifier{l.cfg.Schema, name}.Sanitize() }

// literal quotes s as an SQL string literal (COMMENT takes no parameters).
func literal(s string) string {
	s = strings.ReplaceAll(s, "'", "''")
	if strings.Contains(s, `\`) {
		return `E'` + strings.ReplaceAll(s, `\`, `\\`) + `'`
	}
	return "'" + s + "'"
}

// ensureSchema creates the run's schema if missing and makes it the transaction's
// search_path, where the views' unqualified table names resolve.
func (l *Loader) ensureSchema(ctx context.Context) error {
	var exists bool
	if err := l.tx.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", l.cfg.Schema).Scan(&exists); err != nil {
		return fmt.Errorf("postgres: schema %s: %w", l.cfg.Schema, err)
	}
	if !exists {
		if _, err := l.tx.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{l.cfg.Schema}.Sanitize()); err != nil {
			return fmt.Errorf("postgres: create schema %s (or create it and grant CREATE on it to the loading role): %w", l.cfg.Schema, err)
		}
	}
	if _, err := l.tx.Exec(ctx, "SELECT set_config('search_path', $1, true)", pgx.Identifier{l.cfg.Schema}.Sanitize()); err != nil {
		return fmt.Errorf("postgres: search_path: %w", err)
	}
	return nil
}

// column is a column as the catalog has it or as the contract wants it.
type column struct {
	name, typ string
	notNull   bool
	comment   string
}

func (c column) String() string {
	if c.notNull {
		return c.name + " " + c.typ + " NOT NULL"
	}
	return c.name + " " + c.typ
}

func contractColumns(t load.Table) []column {
	var out []column
	for _, f := range t.Schema.Fields() {
		out = append(out, column{name: f.Name, typ: SQLType(f.Type), notNull: !f.Nullable, comment: load.Description(f)})
	}
	return out
}

// indexed are the columns that get an index: the DateColumn, then ClusterBy.
func indexed(t load.Table) []string {
	var out []string
	if t.DateColumn != "" {
		out = append(out, t.DateColumn)
	}
	for _, c := range t.ClusterBy {
		if c != t.DateColumn {
			out = append(out, c)
		}
	}
	return out
}

// ensure creates table t, or checks that the existing one has the contract's columns;
// it brings comments up to date and creates missing indexes.
func (l *Loader) ensure(ctx context.Context, t load.Table) error {
	name := l.cfg.Schema + "." + t.Name
	want := contractColumns(t)
	var (
		oid          uint32
		kind         string
		tableComment pgtype.Text
	)
	err := l.tx.QueryRow(ctx, `SELECT c.oid, c.relkind::text, obj_description(c.oid, 'pg_class')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2`, l.cfg.Schema, t.Name).Scan(&oid, &kind, &tableComment)
	if errors.Is(err, pgx.ErrNoRows) {
		return l.create(ctx, t, want)
	}
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", name, err)
	}
	if kind != "r" && kind != "p" {
		return fmt.Errorf("postgres: %s is not a table (pg_class.relkind %q): drop it, or load into another schema", name, kind)
	}
	rows, err := l.tx.Query(ctx, `SELECT attname, format_type(atttypid, atttypmod), attnotnull, coalesce(col_description(attrelid, attnum), '')
		FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, oid)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", name, err)
	}
	var have []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.typ, &c.notNull, &c.comment); err != nil {
			rows.Close()
			return fmt.Errorf("postgres: %s: %w", name, err)
		}
		have = append(have, c)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: %s: %w", name, err)
	}
	if diff := columnsDiff(have, want); diff != "" && t.Mode == load.ReplaceAll {
		// A table replaced whole by every run holds nothing to keep: an older version's
		// is recreated with this version's columns (its views are recreated by ApplyViews).
		if _, err := l.tx.Exec(ctx, "DROP TABLE "+l.ident(t.Name)+" CASCADE"); err != nil {
			return fmt.Errorf("postgres: recreate %s with this version's columns: %w", name, err)
		}
		l.cfg.Logger.Info("table recreated with this version's columns (it is replaced whole by every run)", "table", name, "difference", diff)
		return l.create(ctx, t, want)
	}
	if added := load.AddableColumns(t, len(have)); added != nil && columnsDiff(have, want[:len(have)]) == "" {
		// An Append or ReplaceRange table of an older version: its rows (history, or
		// days outside the run's range) are kept, the new columns are NULL on them or
		// the contract's value for existing rows (load.ExistingRows).
		if err := l.addColumns(ctx, t, want[len(have):]); err != nil {
			return err
		}
		have = append(have, want[len(have):]...) // commented by addColumns
	}
	if diff := columnsDiff(have, want); diff != "" {
		return fmt.Errorf("postgres: table %s has columns (%s), this version writes (%s): %s. "+
			"Drop the table (DROP TABLE %s CASCADE: views are recreated by the next run) or migrate it with ALTER TABLE, then re-run the date ranges you need",
			name, joinColumns(have), joinColumns(want), diff, l.ident(t.Name))
	}
	if tableComment.String != t.Description {
		if _, err := l.tx.Exec(ctx, fmt.Sprintf("COMMENT ON TABLE %s IS %s", l.ident(t.Name), literal(t.Description))); err != nil {
			return fmt.Errorf("postgres: comment on %s: %w", name, err)
		}
	}
	for i, c := range want {
		if have[i].comment != c.comment {
			if _, err := l.tx.Exec(ctx, fmt.Sprintf("COMMENT ON COLUMN %s.%s IS %s", l.ident(t.Name), pgx.Identifier{c.name}.Sanitize(), literal(c.comment))); err != nil {
				return fmt.Errorf("postgres: comment on %s.%s: %w", name, c.name, err)
			}
		}
	}
	// An index whose first key is the column serves the dashboards' filters on it.
	rows, err = l.tx.Query(ctx, `SELECT a.attname FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
		WHERE i.indrelid = $1`, oid)
	if err != nil {
		return fmt.Errorf("postgres: indexes of %s: %w", name, err)
	}
	leading, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("postgres: indexes of %s: %w", name, err)
	}
	for _, c := range indexed(t) {
		if !contains(leading, c) {
			if err := l.index(ctx, t, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// existingRows is the value the existing rows of t get in its column name when it is
// added (load.ExistingRows).
func existingRows(t load.Table, name string) (string, bool) {
	f, ok := t.Schema.FieldsByName(name)
	if !ok {
		return "", false
	}
	return load.ExistingRows(f[0])
}

// addColumns adds cols at the end of the existing table t with their comments, nullable
// or NOT NULL with the contract's value on the existing rows (existingRows), in the run's transaction (a run that fails adds nothing). ALTER TABLE takes
// ACCESS EXCLUSIVE on the table until Commit: like a view's replacement (applyView) it
// waits viewLockWait at a time for sessions that have read the table, viewLockTries
// times, and from then on readers of the table wait for the end of the run. It happens
// once, on the first run of a version that added the columns.
func (l *Loader) addColumns(ctx context.Context, t load.Table, cols []column) error {
	name := l.cfg.Schema + "." + t.Name
	var lockTimeout string
	if err := l.tx.QueryRow(ctx, "SELECT current_setting('lock_timeout')").Scan(&lockTimeout); err != nil {
		return fmt.Errorf("postgres: add columns to %s: %w", name, err)
	}
	var stmts []string
	for _, c := range cols {
		col := pgx.Identifier{c.name}.Sanitize()
		if value, ok := existingRows(t, c.name); ok {
			// The older rows get the contract's value for them through a default,
			// dropped at once: the run writes every value.
			stmts = append(stmts,
				fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s DEFAULT CAST(%s AS %s) NOT NULL", l.ident(t.Name), col, c.typ, literal(value), c.typ),
				fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT", l.ident(t.Name), col))
		} else {
			stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", l.ident(t.Name), col, c.typ))
		}
		stmts = append(stmts, fmt.Sprintf("COMMENT ON COLUMN %s.%s IS %s", l.ident(t.Name), col, literal(c.comment)))
	}
	for try := 1; ; try++ {
		err := l.execWaiting(ctx, lockTimeout, stmts)
		var pe *pgconn.PgError
		switch {
		case err == nil:
			for _, c := range cols {
				l.cfg.Logger.Info("column added", "table", name, "column", c.name, "type", c.typ)
			}
			return nil
		case errors.As(err, &pe) && pe.Code == "55P03" && try < viewLockTries: // lock_not_available
			l.cfg.Logger.Info("waiting for readers of a table to finish, to add columns", "table", name, "try", try)
		case errors.As(err, &pe) && pe.Code == "55P03":
			return fmt.Errorf("postgres: add columns to %s: sessions kept reading it for %s: end their open transactions (see pg_stat_activity) and re-run: %w",
				name, viewLockWait*time.Duration(viewLockTries), err)
		default:
			return fmt.Errorf("postgres: add columns to %s (the role must own the table): %w", name, err)
		}
	}
}

// create creates table t with its comments and indexes, in the run's transaction.
func (l *Loader) create(ctx context.Context, t load.Table, cols []column) error {
	name := l.cfg.Schema + "." + t.Name
	defs := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = pgx.Identifier{c.name}.Sanitize() + " " + c.typ
		if c.notNull {
			defs[i] += " NOT NULL"
		}
	}
	stmts := []string{
		fmt.Sprintf("CREATE TABLE %s (\n  %s\n)", l.ident(t.Name), strings.Join(defs, ",\n  ")),
		fmt.Sprintf("COMMENT ON TABLE %s IS %s", l.ident(t.Name), literal(t.Description)),
	}
	for _, c := range cols {
		stmts = append(stmts, fmt.Sprintf("COMMENT ON COLUMN %s.%s IS %s", l.ident(t.Name), pgx.Identifier{c.name}.Sanitize(), literal(c.comment)))
	}
	for _, s := range stmts {
		if _, err := l.tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("postgres: create %s (the role needs CREATE on schema %s): %w", name, l.cfg.Schema, err)
		}
	}
	for _, c := range indexed(t) {
		if err := l.index(ctx, t, c); err != nil {
			return err
		}
	}
	l.cfg.Logger.Debug("created table", "table", name)
	return nil
}

// index creates a b-tree index on column c of t; PostgreSQL names it (t_c_idx).
func (l *Loader) index(ctx context.Context, t load.Table, c string) error {
	if _, err := l.tx.Exec(ctx, fmt.Sprintf("CREATE INDEX ON %s (%s)", l.ident(t.Name), pgx.Identifier{c}.Sanitize())); err != nil {
		return fmt.Errorf("postgres: index %s.%s (%s): %w", l.cfg.Schema, t.Name, c, err)
	}
	return nil
}

// columnsDiff says how have differs from want, or returns "".
func columnsDiff(have, want []column) string {
	for i := 0; i < len(have) || i < len(want); i++ {
		switch {
		case i >= len(have):
			return fmt.Sprintf("column %s is missing", want[i].name)
		case i >= len(want):
			return fmt.Sprintf("column %s is not in the contract", have[i].name)
		case have[i].name != want[i].name:
			return fmt.Sprintf("column %d is %s, the contract's is %s", i+1, have[i].name, want[i].name)
		case have[i].typ != want[i].typ:
			return fmt.Sprintf("column %s is %s, the contract's is %s", have[i].name, have[i].typ, want[i].typ)
		case have[i].notNull && !want[i].notNull:
			return fmt.Sprintf("column %s is NOT NULL, the contract allows NULL (ALTER TABLE ... ALTER COLUMN %s DROP NOT NULL fixes it)", have[i].name, have[i].name)
		case !have[i].notNull && want[i].notNull:
			return fmt.Sprintf("column %s allows NULL, the contract's is NOT NULL", have[i].name)
		}
	}
	return ""
}

func joinColumns(cs []column) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = c.String()
	}
	return strings.Join(s, ", ")
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// usable says why the loader cannot take another step, if it cannot.
func (l *Loader) usable() error {
	switch {
	case l.closed:
		return errors.New("postgres: the loader is closed")
	case l.committed:
		return errors.New("postgres: this run is committed: open a new Loader for the next one")
	case l.failed != nil:
		return fmt.Errorf("postgres: an earlier step of this run failed, so its transaction is aborted: Close the loader and re-run (%v)", l.failed)
	}
	return nil
}

// record remembers the first error of a step that touched the transaction: after it,
// PostgreSQL refuses every statement of the transaction but ROLLBACK.
func (l *Loader) record(err *error) {
	if *err != nil && l.failed == nil {
		l.failed = *err
	}
}

// Load replaces the rows of table name as its mode says, inside the run's transaction.
func (l *Loader) Load(ctx context.Context, name string, t arrow.Table) error {
	return l.load(ctx, name, t, l.cfg.Range)
}

// LoadRange is Load over the days rng instead of the run's (load.RangeLoader): rr is
// read whole first.
func (l *Loader) LoadRange(ctx context.Context, name string, rng load.Range, rr array.RecordReader) error {
	var recs []arrow.RecordBatch
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for rr.Next() {
		rec := rr.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := rr.Err(); err != nil {
		return err
	}
	t := array.NewTableFromRecords(rr.Schema(), recs)
	defer t.Release()
	return l.load(ctx, name, t, rng)
}

func (l *Loader) load(ctx context.Context, name string, t arrow.Table, rng load.Range) (err error) {
	if err := l.usable(); err != nil {
		return err
	}
	spec, ok := load.Lookup(name)
	if !ok {
		return fmt.Errorf("postgres: %s is not a warehouse table", name)
	}
	if diff := schemaDiff(t.Schema(), spec.Schema); diff != "" {
		return fmt.Errorf("postgres: %s: the table's Arrow schema differs from the contract's: %s: build it on the schema of load.Lookup(%q)", name, diff, name)
	}
	defer l.record(&err)
	start := time.Now()
	var deleted int64
	switch spec.Mode {
	case load.ReplaceAll:
		// DELETE, not TRUNCATE: see the package documentation.
		tag, err := l.tx.Exec(ctx, "DELETE FROM "+l.ident(name))
		if err != nil {
			return fmt.Errorf("postgres: clear %s.%s: %w", l.cfg.Schema, name, err)
		}
		deleted = tag.RowsAffected()
	case load.ReplaceRange:
		tag, err := l.deleteRange(ctx, spec, rng)
		if err != nil {
			return fmt.Errorf("postgres: clear %s.%s for %s..%s: %w", l.cfg.Schema, name,
				rng.From.Format(time.DateOnly), rng.To.Format(time.DateOnly), err)
		}
		deleted = tag.RowsAffected()
	}
	cols := make([]int, t.NumCols())
	for i := range cols {
		cols[i] = i
	}
	n, err := l.copy(ctx, name, t, cols)
	if err != nil {
		return fmt.Errorf("postgres: load %s.%s: %w", l.cfg.Schema, name, err)
	}
	l.cfg.Logger.Debug("loaded", "table", name, "rows", n, "deleted", deleted, "elapsed", time.Since(start))
	return nil
}

// deleteRange deletes the rows of spec whose DateColumn's UTC day is in rng, as a
// range on the column itself so that its index serves it.
func (l *Loader) deleteRange(ctx context.Context, spec load.Table, rng load.Range) (pgconn.CommandTag, error) {
	from, to := utcDay(rng.From), utcDay(rng.To).AddDate(0, 0, 1)
	q := fmt.Sprintf("DELETE FROM %s WHERE %s >= $1 AND %s < $2", l.ident(spec.Name),
		pgx.Identifier{spec.DateColumn}.Sanitize(), pgx.Identifier{spec.DateColumn}.Sanitize())
	f, _ := spec.Schema.FieldsByName(spec.DateColumn)
	if len(f) == 1 && f[0].Type.ID() == arrow.DATE32 {
		return l.tx.Exec(ctx, q, pgtype.Date{Time: from, Valid: true}, pgtype.Date{Time: to, Valid: true})
	}
	return l.tx.Exec(ctx, q, from, to)
}

// utcDay is the start of t's UTC day.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// copy writes columns cols of t into table name (of the run's schema, or pg_temp's
// when name is qualified) with COPY FROM STDIN BINARY.
func (l *Loader) copy(ctx context.Context, name string, t arrow.Table, cols []int) (int64, error) {
	id := pgx.Identifier{l.cfg.Schema, name}
	if strings.HasPrefix(name, "pg_temp.") {
		id = pgx.Identifier{"pg_temp", strings.TrimPrefix(name, "pg_temp.")}
	}
	src, err := newSource(ctx, t, cols)
	if err != nil {
		return 0, err
	}
	defer src.release()
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = t.Schema().Field(c).Name
	}
	n, err := l.tx.CopyFrom(ctx, id, names, src)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Where != "" {
			// "COPY t, line N, column c": in binary COPY line N is row N, from 1.
			return n, fmt.Errorf("%w (at %s; a COPY line is a row of the Arrow table, counted from 1)", err, pe.Where)
		}
		return n, err
	}
	return n, nil
}

// schemaDiff says how got differs from the contract's schema want, or returns "".
func schemaDiff(got, want *arrow.Schema) string {
	if got.Equal(want) {
		return ""
	}
	gf, wf := got.Fields(), want.Fields()
	if len(gf) != len(wf) {
		return fmt.Sprintf("it has %d columns (%s), the contract %d (%s)", len(gf), fieldNames(gf), len(wf), fieldNames(wf))
	}
	for i := range wf {
		g, w := gf[i], wf[i]
		switch {
		case g.Name != w.Name:
			return fmt.Sprintf("column %d is %s, the contract's is %s", i+1, g.Name, w.Name)
		case !arrow.TypeEqual(g.Type, w.Type):
			return fmt.Sprintf("column %s is %s, the contract's is %s", g.Name, g.Type, w.Type)
		case g.Nullable != w.Nullable:
			return fmt.Sprintf("column %s nullable=%t, the contract's nullable=%t", g.Name, g.Nullable, w.Nullable)
		case !g.Metadata.Equal(w.Metadata):
			return fmt.Sprintf("column %s's metadata (its description) differs", g.Name)
		}
	}
	return "the schema's metadata differs"
}

func fieldNames(fs []arrow.Field) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = f.Name
	}
	return strings.Join(s, ", ")
}

// personAlias is the temporary table RemapPersons loads the aliases into.
const personAlias = "_closedloop_person_alias"

// RemapPersons re-points person_id of the date-keyed tables through aliases (see
// load.Loader), inside the run's transaction: the aliases go into a temporary table
// (dropped at the end of the transaction), then one UPDATE per ReplaceRange table
// with a person_id column. It returns the rows changed.
func (l *Loader) RemapPersons(ctx context.Context, aliases arrow.Table) (_ int64, err error) {
	if err := l.usable(); err != nil {
		return 0, err
	}
	if aliases == nil || aliases.NumRows() == 0 {
		return 0, nil
	}
	var cols []int
	for _, name := range []string{"alias_id", "person_id"} {
		idx := aliases.Schema().FieldIndices(name)
		if len(idx) != 1 || aliases.Schema().Field(idx[0]).Type.ID() != arrow.STRING {
			return 0, fmt.Errorf("postgres: person aliases: want one string column %s, the table's schema is %s", name, aliases.Schema())
		}
		cols = append(cols, idx[0])
	}
	defer l.record(&err)
	for _, q := range []string{
		"CREATE TEMP TABLE IF NOT EXISTS " + personAlias + " (alias_id text PRIMARY KEY, person_id text NOT NULL) ON COMMIT DROP",
		"TRUNCATE pg_temp." + personAlias,
	} {
		if _, err := l.tx.Exec(ctx, q); err != nil {
			return 0, fmt.Errorf("postgres: person aliases: %w", err)
		}
	}
	if _, err := l.copy(ctx, "pg_temp."+personAlias, aliases, cols); err != nil {
		return 0, fmt.Errorf("postgres: person aliases (each alias_id must appear once): %w", err)
	}
	// Autovacuum never analyzes temporary tables: without statistics the planner
	// guesses the alias count and may pick a poor join.
	if _, err := l.tx.Exec(ctx, "ANALYZE pg_temp."+personAlias); err != nil {
		return 0, fmt.Errorf("postgres: person aliases: %w", err)
	}
	var total int64
	for _, t := range load.Tables {
		if t.Mode != load.ReplaceRange || t.Schema.FieldIndices("person_id") == nil {
			continue
		}
		tag, err := l.tx.Exec(ctx, fmt.Sprintf(
			"UPDATE %s AS t SET person_id = a.person_id FROM pg_temp.%s AS a WHERE t.person_id = a.alias_id AND a.person_id <> a.alias_id",
			l.ident(t.Name), personAlias))
		if err != nil {
			return total, fmt.Errorf("postgres: re-point %s.%s.person_id: %w", l.cfg.Schema, t.Name, err)
		}
		total += tag.RowsAffected()
	}
	l.cfg.Logger.Debug("persons re-pointed", "aliases", aliases.NumRows(), "rows", total)
	return total, nil
}

// viewLockWait is how long ApplyViews waits at a time for readers of a view it must
// replace, and viewLockTries how many times (variables for the tests).
var (
	viewLockWait  = 5 * time.Second
	viewLockTries = 12
)

// ApplyViews creates or replaces every PostgreSQL view of package views, in the
// run's transaction. A view whose SQL has not changed since it was last created is
// left alone, so that a nightly run takes no lock on it (see the package
// documentation).
func (l *Loader) ApplyViews(ctx context.Context) (err error) {
	if err := l.usable(); err != nil {
		return err
	}
	vs, err := views.List("postgres")
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer l.record(&err)
	var lockTimeout string
	if err := l.tx.QueryRow(ctx, "SELECT current_setting('lock_timeout')").Scan(&lockTimeout); err != nil {
		return fmt.Errorf("postgres: views: %w", err)
	}
	for _, v := range vs {
		if err := l.applyView(ctx, v, lockTimeout); err != nil {
			return err
		}
	}
	return nil
}

// viewMarker is the line of a view's comment that records the SQL it was created from.
func viewMarker(v views.View) string {
	sum := sha256.Sum256([]byte(v.SQL))
	return "closedloop-sql-sha256: " + hex.EncodeToString(sum[:])
}

// viewComment is the view's description: the header comment of its SQL file, then
// the marker.
func viewComment(v views.View) string {
	var lines []string
	for _, line := range strings.Split(v.SQL, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "--") {
			break
		}
		lines = append(lines, strings.TrimSpace(strings.TrimPrefix(line, "--")))
	}
	return strings.TrimSpace(strings.Join(lines, "\n") + "\n\n" + viewMarker(v))
}

func (l *Loader) applyView(ctx context.Context, v views.View, lockTimeout string) error {
	file := "sql/postgres/" + v.Name + ".sql"
	var comment pgtype.Text
	err := l.tx.QueryRow(ctx, `SELECT obj_description(c.oid, 'pg_class') FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'v'`, l.cfg.Schema, v.Name).Scan(&comment)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: view %s (%s): %w", v.Name, file, err)
	}
	if err == nil && strings.Contains(comment.String, viewMarker(v)) {
		l.cfg.Logger.Debug("view unchanged", "view", v.Name)
		return nil
	}
	stmts := []string{
		v.SQL,
		fmt.Sprintf("COMMENT ON VIEW %s IS %s", l.ident(v.Name), literal(viewComment(v))),
	}
	drop := false
	for try := 1; ; try++ {
		run := stmts
		if drop {
			run = append([]string{"DROP VIEW IF EXISTS " + l.ident(v.Name)}, stmts...)
		}
		err := l.execWaiting(ctx, lockTimeout, run)
		var pe *pgconn.PgError
		switch {
		case err == nil:
			l.cfg.Logger.Debug("view replaced", "view", v.Name, "dropped", drop)
			return nil
		case errors.As(err, &pe) && pe.Code == "55P03" && try < viewLockTries: // lock_not_available
			l.cfg.Logger.Info("waiting for readers of a view to finish", "view", v.Name, "try", try)
		case errors.As(err, &pe) && pe.Code == "55P03":
			return fmt.Errorf("postgres: view %s (%s): sessions kept reading it for %s: end their open transactions (see pg_stat_activity) and re-run: %w",
				v.Name, file, viewLockWait*time.Duration(viewLockTries), err)
		case errors.As(err, &pe) && pe.Code == "42P16" && !drop:
			// CREATE OR REPLACE cannot rename, drop or retype a view's columns.
			l.cfg.Logger.Info("view's columns changed: dropping it", "view", v.Name)
			drop = true
		default:
			return fmt.Errorf("postgres: view %s (%s): %w", v.Name, file, err)
		}
	}
}

// execWaiting runs stmts in a savepoint, each waiting viewLockWait at most for a lock
// (lock_not_available, 55P03, when it does not come), then sets the run's lock_timeout
// again.
func (l *Loader) execWaiting(ctx context.Context, lockTimeout string, stmts []string) error {
	return l.savepoint(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('lock_timeout', $1, true)", fmt.Sprintf("%dms", viewLockWait.Milliseconds())); err != nil {
			return err
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, "SELECT set_config('lock_timeout', $1, true)", lockTimeout)
		return err
	})
}

// savepoint runs f in a savepoint: if f fails, the run's transaction is rolled back to
// where it was and stays usable.
func (l *Loader) savepoint(ctx context.Context, f func(pgx.Tx) error) error {
	sp, err := l.tx.Begin(ctx)
	if err != nil {
		return err
	}
	if err := f(sp); err != nil {
		if rerr := sp.Rollback(ctx); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	return sp.Commit(ctx)
}

// Commit commits the run's transaction: every table and view changes at once. It
// closes the connection.
func (l *Loader) Commit(ctx context.Context) error {
	if err := l.usable(); err != nil {
		return err
	}
	if err := l.tx.Commit(ctx); err != nil {
		l.failed = err
		return fmt.Errorf("postgres: commit: %w", err)
	}
	l.committed = true
	if err := l.conn.Close(ctx); err != nil {
		return fmt.Errorf("postgres: close after commit: %w", err)
	}
	return nil
}

// Close releases the loader: without Commit it rolls the run's transaction back, so
// every table and view is as it was. Safe to call twice.
func (l *Loader) Close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	if l.conn == nil || l.conn.IsClosed() {
		// A broken connection: the server rolls its transaction back by itself.
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	if l.tx != nil && !l.committed {
		if err := l.tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) && !l.conn.IsClosed() {
			errs = append(errs, fmt.Errorf("postgres: roll back: %w", err))
		}
	}
	if err := l.conn.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("postgres: close: %w", err))
	}
	return errors.Join(errs...)
}

var _ load.RangeLoader = (*Loader)(nil)

// OpenState connects to the warehouse at dsn for an incremental run's state
// (load.StateReader; its tables in the connection's search_path, "public" by
// default), outside any run's transaction: what the last committed run left.
func OpenState(dsn string) (*load.SQLState, error) {
	db, err := pgdb.OpenDB(dsn, nil)
	if err != nil {
		return nil, err
	}
	return &load.SQLState{DB: db, Dialect: "postgres"}, nil
}
