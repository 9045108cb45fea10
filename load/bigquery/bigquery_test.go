package bigquery

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bq "google.golang.org/api/bigquery/v2"

	"closedloop/load"
	"closedloop/load/loadtest"
)

const testDataset = "warehouse"

func testConfig(f *fakeBQ, runID string, r load.Range, mem memory.Allocator) Config {
	return Config{Project: fakeProject, Dataset: testDataset, Location: "EU", Range: r, RunID: runID,
		Labels: map[string]string{"team": "growth"}, ClientOptions: f.options(), Allocator: mem}
}

func open(t *testing.T, f *fakeBQ, runID string, r load.Range, mem memory.Allocator) *Loader {
	t.Helper()
	l, err := Open(context.Background(), testConfig(f, runID, r, mem))
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// aliasTable re-points the fixture's first person of its first day.
func aliasTable(mem memory.Allocator) arrow.Table {
	b := array.NewRecordBuilder(mem, arrow.NewSchema([]arrow.Field{
		{Name: "alias_id", Type: arrow.BinaryTypes.String}, {Name: "person_id", Type: arrow.BinaryTypes.String}}, nil))
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"person_id_0301_0", "nobody"}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"p_merged", "p_other"}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	return array.NewTableFromRecords(rec.Schema(), []arrow.RecordBatch{rec})
}

// stage loads the fixture of data's days into l, with aliases and views.
func stage(t *testing.T, l *Loader, mem memory.Allocator, data load.Range) {
	t.Helper()
	ctx := context.Background()
	tables := loadtest.Fixture(mem, data)
	defer func() {
		for _, tb := range tables {
			tb.Release()
		}
	}()
	for _, spec := range load.Tables {
		require.NoError(t, l.Load(ctx, spec.Name, tables[spec.Name]), spec.Name)
	}
	aliases := aliasTable(mem)
	defer aliases.Release()
	n, err := l.RemapPersons(ctx, aliases)
	require.NoError(t, err)
	assert.Zero(t, n, "rows are re-pointed at Commit")
	require.NoError(t, l.ApplyViews(ctx))
}

// commitRun is a whole run over r (the loader's range) with the fixture of data's days.
func commitRun(t *testing.T, f *fakeBQ, runID string, r, data load.Range, mem memory.Allocator) (*Loader, error) {
	t.Helper()
	l := open(t, f, runID, r, mem)
	stage(t, l, mem, data)
	err := l.Commit(context.Background())
	require.NoError(t, l.Close())
	return l, err
}

func (f *fakeBQ) job(id string) *fakeJob {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.jobs[id]
}

// jobsOf returns the jobs whose id starts with prefix, in insertion order.
func (f *fakeBQ) jobsOf(prefix string) []*fakeJob {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*fakeJob
	for id, j := range f.jobs {
		if strings.HasPrefix(id, prefix) {
			out = append(out, j)
		}
	}
	slices.SortFunc(out, func(a, b *fakeJob) int { return a.seq - b.seq })
	return out
}

// rows returns the rows table holds in the fake, rendered by tableRows.
func (f *fakeBQ) rows(t *testing.T, table string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k, bodies := range f.data {
		if k != testDataset+"."+table && !strings.HasPrefix(k, testDataset+"."+table+"$") {
			continue
		}
		for _, b := range bodies {
			tbl, err := readParquet(b)
			require.NoError(t, err)
			out = append(out, tableRows(tbl)...)
			tbl.Release()
		}
	}
	return out
}

// fixtureRows returns the fixture's rows of spec over data rendered by tableRows, by UTC
// day of the date column ("" for the tables without one).
func fixtureRows(t *testing.T, mem memory.Allocator, spec load.Table, data load.Range) map[string][]string {
	tables := loadtest.Fixture(mem, data)
	defer func() {
		for _, tb := range tables {
			tb.Release()
		}
	}()
	rows := tableRows(tables[spec.Name])
	out := map[string][]string{}
	if spec.Mode != load.ReplaceRange {
		out[""] = rows
		return out
	}
	for i, d := range rowDays(tables[spec.Name], spec.DateColumn) {
		out[d.Format("20060102")] = append(out[d.Format("20060102")], rows[i])
	}
	return out
}

func bodyRows(t *testing.T, body []byte) []string {
	tbl, err := readParquet(body)
	require.NoError(t, err)
	defer tbl.Release()
	return tableRows(tbl)
}

var wantType = map[arrow.Type]string{arrow.STRING: "STRING", arrow.FLOAT64: "FLOAT64", arrow.INT64: "INT64",
	arrow.BOOL: "BOOL", arrow.TIMESTAMP: "TIMESTAMP", arrow.DATE32: "DATE"}

func TestOpenCreatesDatasetAndTables(t *testing.T) {
	f := newFakeBQ(t)
	l := open(t, f, "run1", loadtest.Days(0, 1), nil)
	require.NoError(t, l.Close())

	ds := f.datasets[testDataset]
	require.NotNil(t, ds)
	assert.Equal(t, "EU", ds.Location)
	assert.Equal(t, map[string]string{"app": "closedloop", "team": "growth"}, ds.Labels)
	for _, spec := range load.Tables {
		tb := f.tables[testDataset+"."+spec.Name]
		require.NotNil(t, tb, spec.Name)
		assert.Equal(t, spec.Description, tb.Description, spec.Name)
		assert.Equal(t, map[string]string{"app": "closedloop", "team": "growth"}, tb.Labels, spec.Name)
		require.Len(t, tb.Schema.Fields, len(spec.Schema.Fields()), spec.Name)
		for i, fld := range spec.Schema.Fields() {
			col := tb.Schema.Fields[i]
			mode := "REQUIRED"
			if fld.Nullable {
				mode = "NULLABLE"
			}
			assert.Equal(t, []string{fld.Name, wantType[fld.Type.ID()], mode, load.Description(fld)},
				[]string{col.Name, col.Type, col.Mode, col.Description}, spec.Name)
			assert.NotEmpty(t, col.Description, "%s.%s has no description", spec.Name, fld.Name)
		}
		if spec.Mode == load.ReplaceRange {
			require.NotNil(t, tb.TimePartitioning, spec.Name)
			assert.Equal(t, "DAY", tb.TimePartitioning.Type, spec.Name)
			assert.Equal(t, spec.DateColumn, tb.TimePartitioning.Field, spec.Name)
		} else {
			assert.Nil(t, tb.TimePartitioning, spec.Name)
		}
		if len(spec.ClusterBy) > 0 {
			require.NotNil(t, tb.Clustering, spec.Name)
			assert.Equal(t, spec.ClusterBy, tb.Clustering.Fields, spec.Name)
		} else {
			assert.Nil(t, tb.Clustering, spec.Name)
		}
	}

	// A second run finds everything in place: it only reads.
	before := f.requestCount()
	l = open(t, f, "run2", loadtest.Days(0, 1), nil)
	require.NoError(t, l.Close())
	for _, r := range f.requests[before:] {
		assert.True(t, strings.HasPrefix(r, "GET "), r)
	}
}

func TestOpenRefuses(t *testing.T) {
	ctx := context.Background()
	reOpen := func(t *testing.T, f *fakeBQ, change func(*bq.Table)) error {
		l := open(t, f, "setup", loadtest.Days(0, 1), nil)
		require.NoError(t, l.Close())
		change(f.tables[testDataset+"."+load.FctSpend])
		l, err := Open(ctx, testConfig(f, "run", loadtest.Days(0, 1), nil))
		if err == nil {
			require.NoError(t, l.Close())
		}
		return err
	}
	t.Run("other columns", func(t *testing.T) {
		err := reOpen(t, newFakeBQ(t), func(tb *bq.Table) {
			tb.Schema.Fields[6].Name = "spend"
			tb.Schema.Fields[7].Type = "INTEGER" // legacy spelling of INT64: the same type
		})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "table test-proj.warehouse.fct_spend has columns (date DATE REQUIRED")
		assert.Contains(t, err.Error(), "spend FLOAT64 REQUIRED, clicks INT64 NULLABLE")
		assert.Contains(t, err.Error(), "this version writes (")
	})
	t.Run("mode", func(t *testing.T) {
		err := reOpen(t, newFakeBQ(t), func(tb *bq.Table) { tb.Schema.Fields[0].Mode = "NULLABLE" })
		require.ErrorContains(t, err, "date DATE NULLABLE")
	})
	t.Run("legacy type names are the same types", func(t *testing.T) {
		err := reOpen(t, newFakeBQ(t), func(tb *bq.Table) {
			for _, c := range tb.Schema.Fields {
				if legacy, ok := map[string]string{"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN"}[c.Type]; ok {
					c.Type = legacy // as tables.get answers for tables made by other tools
				}
			}
		})
		require.NoError(t, err)
	})
	t.Run("not partitioned", func(t *testing.T) {
		err := reOpen(t, newFakeBQ(t), func(tb *bq.Table) { tb.TimePartitioning = nil })
		require.ErrorContains(t, err, "table test-proj.warehouse.fct_spend is not partitioned by DAY on date (not partitioned)")
	})
	t.Run("location", func(t *testing.T) {
		f := newFakeBQ(t)
		l := open(t, f, "setup", loadtest.Days(0, 1), nil)
		require.NoError(t, l.Close())
		cfg := testConfig(f, "run", loadtest.Days(0, 1), nil)
		cfg.Location = "asia-northeast1"
		_, err := Open(ctx, cfg)
		require.ErrorContains(t, err, "dataset test-proj.warehouse is in EU, not asia-northeast1")
	})
	t.Run("config", func(t *testing.T) {
		f := newFakeBQ(t)
		for name, change := range map[string]func(*Config){
			"no run id":     func(c *Config) { c.RunID = "" },
			"dataset":       func(c *Config) { c.Dataset = "my-dataset" },
			"project":       func(c *Config) { c.Project = "" },
			"range":         func(c *Config) { c.Range.To = c.Range.From.AddDate(0, 0, -1) },
			"quota":         func(c *Config) { c.Range.To = c.Range.From.AddDate(0, 0, maxRangeDays) },
			"range is zero": func(c *Config) { c.Range = load.Range{} },
		} {
			cfg := testConfig(f, "run", loadtest.Days(0, 1), nil)
			change(&cfg)
			_, err := Open(ctx, cfg)
			assert.Error(t, err, name)
		}
		assert.Empty(t, f.requests, "a bad config sends nothing")
	})
}

func TestCommit(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f := newFakeBQ(t)
	// The run covers three days; the sources had rows for the first two only.
	r, data := loadtest.Days(0, 3), loadtest.Days(0, 2)
	l, err := commitRun(t, f, "nightly-1", r, data, mem)
	require.NoError(t, err)
	assert.EqualValues(t, 4, l.Remapped(), "person_id_0301_0 in fct_touchpoint, fct_page_view, fct_conversion, fct_attribution")

	var loadSeq, viewSeq []int
	for _, spec := range load.Tables {
		want := fixtureRows(t, mem, spec, data)
		switch spec.Mode {
		case load.ReplaceRange:
			for d := r.From; !d.After(r.To); d = d.AddDate(0, 0, 1) {
				day := d.Format("20060102")
				id := "closedloop_nightly-1_" + spec.Name + "_" + day
				j := f.job(id)
				require.NotNil(t, j, id)
				ld := j.job.Configuration.Load
				assert.Equal(t, "PARQUET", ld.SourceFormat, id)
				assert.Equal(t, &bq.TableReference{ProjectId: fakeProject, DatasetId: testDataset, TableId: spec.Name + "$" + day},
					ld.DestinationTable, id)
				assert.Equal(t, "WRITE_TRUNCATE", ld.WriteDisposition, id)
				assert.Equal(t, "CREATE_NEVER", ld.CreateDisposition, id)
				assert.Equal(t, "EU", j.job.JobReference.Location, id)
				assert.Equal(t, map[string]string{"app": "closedloop", "team": "growth", "closedloop_run": "nightly-1"},
					j.job.Configuration.Labels, id)
				got := bodyRows(t, j.body)
				assert.Equal(t, want[day], got, "%s: the rows of %s", id, day)
				if day == "20260303" {
					assert.Empty(t, got, "a day without rows empties its partition")
				} else {
					assert.Len(t, got, loadtest.RowsPerDay[spec.Name], id)
				}
				loadSeq = append(loadSeq, j.seq)
			}
		default:
			id := "closedloop_nightly-1_" + spec.Name
			j := f.job(id)
			if spec.Mode == load.Append && loadtest.RowsPerDay[spec.Name] == 0 {
				assert.Nil(t, j, "an Append table without rows gets no job")
				continue
			}
			require.NotNil(t, j, id)
			ld := j.job.Configuration.Load
			assert.Equal(t, "PARQUET", ld.SourceFormat, id)
			assert.Equal(t, spec.Name, ld.DestinationTable.TableId, id)
			wantDisp := map[load.Mode]string{load.ReplaceAll: "WRITE_TRUNCATE_DATA", load.Append: "WRITE_APPEND"}[spec.Mode]
			assert.Equal(t, wantDisp, ld.WriteDisposition, id)
			assert.Equal(t, want[""], bodyRows(t, j.body), id)
			loadSeq = append(loadSeq, j.seq)
		}
	}

	// Views: after every load, with the dataset substituted.
	view := f.job("closedloop_nightly-1_v_channel_performance")
	require.NotNil(t, view)
	q := view.job.Configuration.Query.Query
	assert.Contains(t, q, "CREATE OR REPLACE VIEW `test-proj.warehouse`.v_channel_performance AS")
	assert.Contains(t, q, "FROM `test-proj.warehouse`.fct_attribution")
	assert.Contains(t, q, "FROM `test-proj.warehouse`.fct_spend")
	assert.NotContains(t, q, "${")
	assert.Equal(t, "VIEW", f.tables[testDataset+".v_channel_performance"].Type)
	viewSeq = append(viewSeq, view.seq)
	assert.Less(t, slices.Max(loadSeq), slices.Min(viewSeq), "views after the loads")

	// Remap: the aliases into an expiring scratch table, one UPDATE per table with
	// person_id, then the scratch table dropped.
	alias := f.jobsOf("closedloop_nightly-1_person_alias-")
	require.Len(t, alias, 1)
	aliasTableName := "_closedloop_person_alias_nightly_1"
	assert.Equal(t, aliasTableName, alias[0].job.Configuration.Load.DestinationTable.TableId)
	assert.Equal(t, "WRITE_TRUNCATE", alias[0].job.Configuration.Load.WriteDisposition)
	assert.Equal(t, []string{"alias_id=person_id_0301_0|person_id=p_merged", "alias_id=nobody|person_id=p_other"}, bodyRows(t, alias[0].body))
	assert.Less(t, slices.Max(viewSeq), alias[0].seq, "remap after the views")
	created := f.created[len(f.created)-1]
	assert.Equal(t, aliasTableName, created.TableReference.TableId)
	assert.InDelta(t, time.Now().Add(aliasTTL).UnixMilli(), created.ExpirationTime, float64(time.Minute.Milliseconds()))
	assert.Equal(t, []string{testDataset + "." + aliasTableName}, f.deleted)
	var updated []string
	for _, j := range f.jobsOf("closedloop_nightly-1_remap_") {
		assert.Less(t, alias[0].seq, j.seq)
		updated = append(updated, strings.TrimPrefix(j.job.JobReference.JobId, "closedloop_nightly-1_remap_"))
		assert.Contains(t, j.query, "FROM `test-proj.warehouse`._closedloop_person_alias_nightly_1 AS a")
	}
	slices.Sort(updated)
	assert.Equal(t, []string{load.FctAttribution, load.FctConversion, load.FctPageView, load.FctTouchpoint}, updated)
	assert.Zero(t, f.conflicts)
}

// TestAppendQuery: the bigquery engine's rows are appended to each day's partition
// after the day's load replaced it, one query job per day, before the views.
func TestAppendQuery(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f := newFakeBQ(t)
	r := loadtest.Days(0, 3)
	l := open(t, f, "engine-1", r, mem)
	stage(t, l, mem, loadtest.Days(0, 2))
	const q = "SELECT touchpoint_id, person_id FROM `test-proj.warehouse`.cl_touchpoints"
	require.NoError(t, l.AppendQuery(load.FctTouchpoint, q, time.Time{}))
	require.NoError(t, l.AppendQuery(load.FctAttribution, q, r.From.AddDate(0, 0, -2)))
	require.ErrorContains(t, l.AppendQuery(load.DimPerson, q, time.Time{}), "no table whose days a run replaces")
	require.NoError(t, l.Commit(context.Background()))
	require.NoError(t, l.Close())

	loads := f.jobsOf("closedloop_engine-1_" + load.FctTouchpoint + "_")
	appends := f.jobsOf("closedloop_engine-1_append_" + load.FctTouchpoint + "_")
	assert.Len(t, f.jobsOf("closedloop_engine-1_append_"), 3+5)
	require.Len(t, appends, 3)
	view := f.job("closedloop_engine-1_v_channel_performance")
	require.NotNil(t, view)
	var days []string
	for _, j := range appends {
		id := j.job.JobReference.JobId
		day, err := time.Parse("20060102", id[len(id)-8:])
		require.NoError(t, err)
		days = append(days, day.Format(time.DateOnly))
		qc := j.job.Configuration.Query
		assert.Equal(t, load.FctTouchpoint+"$"+day.Format("20060102"), qc.DestinationTable.TableId)
		assert.Equal(t, "WRITE_APPEND", qc.WriteDisposition)
		assert.Equal(t, fmt.Sprintf("SELECT *\nFROM (\n%s\n) AS q\nWHERE q.occurred_at >= TIMESTAMP '%s' AND q.occurred_at < TIMESTAMP '%s'",
			q, day.Format(time.DateOnly), day.AddDate(0, 0, 1).Format(time.DateOnly)), qc.Query)
		for _, ld := range loads {
			assert.Less(t, ld.seq, j.seq, "after the loads")
		}
		assert.Less(t, j.seq, view.seq, "before the views")
	}
	slices.Sort(days)
	assert.Equal(t, []string{"2026-03-01", "2026-03-02", "2026-03-03"}, days)

	// fct_attribution from two days before the range: those days truncated, the range's appended.
	disp := map[string]string{}
	for _, j := range f.jobsOf("closedloop_engine-1_append_" + load.FctAttribution + "_") {
		qc := j.job.Configuration.Query
		disp[qc.DestinationTable.TableId] = qc.WriteDisposition
	}
	assert.Equal(t, map[string]string{
		load.FctAttribution + "$20260227": "WRITE_TRUNCATE", load.FctAttribution + "$20260228": "WRITE_TRUNCATE",
		load.FctAttribution + "$20260301": "WRITE_APPEND", load.FctAttribution + "$20260302": "WRITE_APPEND", load.FctAttribution + "$20260303": "WRITE_APPEND",
	}, disp)
}

func TestCommitRetriedWithTheSameRunID(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f := newFakeBQ(t)
	r := loadtest.Days(0, 2)
	_, err := commitRun(t, f, "nightly-1", r, r, mem)
	require.NoError(t, err)
	jobs := len(f.jobsOf("closedloop_"))
	contract := len(f.jobsOf("closedloop_nightly-1_")) - 1 // less the alias load

	// The same run again (say the process died after its jobs ran): every job exists,
	// so nothing is loaded twice, and the counts come from the jobs of the first attempt.
	l, err := commitRun(t, f, "nightly-1", r, r, mem)
	require.NoError(t, err)
	assert.EqualValues(t, 4, l.Remapped())
	assert.Equal(t, contract, f.conflicts, "every load, view and UPDATE job already existed")
	assert.Equal(t, jobs+1, len(f.jobsOf("closedloop_")), "only a new load of the scratch aliases")
	assert.Len(t, f.jobsOf("closedloop_nightly-1_person_alias-"), 2)
}

func TestCommitFailedJob(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f := newFakeBQ(t)
	r := loadtest.Days(0, 2)
	failing := "closedloop_nightly-2_fct_spend_20260302"
	f.failJob[failing] = &bq.ErrorProto{Reason: "invalid", Location: "file-00000000", Message: "Error while reading data, error message: Parquet column 'cost' has type INT64 which does not match the target cpp_type DOUBLE."}
	_, err := commitRun(t, f, "nightly-2", r, r, mem)
	require.Error(t, err)
	t.Log(err)
	assert.Contains(t, err.Error(), "job "+failing)
	assert.Contains(t, err.Error(), "test-proj.warehouse.fct_spend$20260302")
	assert.Contains(t, err.Error(), "Parquet column 'cost'")
	assert.Nil(t, f.job("closedloop_nightly-2_v_channel_performance"), "no views after a failed load")
	assert.Empty(t, f.jobsOf("closedloop_nightly-2_remap_"), "no remap after a failed load")
	assert.Empty(t, f.rows(t, load.FctSpend+"$20260302"), "the failed job left its partition as it was")

	// A retry with the same run id takes the failed job as it is: it does not load again.
	// (Jobs that the first attempt never started, once it had failed, may start now.)
	conflicts := f.conflicts
	_, err = commitRun(t, f, "nightly-2", r, r, mem)
	require.ErrorContains(t, err, "job "+failing+" failed (the job of an earlier attempt of run nightly-2: start a new run id to run it again)")
	assert.Greater(t, f.conflicts, conflicts)
	assert.Len(t, f.jobsOf(failing), 1, "no second job for the failed partition")
	assert.Empty(t, f.rows(t, load.FctSpend+"$20260302"))

	// A failed query job (a view) is reported the same way.
	f2 := newFakeBQ(t)
	f2.failJob["closedloop_nightly-3_v_channel_performance"] = &bq.ErrorProto{Reason: "invalidQuery", Message: "Unrecognized name: revenue_credt at [15:16]"}
	_, err = commitRun(t, f2, "nightly-3", r, r, mem)
	require.ErrorContains(t, err, "view test-proj.warehouse.v_channel_performance: job closedloop_nightly-3_v_channel_performance failed")
	require.ErrorContains(t, err, "Unrecognized name: revenue_credt")
}

func TestCloseWithoutCommitSendsNothing(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f := newFakeBQ(t)
	r := loadtest.Days(0, 3)
	l := open(t, f, "nightly-1", r, mem)
	before := f.requestCount()
	stage(t, l, mem, r)
	entries, err := os.ReadDir(l.dir)
	require.NoError(t, err)
	assert.Len(t, entries, len(load.Tables)+1, "a folder per table and the aliases")
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "Close twice")
	assert.Equal(t, before, f.requestCount(), "Load, RemapPersons, ApplyViews and Close send nothing")
	assert.Empty(t, f.jobs)
	_, err = os.Stat(l.dir)
	assert.ErrorIs(t, err, os.ErrNotExist, "the staging directory is gone")
	assert.ErrorContains(t, l.Commit(context.Background()), "Commit after Close")
}

// TestReplaceSemantics runs loadtest's sequence of runs and checks what each table holds
// in the fake afterwards: no duplicates on a reload, other days kept on an overlap, and
// nothing changed by a run closed without Commit.
func TestReplaceSemantics(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f := newFakeBQ(t)
	want := func(runs ...load.Range) map[string]int {
		days := map[time.Time]bool{}
		for _, r := range runs {
			for d := r.From; !d.After(r.To); d = d.AddDate(0, 0, 1) {
				days[d] = true
			}
		}
		out := map[string]int{}
		for _, spec := range load.Tables {
			out[spec.Name] = map[load.Mode]int{load.ReplaceRange: len(days), load.ReplaceAll: 1, load.Append: len(runs)}[spec.Mode] *
				loadtest.RowsPerDay[spec.Name]
		}
		return out
	}
	counts := func() map[string]int {
		out := map[string]int{}
		for _, spec := range load.Tables {
			out[spec.Name] = len(f.rows(t, spec.Name))
		}
		return out
	}
	first, overlap := loadtest.Days(0, 2), loadtest.Days(1, 2)
	for i, runs := range [][]load.Range{{first}, {first, first}, {first, first, overlap}} {
		_, err := commitRun(t, f, fmt.Sprintf("run-%d", i), runs[len(runs)-1], runs[len(runs)-1], mem)
		require.NoError(t, err)
		assert.Equal(t, want(runs...), counts(), "after runs %v", runs)
	}
	before := counts()
	ctx := context.Background()
	l := open(t, f, "run-failed", loadtest.Days(5, 3), mem)
	tables := loadtest.Fixture(mem, loadtest.Days(5, 3))
	for _, spec := range load.Tables[:3] {
		require.NoError(t, l.Load(ctx, spec.Name, tables[spec.Name]))
	}
	for _, tb := range tables {
		tb.Release()
	}
	require.NoError(t, l.Close())
	assert.Equal(t, before, counts())
}

func TestLoadRefuses(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	f := newFakeBQ(t)
	l := open(t, f, "run", loadtest.Days(0, 1), mem)
	tables := loadtest.Fixture(mem, loadtest.Days(0, 2))
	defer func() {
		for _, tb := range tables {
			tb.Release()
		}
	}()
	err := l.Load(ctx, load.FctTouchpoint, tables[load.FctTouchpoint])
	require.ErrorContains(t, err, "bigquery: stage fct_touchpoint: row 2: occurred_at on 2026-03-02 is outside the run's range 2026-03-01..2026-03-01")
	require.ErrorContains(t, l.Load(ctx, load.FctSpend, tables[load.FctTouchpoint]), "differs from the contract")
	require.ErrorContains(t, l.Load(ctx, "fct_nope", tables[load.FctTouchpoint]), "not a warehouse table")
	assert.Empty(t, l.staged)
}

func TestViewSQL(t *testing.T) {
	got, err := ViewSQL("CREATE OR REPLACE VIEW ${dataset}.v AS SELECT * FROM ${dataset}.t", "my-proj", "ds")
	require.NoError(t, err)
	assert.Equal(t, "CREATE OR REPLACE VIEW `my-proj.ds`.v AS SELECT * FROM `my-proj.ds`.t", got)
	_, err = ViewSQL("CREATE VIEW v AS SELECT 1", "p", "d")
	assert.ErrorContains(t, err, "no ${dataset}.")
	_, err = ViewSQL("CREATE VIEW ${dataset}.v AS SELECT * FROM ${project}.t", "p", "d")
	assert.ErrorContains(t, err, "unknown placeholder")
}

func TestCommitSkipsEmptyAppend(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	f := newFakeBQ(t)
	r := loadtest.Days(0, 1)
	l := open(t, f, "quiet", r, mem)
	tables := loadtest.Fixture(mem, r)
	defer func() {
		for _, tb := range tables {
			tb.Release()
		}
	}()
	for _, spec := range load.Tables {
		tb := tables[spec.Name]
		if spec.Name == load.RejectedRows {
			b := array.NewRecordBuilder(mem, spec.Schema)
			rec := b.NewRecordBatch() // a run that rejected nothing
			tb = array.NewTableFromRecords(spec.Schema, []arrow.RecordBatch{rec})
			rec.Release()
			b.Release()
			defer tb.Release()
		}
		require.NoError(t, l.Load(ctx, spec.Name, tb))
	}
	_, err := l.RemapPersons(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, l.Commit(ctx))
	assert.Nil(t, f.job("closedloop_quiet_rejected_rows"), "nothing to append: no job")
	assert.NotNil(t, f.job("closedloop_quiet_run_log"))
	assert.Empty(t, f.jobsOf("closedloop_quiet_person_alias"), "no aliases: no remap")
	assert.Empty(t, f.jobsOf("closedloop_quiet_v_"), "ApplyViews was not called")
	assert.ErrorContains(t, l.Load(ctx, load.FctSpend, tables[load.FctSpend]), "Load after Commit")
	assert.ErrorContains(t, l.Commit(ctx), "Commit after Commit")
}

// TestOlderRunLogGetsNewColumns: a run_log made before stage_seconds existed, holding a
// row, gets the column by a table patch at Commit, before the run's load job (Open and a
// run closed without Commit change nothing); the old row is kept and reads NULL there,
// the run's row has it.
func TestOlderRunLogGetsNewColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f := newFakeBQ(t)
	r := loadtest.Days(0, 1)
	require.NoError(t, open(t, f, "setup", r, mem).Close())
	key := testDataset + "." + load.RunLog
	spec, _ := load.Lookup(load.RunLog)
	n := spec.Schema.NumFields() - 1
	f.mu.Lock()
	f.tables[key].Schema.Fields = f.tables[key].Schema.Fields[:n]
	f.tables[key].Etag = "etag-old"
	f.mu.Unlock()
	// The old row, as the older version loaded it: a Parquet file of its 12 columns.
	full := load.RunLogTable(mem, load.Run{ID: "r_old", Started: r.From, Finished: r.From, From: r.From, To: r.From,
		Warehouse: "bigquery:x", RowCounts: "{}", Status: "success", Version: "v1"})
	cols := make([]arrow.Column, n)
	for i := range cols {
		cols[i] = *full.Column(i)
	}
	old := array.NewTable(arrow.NewSchema(spec.Schema.Fields()[:n], nil), cols, full.NumRows())
	var body bytes.Buffer
	require.NoError(t, pqarrow.WriteTable(old, &body, 1024, parquet.NewWriterProperties(parquet.WithAllocator(mem)),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(mem))))
	old.Release()
	full.Release()
	f.mu.Lock()
	f.data[key] = [][]byte{body.Bytes()}
	f.mu.Unlock()

	// Open and Close without Commit: no patch.
	before := f.requestCount()
	require.NoError(t, open(t, f, "abandoned", r, mem).Close())
	for _, req := range f.requests[before:] {
		assert.NotContains(t, req, "PATCH", "a run closed without Commit changes nothing")
	}
	assert.Len(t, f.tables[key].Schema.Fields, n)

	l := open(t, f, "nightly", r, mem)
	tables := loadtest.Fixture(mem, r)
	defer func() {
		for _, tb := range tables {
			tb.Release()
		}
	}()
	ctx := context.Background()
	for _, s := range load.Tables {
		tbl := tables[s.Name]
		if s.Name == load.RunLog {
			tbl = load.RunLogTable(mem, load.Run{ID: "r_new", Started: r.To, Finished: r.To, From: r.From, To: r.To,
				Warehouse: "bigquery:x", RowCounts: "{}", Status: "success", Version: "v2", StageSeconds: `{"load":1.5}`})
			defer tbl.Release()
		}
		require.NoError(t, l.Load(ctx, s.Name, tbl), s.Name)
	}
	require.NoError(t, l.ApplyViews(ctx))
	require.NoError(t, l.Commit(ctx))
	require.NoError(t, l.Close())

	f.mu.Lock()
	schema := f.tables[key].Schema.Fields
	reqs := slices.Clone(f.requests)
	f.mu.Unlock()
	require.Len(t, schema, n+1)
	last := schema[n]
	assert.Equal(t, []string{"stage_seconds", "STRING", "NULLABLE"}, []string{last.Name, last.Type, last.Mode})
	assert.Equal(t, load.Description(spec.Schema.Field(n)), last.Description)
	patch := slices.IndexFunc(reqs, func(s string) bool {
		return strings.HasPrefix(s, "PATCH ") && strings.HasSuffix(s, "/tables/"+load.RunLog)
	})
	upload := slices.IndexFunc(reqs[before:], func(s string) bool { return strings.HasPrefix(s, "POST /upload") })
	require.GreaterOrEqual(t, patch, 0, "run_log patched")
	require.GreaterOrEqual(t, upload, 0)
	assert.Less(t, patch, before+upload, "the column is added before the first load job")

	// Each row as BigQuery reads it: a column its file does not have is NULL.
	var got []string
	for _, row := range f.rows(t, load.RunLog) {
		id, stage := "", "NULL"
		for _, kv := range strings.Split(row, "|") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "run_id":
				id = v
			case "stage_seconds":
				stage = v
			}
		}
		got = append(got, id+" "+stage)
	}
	slices.Sort(got)
	assert.Equal(t, []string{`r_new {"load":1.5}`, "r_old NULL"}, got)
}

// TestOlderFactsGetScopeAndAccount: fct_attribution and fct_conversion made before
// journey scopes and accounts, holding rows, get their columns by a table patch at
// Commit, NULLABLE (BigQuery adds no REQUIRED column), then an UPDATE gives the old
// attribution rows scope 'person' (the contract's value for existing rows), before the
// run's load jobs. The next run accepts the tables with scope NULLABLE.
func TestOlderFactsGetScopeAndAccount(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f := newFakeBQ(t)
	r := loadtest.Days(0, 1)
	require.NoError(t, open(t, f, "setup", r, mem).Close())
	older := map[string]int{load.FctAttribution: 2, load.FctConversion: 1} // columns the older version lacked
	fixture := loadtest.Fixture(mem, loadtest.Days(-5, 1))                 // the old rows: a day before the run's
	for name, missing := range older {
		key := testDataset + "." + name
		spec, _ := load.Lookup(name)
		n := spec.Schema.NumFields() - missing
		full := fixture[name]
		cols := make([]arrow.Column, n)
		for i := range cols {
			cols[i] = *full.Column(i)
		}
		old := array.NewTable(arrow.NewSchema(spec.Schema.Fields()[:n], nil), cols, full.NumRows())
		var body bytes.Buffer
		require.NoError(t, pqarrow.WriteTable(old, &body, 1024, parquet.NewWriterProperties(parquet.WithAllocator(mem)),
			pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(mem))))
		old.Release()
		f.mu.Lock()
		f.tables[key].Schema.Fields = f.tables[key].Schema.Fields[:n]
		f.tables[key].Etag = "etag-old"
		f.data[key+"$"+loadtest.Days(-5, 1).From.Format("20060102")] = [][]byte{body.Bytes()}
		f.mu.Unlock()
	}
	for _, tb := range fixture {
		tb.Release()
	}

	commit := func(runID string) []string {
		l := open(t, f, runID, r, mem)
		tables := loadtest.Fixture(mem, r)
		defer func() {
			for _, tb := range tables {
				tb.Release()
			}
		}()
		ctx := context.Background()
		for _, s := range load.Tables {
			require.NoError(t, l.Load(ctx, s.Name, tables[s.Name]), s.Name)
		}
		require.NoError(t, l.ApplyViews(ctx))
		require.NoError(t, l.Commit(ctx))
		require.NoError(t, l.Close())
		f.mu.Lock()
		defer f.mu.Unlock()
		return slices.Clone(f.requests)
	}
	before := f.requestCount()
	reqs := commit("nightly")[before:]

	f.mu.Lock()
	modes := map[string]string{}
	for name := range older {
		for _, c := range f.tables[testDataset+"."+name].Schema.Fields {
			modes[name+"."+c.Name] = c.Type + " " + c.Mode
		}
	}
	fills := slices.Clone(f.fills)
	f.mu.Unlock()
	assert.Equal(t, "STRING NULLABLE", modes["fct_attribution.scope"], "REQUIRED cannot be added: NULLABLE, filled")
	assert.Equal(t, "STRING NULLABLE", modes["fct_attribution.touch_person_id"])
	assert.Equal(t, "STRING NULLABLE", modes["fct_conversion.account_id"])
	assert.Equal(t, []string{testDataset + ".fct_attribution.scope = person"}, fills)
	patch := slices.IndexFunc(reqs, func(s string) bool {
		return strings.HasPrefix(s, "PATCH ") && strings.HasSuffix(s, "/tables/"+load.FctAttribution)
	})
	fill := slices.IndexFunc(reqs, func(s string) bool {
		return strings.Contains(s, "POST ") && strings.Contains(s, "/jobs") && !strings.Contains(s, "upload")
	})
	upload := slices.IndexFunc(reqs, func(s string) bool { return strings.HasPrefix(s, "POST /upload") })
	require.GreaterOrEqual(t, patch, 0, "fct_attribution patched")
	require.GreaterOrEqual(t, fill, 0)
	assert.Less(t, patch, fill, "the column is added, then filled")
	assert.Less(t, fill, upload, "before the first load job")
	// The old rows are kept beside the run's.
	assert.Len(t, f.rows(t, load.FctAttribution), 2*loadtest.RowsPerDay[load.FctAttribution])

	// The next run takes the NULLABLE scope as the contract's column; its fill finds
	// nothing to change.
	commit("nightly2")
}
