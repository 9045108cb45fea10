package parquet

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/load"
	"closedloop/load/loadtest"
)

func day(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }

func days(from, to int) load.Range { return load.Range{From: day(from), To: day(to)} }

// tableOf builds a contract table from rows of Go values (nil = NULL), one record batch
// per element of chunks.
func tableOf(t *testing.T, mem memory.Allocator, name string, chunks ...[][]any) arrow.Table {
	spec, ok := load.Lookup(name)
	require.True(t, ok)
	b := array.NewRecordBuilder(mem, spec.Schema)
	defer b.Release()
	var recs []arrow.RecordBatch
	for _, rows := range chunks {
		for _, r := range rows {
			require.Len(t, r, len(spec.Schema.Fields()), name)
			for i, v := range r {
				fb := b.Field(i)
				if v == nil {
					fb.AppendNull()
					continue
				}
				switch x := fb.(type) {
				case *array.StringBuilder:
					x.Append(v.(string))
				case *array.Float64Builder:
					x.Append(v.(float64))
				case *array.Int64Builder:
					x.Append(int64(v.(int)))
				case *array.BooleanBuilder:
					x.Append(v.(bool))
				case *array.Date32Builder:
					x.Append(arrow.Date32FromTime(v.(time.Time)))
				case *array.TimestampBuilder:
					x.Append(arrow.Timestamp(v.(time.Time).UnixMicro()))
				}
			}
		}
		recs = append(recs, b.NewRecordBatch())
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	return array.NewTableFromRecords(spec.Schema, recs)
}

func rows(r ...[]any) [][]any { return r }

func spendRow(d time.Time, campaign string, cost float64) []any {
	return []any{d, "Paid Search", "google", "cpc", campaign, nil, cost, 10, 100, "USD"}
}

func touchRow(id, person string, at time.Time) []any {
	return []any{id, person, "anon_" + id, "s_" + id, at, "Email", "newsletter", "email", nil, nil, nil, "/", nil, "session_start"}
}

func convRow(id, person string, at time.Time) []any {
	return []any{id, person, at, "lead", nil, nil, nil, nil}
}

// open opens a loader on dir for r with the allocator mem.
func open(t *testing.T, dir string, r load.Range, mem memory.Allocator) *Loader {
	t.Helper()
	l, err := Open(context.Background(), Config{Dir: dir, Range: r, Mem: mem})
	require.NoError(t, err)
	return l
}

// loadAll loads tables into l (the contract tables not given: empty).
func loadAll(t *testing.T, l *Loader, mem memory.Allocator, tables map[string]arrow.Table) {
	t.Helper()
	for _, spec := range load.Tables {
		tbl, ok := tables[spec.Name]
		if !ok {
			tbl = tableOf(t, mem, spec.Name)
			defer tbl.Release()
		}
		require.NoError(t, l.Load(context.Background(), spec.Name, tbl), spec.Name)
	}
}

// run is one whole committed run; it returns its id.
func run(t *testing.T, dir string, r load.Range, mem memory.Allocator, tables map[string]arrow.Table) string {
	t.Helper()
	l := open(t, dir, r, mem)
	defer func() { require.NoError(t, l.Close()) }()
	loadAll(t, l, mem, tables)
	_, err := l.RemapPersons(context.Background(), nil)
	require.NoError(t, err)
	require.NoError(t, l.ApplyViews(context.Background()))
	require.NoError(t, l.Commit(context.Background()))
	return l.RunID()
}

func release(tables map[string]arrow.Table) {
	for _, tb := range tables {
		tb.Release()
	}
}

// glob is how DuckDB reads a table of dir.
func glob(dir, table string, hive bool) string {
	return fmt.Sprintf("read_parquet('%s/%s/**/*.parquet', hive_partitioning = %t, union_by_name = true)", dir, table, hive)
}

func duck(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func count(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(q, args...).Scan(&n), q)
	return n
}

func strs(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	r, err := db.Query(q)
	require.NoError(t, err, q)
	defer r.Close()
	var out []string
	for r.Next() {
		var s sql.NullString
		require.NoError(t, r.Scan(&s))
		out = append(out, s.String)
	}
	require.NoError(t, r.Err())
	return out
}

type fileState struct {
	size  int64
	mtime time.Time
}

// snapshot lists every file under dir (hidden ones included) with size and mtime.
func snapshot(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[rel+"/"] = fileState{}
			return nil
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		out[rel] = fileState{st.Size(), st.ModTime()}
		return nil
	}))
	return out
}

// files lists the data files of a table, relative to dir.
func files(t *testing.T, dir, table string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(filepath.Join(dir, table), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	}))
	sort.Strings(out)
	return out
}

// TestSuite runs the loader suite every warehouse runs, reading the files with DuckDB.
func TestSuite(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	loadtest.Run(t, loadtest.Target{
		Open: func(t *testing.T, r load.Range) load.Loader { return open(t, dir, r, mem) },
		DB: func(t *testing.T) *sql.DB {
			db, err := sql.Open("duckdb", "")
			require.NoError(t, err)
			return db
		},
		Table: func(name string) string { return glob(dir, name, false) },
		Columns: func(t *testing.T, db *sql.DB, table string) []string {
			r, err := db.Query("DESCRIBE SELECT * FROM " + glob(dir, table, false))
			require.NoError(t, err)
			defer r.Close()
			cols, err := r.Columns()
			require.NoError(t, err)
			var out []string
			for r.Next() {
				vals := make([]any, len(cols))
				for i := range vals {
					vals[i] = new(sql.NullString)
				}
				require.NoError(t, r.Scan(vals...))
				out = append(out, vals[0].(*sql.NullString).String)
			}
			return out
		},
		NoViews: true,
	})
	// Nothing but the tables, the manifests and the lock is left.
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	var want []string
	for _, spec := range load.Tables {
		want = append(want, spec.Name)
	}
	want = append(want, ".lock", manifestDir)
	assert.ElementsMatch(t, want, names)
}

// readFile reads a whole Parquet file with pqarrow and returns it with the compression
// codecs of its column chunks.
func readFile(t *testing.T, mem memory.Allocator, path string) (arrow.Table, []compress.Compression) {
	t.Helper()
	rdr, err := file.OpenParquetFile(path, false, file.WithReadProps(pq.NewReaderProperties(mem)))
	require.NoError(t, err)
	defer rdr.Close()
	var codecs []compress.Compression
	for rg := 0; rg < rdr.NumRowGroups(); rg++ {
		meta := rdr.MetaData().RowGroup(rg)
		for c := 0; c < meta.NumColumns(); c++ {
			cc, err := meta.ColumnChunk(c)
			require.NoError(t, err)
			codecs = append(codecs, cc.Compression())
		}
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: 1024}, mem)
	require.NoError(t, err)
	tbl, err := fr.ReadTable(context.Background())
	require.NoError(t, err)
	defer tbl.Release()
	return withoutFieldIDs(tbl), codecs
}

// withoutFieldIDs drops the PARQUET:field_id the reader adds to every field's metadata
// (-1: the writer stored none), keeping the rest (the descriptions).
func withoutFieldIDs(tbl arrow.Table) arrow.Table {
	cols := make([]arrow.Column, tbl.NumCols())
	fields := make([]arrow.Field, tbl.NumCols())
	for i := range cols {
		f := tbl.Schema().Field(i)
		var keys, vals []string
		for j, k := range f.Metadata.Keys() {
			if k != "PARQUET:field_id" {
				keys, vals = append(keys, k), append(vals, f.Metadata.Values()[j])
			}
		}
		f.Metadata = arrow.NewMetadata(keys, vals)
		fields[i] = f
		cols[i] = *arrow.NewColumn(f, tbl.Column(i).Data())
	}
	out := array.NewTable(arrow.NewSchema(fields, nil), cols, tbl.NumRows())
	for i := range cols {
		cols[i].Release()
	}
	return out
}

// TestReadBackExact: what pqarrow reads back from the files equals what was loaded,
// type for type (timestamps to the microsecond and UTC, dates, NULLs, field metadata),
// and the files are compressed with zstd. fct_spend comes in two batches whose days
// are interleaved: each day's file holds its rows in load order.
func TestReadBackExact(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	at := time.Date(2026, 1, 1, 23, 59, 59, 999999000, time.UTC)
	person := rows(
		[]any{"p1", at, day(2).Add(123456 * time.Microsecond), 3, 1, 2, "c9", "hubspot", "customer", true, "VP of IT", "Ünïcode AG", "Retail", 1000, "Germany", "LinkedIn", "Enterprise IT buyer", "crm:1"},
		[]any{"p2", nil, nil, 1, 0, 0, nil, nil, nil, false, nil, nil, nil, nil, nil, nil, "Unclassified", nil},
		[]any{"p\u00e9 \"3\"", day(1), day(1), 9, 9, 9, "", "salesforce", "lead", false, nil, nil, nil, nil, nil, nil, "Unclassified", nil},
	)
	chunk1 := rows(spendRow(day(1), "a", 1.5), spendRow(day(2), "b", 2.25), spendRow(day(1), "c", -0.125))
	chunk2 := rows(spendRow(day(2), "d", 1e300), spendRow(day(2), "e", 0), spendRow(day(1), "f", 3))
	chunk2[1][5], chunk2[1][7], chunk2[1][8] = "kw", nil, nil // NULL clicks and impressions, a term
	tables := map[string]arrow.Table{
		load.DimPerson: tableOf(t, mem, load.DimPerson, person),
		load.FctSpend:  tableOf(t, mem, load.FctSpend, chunk1, chunk2),
	}
	defer release(tables)
	run(t, dir, days(1, 2), mem, tables)

	got, codecs := readFile(t, mem, filepath.Join(dir, files(t, dir, load.DimPerson)[0]))
	defer got.Release()
	assert.True(t, array.TableEqual(tables[load.DimPerson], got), "dim_person read back differs:\n%v", got)
	assert.True(t, got.Schema().Equal(load.Tables[0].Schema), "schema with descriptions: %s", got.Schema())
	for _, c := range codecs {
		assert.Equal(t, compress.Codecs.Zstd, c)
	}

	byDay := map[int][][]any{1: {chunk1[0], chunk1[2], chunk2[2]}, 2: {chunk1[1], chunk2[0], chunk2[1]}}
	require.Equal(t, []string{
		"fct_spend/day=2026-01-01/part-" + runOf(t, dir) + ".parquet",
		"fct_spend/day=2026-01-02/part-" + runOf(t, dir) + ".parquet",
	}, files(t, dir, load.FctSpend))
	for d, want := range byDay {
		exp := tableOf(t, mem, load.FctSpend, want)
		got, codecs := readFile(t, mem, filepath.Join(dir, "fct_spend", "day="+day(d).Format(time.DateOnly), "part-"+runOf(t, dir)+".parquet"))
		assert.True(t, array.TableEqual(exp, got), "fct_spend day %d read back differs:\n%v", d, got)
		assert.NotEmpty(t, codecs)
		for _, c := range codecs {
			assert.Equal(t, compress.Codecs.Zstd, c)
		}
		exp.Release()
		got.Release()
	}

	// DuckDB reads the same instants, as TIMESTAMP WITH TIME ZONE.
	db := duck(t)
	var typ, s string
	require.NoError(t, db.QueryRow(`SELECT typeof(first_seen_at), strftime(first_seen_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%f') FROM `+
		glob(dir, load.DimPerson, false)+` WHERE person_id = 'p1'`).Scan(&typ, &s))
	assert.Equal(t, "TIMESTAMP WITH TIME ZONE", typ)
	assert.Equal(t, "2026-01-01T23:59:59.999999", s)
}

// runOf is the id of the only run committed to dir.
func runOf(t *testing.T, dir string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, manifestDir, "*.json"))
	require.NoError(t, err)
	require.Len(t, m, 1)
	return strings.TrimSuffix(filepath.Base(m[0]), ".json")
}

// TestHivePartitions: facts land in day=YYYY-MM-DD folders that DuckDB reads as a day
// column; a re-run over a day without rows leaves no folder for that day; a table
// without rows has one zero-row file, removed once it has rows.
func TestHivePartitions(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	first := map[string]arrow.Table{
		load.FctSpend: tableOf(t, mem, load.FctSpend, rows(spendRow(day(1), "a", 10), spendRow(day(2), "a", 20), spendRow(day(2), "b", 5))),
		load.FctConversion: tableOf(t, mem, load.FctConversion, rows(
			convRow("c1", "p1", day(1).Add(23*time.Hour+59*time.Minute)), convRow("c2", "p1", day(2)))),
	}
	defer release(first)
	id := run(t, dir, days(1, 2), mem, first)

	entries, err := os.ReadDir(filepath.Join(dir, load.FctSpend))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"day=2026-01-01", "day=2026-01-02"}, names)
	assert.Equal(t, []string{"fct_attribution/empty.parquet"}, files(t, dir, load.FctAttribution))
	assert.Equal(t, []string{"dim_person/empty.parquet"}, files(t, dir, load.DimPerson))

	db := duck(t)
	assert.Equal(t, []string{"DATE"}, strs(t, db, `SELECT DISTINCT typeof(day) FROM `+glob(dir, load.FctSpend, true)))
	assert.Equal(t, []string{"2026-01-01 1", "2026-01-02 2"}, strs(t, db,
		`SELECT strftime(day, '%Y-%m-%d') || ' ' || count(*) FROM `+glob(dir, load.FctSpend, true)+` GROUP BY day ORDER BY day`))
	assert.Zero(t, count(t, db, `SELECT count(*) FROM `+glob(dir, load.FctSpend, true)+` WHERE day <> date`))
	assert.Equal(t, []string{"2026-01-01 c1", "2026-01-02 c2"}, strs(t, db,
		`SELECT strftime(day, '%Y-%m-%d') || ' ' || conversion_id FROM `+glob(dir, load.FctConversion, true)+` ORDER BY 1`))
	assert.Zero(t, count(t, db, `SELECT count(*) FROM `+glob(dir, load.FctAttribution, false)))

	// Day 2 again, now without spend; attribution gets its first rows.
	second := map[string]arrow.Table{
		load.FctAttribution: tableOf(t, mem, load.FctAttribution, rows(
			[]any{"c2", "t1", "linear", 1.0, nil, "Email", nil, nil, "lead", day(2), day(1), "p1", "person", "p1"})),
	}
	defer release(second)
	id2 := run(t, dir, days(2, 2), mem, second)
	assert.Equal(t, []string{"fct_spend/day=2026-01-01/part-" + id + ".parquet"}, files(t, dir, load.FctSpend))
	assert.NoDirExists(t, filepath.Join(dir, load.FctSpend, "day=2026-01-02"))
	assert.Equal(t, []string{"fct_attribution/day=2026-01-02/part-" + id2 + ".parquet"}, files(t, dir, load.FctAttribution))
	assert.Equal(t, 1, count(t, db, `SELECT count(*) FROM `+glob(dir, load.FctAttribution, true)))

	// A range that loses its last rows gets its zero-row file back: one, whatever the runs.
	run(t, dir, days(1, 2), mem, nil)
	run(t, dir, days(1, 2), mem, nil)
	assert.Equal(t, []string{"fct_spend/empty.parquet"}, files(t, dir, load.FctSpend))
	assert.Zero(t, count(t, db, `SELECT count(*) FROM `+glob(dir, load.FctSpend, true)))
	assert.Len(t, files(t, dir, load.RunLog), 1, "an Append table without rows keeps one zero-row file")
}

// TestCrashSafety: a run closed without Commit changes nothing; a staging folder left
// by a crash is removed by the next Open, or, when the crash hit Commit's renames, the
// commit is finished; a second run at once is refused.
func TestCrashSafety(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	dir := t.TempDir()
	old := map[string]arrow.Table{
		load.FctSpend:      tableOf(t, mem, load.FctSpend, rows(spendRow(day(1), "a", 10), spendRow(day(2), "a", 20))),
		load.FctTouchpoint: tableOf(t, mem, load.FctTouchpoint, rows(touchRow("t1", "cookie", day(1)))),
		load.DimPerson:     tableOf(t, mem, load.DimPerson, rows([]any{"p1", nil, nil, 1, 1, 0, nil, nil, nil, false, nil, nil, nil, nil, nil, nil, "Unclassified", nil})),
	}
	defer release(old)
	run(t, dir, days(1, 2), mem, old)
	before := snapshot(t, dir)

	next := map[string]arrow.Table{
		load.FctSpend:  tableOf(t, mem, load.FctSpend, rows(spendRow(day(2), "x", 99), spendRow(day(3), "x", 1))),
		load.DimPerson: tableOf(t, mem, load.DimPerson),
	}
	defer release(next)
	aliases := aliasTable(t, mem, "cookie", "p1")
	defer aliases.Release()

	t.Run("closed without commit", func(t *testing.T) {
		l := open(t, dir, days(2, 3), mem)
		for _, name := range []string{load.DimPerson, load.FctSpend} {
			require.NoError(t, l.Load(ctx, name, next[name]))
		}
		n, err := l.RemapPersons(ctx, aliases)
		require.NoError(t, err)
		assert.Equal(t, int64(1), n)
		require.NoError(t, l.Close())
		require.NoError(t, l.Close(), "twice")
		assert.Equal(t, before, snapshot(t, dir))
	})

	t.Run("second run at once", func(t *testing.T) {
		l := open(t, dir, days(2, 3), mem)
		defer l.Close()
		_, err := Open(ctx, Config{Dir: dir, Range: days(2, 3), Mem: mem})
		require.ErrorContains(t, err, "another run is writing "+dir)
	})

	t.Run("crash before commit", func(t *testing.T) {
		// A dead process's staging folder, with a half-written file.
		stale := filepath.Join(dir, ".staging-20260101T000000.000000Z", "fct_spend", "day=2026-01-02")
		require.NoError(t, os.MkdirAll(stale, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(stale, ".part-x.parquet.tmp"), []byte("PAR1 half"), 0o644))
		l := open(t, dir, days(2, 3), mem)
		require.NoError(t, l.Close())
		assert.Equal(t, before, snapshot(t, dir))
	})

	t.Run("crash during commit", func(t *testing.T) {
		l := open(t, dir, days(2, 3), mem)
		loadAll(t, l, mem, next)
		// Commit, up to the plan and the first two renames, then the process dies.
		j, err := l.plan(ctx)
		require.NoError(t, err)
		b, err := json.Marshal(j)
		require.NoError(t, err)
		require.NoError(t, writeFileSync(filepath.Join(l.staging, journalName), b))
		l.journaled = true
		require.NoError(t, applyOps(ctx, dir, l.staging, j.Ops[:2]))
		require.NoError(t, l.Close())
		assert.DirExists(t, l.staging, "kept for the next run")

		// The next Open finishes the commit.
		l2 := open(t, dir, days(5, 5), mem)
		require.NoError(t, l2.Close())
		assert.NoDirExists(t, l.staging)
		m, err := ReadManifest(dir, l.RunID())
		require.NoError(t, err)
		assert.Equal(t, "2026-01-02", m.RangeFrom)
		db := duck(t)
		assert.Equal(t, []string{"2026-01-01 a", "2026-01-02 x", "2026-01-03 x"}, strs(t, db,
			`SELECT strftime(date, '%Y-%m-%d') || ' ' || campaign FROM `+glob(dir, load.FctSpend, false)+` ORDER BY 1`))
		assert.Equal(t, []string{"dim_person/empty.parquet"}, files(t, dir, load.DimPerson))
		assert.Equal(t, 1, count(t, db, `SELECT count(*) FROM `+glob(dir, load.FctTouchpoint, false)), "not loaded: kept")
		_, err = Open(ctx, Config{Dir: dir, Range: days(5, 5), RunID: l.RunID(), Mem: mem})
		require.ErrorContains(t, err, "already committed")
	})
}

func aliasTable(t *testing.T, mem memory.Allocator, pairs ...string) arrow.Table {
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "alias_id", Type: arrow.BinaryTypes.String},
		{Name: "person_id", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	for i := 0; i < len(pairs); i += 2 {
		b.Field(0).(*array.StringBuilder).Append(pairs[i])
		b.Field(1).(*array.StringBuilder).Append(pairs[i+1])
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return array.NewTableFromRecords(sc, []arrow.RecordBatch{rec})
}

// TestRemapPersons: older partitions holding an aliased person id are rewritten at
// Commit; partitions without aliases, and the run's own days, are left as they were.
func TestRemapPersons(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	dir := t.TempDir()
	first := map[string]arrow.Table{
		load.FctTouchpoint: tableOf(t, mem, load.FctTouchpoint, rows(
			touchRow("t1", "cookie_a", day(1)), touchRow("t2", "p_other", day(1)), touchRow("t3", "cookie_a", day(1).Add(time.Hour)),
			touchRow("t4", "p_other", day(2)),
			touchRow("t5", "cookie_b", day(3)))),
		load.FctConversion: tableOf(t, mem, load.FctConversion, rows(convRow("c1", "cookie_a", day(1)))),
	}
	defer release(first)
	run(t, dir, days(1, 3), mem, first)
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			err = os.Chtimes(p, old, old)
		}
		return err
	}))
	info := func(table string, d int) os.FileInfo {
		f := files(t, dir, table)
		i := slices.IndexFunc(f, func(s string) bool { return strings.Contains(s, day(d).Format(time.DateOnly)) })
		require.GreaterOrEqual(t, i, 0)
		st, err := os.Stat(filepath.Join(dir, f[i]))
		require.NoError(t, err)
		return st
	}
	day1, day2 := info(load.FctTouchpoint, 1), info(load.FctTouchpoint, 2)

	// The run covers days 3..4: day 3 is replaced by its own (already stitched) rows.
	second := map[string]arrow.Table{
		load.FctTouchpoint: tableOf(t, mem, load.FctTouchpoint, rows(touchRow("t5", "p_b", day(3)), touchRow("t6", "p_b", day(4)))),
	}
	defer release(second)
	aliases := aliasTable(t, mem, "cookie_a", "p_a", "cookie_b", "p_b", "nobody", "p_x")
	defer aliases.Release()
	l := open(t, dir, days(3, 4), mem)
	defer l.Close()
	loadAll(t, l, mem, second)
	n, err := l.RemapPersons(ctx, aliases)
	require.NoError(t, err)
	assert.Equal(t, int64(3), n, "t1, t3 and c1")
	n, err = l.RemapPersons(ctx, aliases)
	require.NoError(t, err)
	assert.Zero(t, n, "a second call finds nothing left to re-point")
	db := duck(t)
	assert.Equal(t, 2, count(t, db, `SELECT count(*) FROM `+glob(dir, load.FctTouchpoint, false)+` WHERE person_id = 'cookie_a'`), "nothing visible before Commit")
	require.NoError(t, l.Commit(ctx))

	assert.Equal(t, []string{"t1 p_a", "t2 p_other", "t3 p_a", "t4 p_other", "t5 p_b", "t6 p_b"}, strs(t, db,
		`SELECT touchpoint_id || ' ' || person_id FROM `+glob(dir, load.FctTouchpoint, false)+` ORDER BY 1`))
	assert.Equal(t, []string{"c1 p_a"}, strs(t, db, `SELECT conversion_id || ' ' || person_id FROM `+glob(dir, load.FctConversion, false)))
	// Same names; the rewritten file is new, the untouched one is the very same file.
	now1, now2 := info(load.FctTouchpoint, 1), info(load.FctTouchpoint, 2)
	assert.Equal(t, day1.Name(), now1.Name())
	assert.False(t, os.SameFile(day1, now1))
	assert.True(t, os.SameFile(day2, now2), "day 2 has no alias: not rewritten")
	assert.Equal(t, old, now2.ModTime().UTC())
	assert.Equal(t, []string{"fct_touchpoint/day=2026-01-01", "fct_touchpoint/day=2026-01-02", "fct_touchpoint/day=2026-01-03", "fct_touchpoint/day=2026-01-04"},
		dirsOf(files(t, dir, load.FctTouchpoint)))

	m, err := ReadManifest(dir, l.RunID())
	require.NoError(t, err)
	tm := m.Tables[slices.IndexFunc(m.Tables, func(x TableManifest) bool { return x.Name == load.FctTouchpoint })]
	assert.Equal(t, int64(2), tm.RowsRemapped)
	require.Len(t, tm.FilesRewritten, 1)
	assert.Equal(t, filepath.ToSlash(mustRel(t, dir, filepath.Join(dir, load.FctTouchpoint, "day=2026-01-01", day1.Name()))), tm.FilesRewritten[0].Path)
	assert.Equal(t, int64(3), tm.FilesRewritten[0].Rows)
}

func dirsOf(paths []string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, filepath.ToSlash(filepath.Dir(p)))
	}
	return out
}

func mustRel(t *testing.T, base, p string) string {
	rel, err := filepath.Rel(base, p)
	require.NoError(t, err)
	return rel
}

// TestManifest: the manifest lists every table with the files written (rows, bytes as
// on disk) and removed.
func TestManifest(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	spend := map[string]arrow.Table{
		load.FctSpend: tableOf(t, mem, load.FctSpend, rows(spendRow(day(1), "a", 10), spendRow(day(2), "a", 20), spendRow(day(2), "b", 5))),
		load.RunLog:   tableOf(t, mem, load.RunLog, rows([]any{"r1", day(3), day(3), day(1), day(2), "x", "parquet:x", "{}", 0, "success", nil, "dev", nil})),
	}
	defer release(spend)
	id1 := run(t, dir, days(1, 2), mem, spend)
	l := open(t, dir, days(2, 2), mem)
	require.NoError(t, func() error {
		defer l.Close()
		loadAll(t, l, mem, spend)
		return l.Commit(context.Background())
	}())
	id2 := l.RunID()

	m, err := ReadManifest(dir, id2)
	require.NoError(t, err)
	assert.Equal(t, id2, m.RunID)
	assert.Equal(t, "2026-01-02", m.RangeFrom)
	assert.Equal(t, "2026-01-02", m.RangeTo)
	var names []string
	for _, tm := range m.Tables {
		names = append(names, tm.Name)
	}
	require.Len(t, names, len(load.Tables))
	byName := map[string]TableManifest{}
	for _, tm := range m.Tables {
		byName[tm.Name] = tm
		for _, f := range tm.FilesWritten {
			st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f.Path)))
			require.NoError(t, err, f.Path)
			assert.Equal(t, st.Size(), f.Bytes, f.Path)
		}
	}
	// fct_spend: the run's range is day 2; the day-1 row loaded again goes next to day 1's
	// file (rows outside the range are added, as DuckDB's loader does).
	sp := byName[load.FctSpend]
	assert.Equal(t, "replace_range", sp.Mode)
	assert.Equal(t, int64(3), sp.Rows)
	assert.Equal(t, []string{"fct_spend/day=2026-01-01/part-" + id2 + ".parquet", "fct_spend/day=2026-01-02/part-" + id2 + ".parquet"}, paths(sp.FilesWritten))
	assert.Equal(t, []string{"fct_spend/day=2026-01-02/part-" + id1 + ".parquet"}, sp.FilesRemoved)
	var sum int64
	for _, f := range sp.FilesWritten {
		sum += f.Bytes
	}
	assert.Equal(t, sum, sp.Bytes)
	rl := byName[load.RunLog]
	assert.Equal(t, "append", rl.Mode)
	assert.Equal(t, []string{"run_log/part-" + id2 + ".parquet"}, paths(rl.FilesWritten))
	assert.Empty(t, rl.FilesRemoved)
	assert.Equal(t, []string{"run_log/part-" + id1 + ".parquet", "run_log/part-" + id2 + ".parquet"}, files(t, dir, load.RunLog))
	dp := byName[load.DimPerson]
	assert.Empty(t, dp.FilesWritten, "the zero-row file of the first run stays")
	assert.Empty(t, dp.FilesRemoved)
	m1, err := ReadManifest(dir, id1)
	require.NoError(t, err)
	assert.Equal(t, []FileEntry{{Path: "dim_person/empty.parquet", Bytes: m1.Tables[0].Bytes}}, m1.Tables[0].FilesWritten)
}

func paths(fs []FileEntry) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return out
}

// TestRefusals: errors name the table and say what to do; a failed Load keeps the run
// from committing.
func TestRefusals(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	dir := t.TempDir()
	spend := tableOf(t, mem, load.FctSpend, rows(spendRow(day(1), "a", 10)))
	defer spend.Release()
	bad := tableOf(t, mem, load.FctConversion, rows(convRow("c1", "p1", day(1)), []any{"c2", nil, day(1), "lead", nil, nil, nil, nil}))
	defer bad.Release()

	l := open(t, dir, days(1, 1), mem)
	defer l.Close()
	require.ErrorContains(t, l.Load(ctx, "nope", spend), "nope is not a warehouse table")
	require.ErrorContains(t, l.Load(ctx, load.FctConversion, spend), "differs from the contract")
	require.NoError(t, l.Load(ctx, load.FctSpend, spend))
	require.ErrorContains(t, l.Load(ctx, load.FctSpend, spend), "fct_spend is loaded twice")
	require.ErrorContains(t, l.Load(ctx, load.FctConversion, bad), "fct_conversion: column person_id is NULL on row 1")
	require.ErrorContains(t, l.Commit(ctx), "not committing run")
	require.NoError(t, l.Close())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "only the lock")

	// A cancelled Load leaves nothing staged and keeps the run from committing.
	l = open(t, dir, days(1, 1), mem)
	defer l.Close()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, l.Load(cancelled, load.FctSpend, spend), context.Canceled)
	assert.NoDirExists(t, filepath.Join(l.staging, load.FctSpend))
	require.ErrorContains(t, l.Commit(ctx), "not committing run")
	require.NoError(t, l.Close())

	_, err = Open(ctx, Config{Dir: dir, Range: days(1, 1), RunID: "../x"})
	require.ErrorContains(t, err, "cannot name files")
	_, err = Open(ctx, Config{Dir: dir, Range: days(2, 1)})
	require.ErrorContains(t, err, "ends before it starts")
}

// writeOldRunLog writes DIR/run_log/part-r_old.parquet as versions before stage_seconds
// did: the contract's run_log without its last column, one row.
func writeOldRunLog(t *testing.T, dir string, mem memory.Allocator) {
	t.Helper()
	writeOlder(t, dir, mem, load.RunLog, 1, "part-r_old.parquet",
		[]any{"r_old", day(1), day(1), day(1), day(1), "x", "parquet:x", "{}", 0, "success", nil, "v1", nil})
}

// writeOlder writes the file rel of table name as a version that lacked its last
// missing columns wrote it, with rows (given with every column of the contract: the
// missing ones are dropped).
func writeOlder(t *testing.T, dir string, mem memory.Allocator, name string, missing int, rel string, rs ...[]any) {
	t.Helper()
	spec, _ := load.Lookup(name)
	old := arrow.NewSchema(spec.Schema.Fields()[:spec.Schema.NumFields()-missing], nil)
	full := tableOf(t, mem, name, rs)
	defer full.Release()
	cols := make([]arrow.Column, old.NumFields())
	for i := range cols {
		cols[i] = *full.Column(i)
	}
	tbl := array.NewTable(old, cols, full.NumRows())
	defer tbl.Release()
	path := filepath.Join(dir, name, filepath.FromSlash(rel))
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.Create(path)
	require.NoError(t, err)
	// WriteTable closes f.
	require.NoError(t, pqarrow.WriteTable(tbl, f, 1024, pq.NewWriterProperties(pq.WithAllocator(mem)),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(mem))))
}

// TestOlderRunLogGetsNewColumns: a run_log file written before stage_seconds existed is
// rewritten with the column (NULL) by the next committed run, so that every file of
// the table has the same columns and a reader that does not union by name reads the
// old row beside the new one. A run closed without Commit leaves it as it was.
func TestOlderRunLogGetsNewColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	writeOldRunLog(t, dir, mem)
	old := filepath.Join(dir, load.RunLog, "part-r_old.parquet")
	before := snapshot(t, dir)

	l := open(t, dir, days(2, 2), mem)
	require.NoError(t, l.Close())
	assert.Equal(t, before[old], snapshot(t, dir)[old], "a run closed without Commit leaves the file")

	row := map[string]arrow.Table{load.RunLog: tableOf(t, mem, load.RunLog,
		rows([]any{"r_new", day(3), day(3), day(2), day(2), "x", "parquet:x", "{}", 0, "success", nil, "v2", `{"load":1.5}`}))}
	defer release(row)
	id := run(t, dir, days(2, 2), mem, row)

	db := duck(t)
	// No union_by_name: the schema of one file is taken for all.
	got := strs(t, db, fmt.Sprintf(`SELECT run_id || ' ' || coalesce(stage_seconds, 'NULL')
		FROM read_parquet('%s/run_log/*.parquet') ORDER BY run_id`, dir))
	assert.Equal(t, []string{`r_new {"load":1.5}`, "r_old NULL"}, got)
	tbl, _ := readFile(t, mem, old)
	defer tbl.Release()
	spec, _ := load.Lookup(load.RunLog)
	assert.Equal(t, spec.Schema.NumFields(), int(tbl.NumCols()))
	m, err := ReadManifest(dir, id)
	require.NoError(t, err)
	for _, tm := range m.Tables {
		if tm.Name == load.RunLog {
			assert.Equal(t, []string{"run_log/part-r_old.parquet"}, paths(tm.FilesRewritten))
		}
	}

	// The next run finds nothing to rewrite.
	after := snapshot(t, dir)
	run(t, dir, days(3, 3), mem, nil)
	assert.Equal(t, after[old], snapshot(t, dir)[old])
}

// TestOlderFactsGetScopeAndAccount: day partitions of fct_attribution and
// fct_conversion written before journey scopes and accounts are rewritten by the next
// committed run: the old attribution rows get scope 'person' (the contract's value for
// existing rows) and a NULL touch_person_id, the old conversions a NULL account_id, so
// that a reader taking one file's schema for all reads them beside the run's rows.
func TestOlderFactsGetScopeAndAccount(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	at := day(1).Add(10 * time.Hour)
	writeOlder(t, dir, mem, load.FctAttribution, 2, "day=2026-01-01/part-r_old.parquet",
		[]any{"c_old", "t_old", "linear", 1.0, 100.0, "Paid Search", "brand", nil, "customer", at, day(1), "p_old", "x", "x"})
	writeOlder(t, dir, mem, load.FctConversion, 1, "day=2026-01-01/part-r_old.parquet",
		[]any{"c_old", "p_old", at, "customer", 100.0, "USD", "d_old", "x"})

	at2 := day(2).Add(time.Hour)
	tables := map[string]arrow.Table{
		load.FctConversion: tableOf(t, mem, load.FctConversion, rows([]any{"c_new", "p_new", at2, "customer", 50.0, "USD", "d_new", "crm:a1"})),
		load.FctAttribution: tableOf(t, mem, load.FctAttribution, rows(
			[]any{"c_new", "t_new", "linear", 1.0, 50.0, "Paid Social", nil, nil, "customer", at2, day(2), "p_new", "person", "p_new"},
			[]any{"c_new", "t_other", "linear", 1.0, 50.0, "Email", nil, nil, "customer", at2, day(2), "p_new", "deal", "p_buyer"})),
	}
	defer release(tables)
	run(t, dir, days(2, 2), mem, tables)

	db := duck(t)
	// No union_by_name: the schema of one file is taken for all.
	assert.Equal(t, []string{"c_new deal p_buyer", "c_new person p_new", "c_old person NULL"}, strs(t, db, fmt.Sprintf(
		`SELECT conversion_id || ' ' || scope || ' ' || coalesce(touch_person_id, 'NULL') FROM read_parquet('%s/fct_attribution/*/*.parquet') ORDER BY 1`, dir)))
	assert.Equal(t, []string{"c_new crm:a1", "c_old NULL"}, strs(t, db, fmt.Sprintf(
		`SELECT conversion_id || ' ' || coalesce(account_id, 'NULL') FROM read_parquet('%s/fct_conversion/*/*.parquet') ORDER BY 1`, dir)))
	tbl, _ := readFile(t, mem, filepath.Join(dir, load.FctAttribution, "day=2026-01-01", "part-r_old.parquet"))
	defer tbl.Release()
	spec, _ := load.Lookup(load.FctAttribution)
	assert.True(t, spec.Schema.Equal(tbl.Schema()), "the rewritten file has the contract's schema: %s", tbl.Schema())
}
