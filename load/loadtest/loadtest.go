// Package loadtest is the test suite every loader runs against its warehouse: create
// every contract table, load a fixture, reload the same range (no duplicates), reload
// an overlapping range (other days kept), check each table's columns, check the views'
// numbers on the fixture, and check that a run closed without Commit leaves every
// table as it was.
//
// A loader's test calls Run with a Target that opens loaders and reads back what was
// committed through database/sql (DuckDB, PostgreSQL, or DuckDB reading Parquet files).
package loadtest

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/load"
)

// Target is a warehouse under test.
type Target struct {
	// Open opens a Loader for a run over r.
	Open func(t *testing.T, r load.Range) load.Loader
	// DB opens a connection to what has been committed; the suite closes it.
	DB func(t *testing.T) *sql.DB
	// Table returns how SQL names a contract table or view in DB ("fct_spend",
	// "closedloop.fct_spend", "read_parquet('dir/fct_spend/**/*.parquet')").
	Table func(name string) string
	// Columns returns the columns of a table as the warehouse reports them, in order.
	Columns func(t *testing.T, db *sql.DB, table string) []string
	// NoViews skips the view checks (a target without views, such as Parquet files).
	NoViews bool
}

// Day0 is the fixture's first day.
var Day0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// Days returns the range of n days from Day0 plus offset days.
func Days(offset, n int) load.Range {
	return load.Range{From: Day0.AddDate(0, 0, offset), To: Day0.AddDate(0, 0, offset+n-1)}
}

// RowsPerDay is how many rows the fixture has per day in each table. ReplaceAll tables
// hold RowsPerDay[name] rows whatever the range; Append tables one batch per run.
var RowsPerDay = map[string]int{
	load.DimPerson: 2, load.BridgeIdentity: 3, load.FctTouchpoint: 2, load.FctPageView: 3, load.FctConversion: 2,
	load.FctAttribution: 4, load.FctMarkovRemovalEffect: 2, load.IdentityConflicts: 1, load.FctSpend: 1,
	load.RunLog: 1, load.RejectedRows: 1,
}

// Fixture builds every contract table for the days of r. The caller releases them.
//
// fct_attribution, per day d: conversion c_d_1 is a customer worth 100: first_touch
// gives it to Paid Search (credit 1), linear splits it between Paid Search and Email
// (0.5 each); conversion c_d_2 is a lead: first_touch gives it to Email. fct_spend:
// 10 on Paid Search per day; Email has no spend.
func Fixture(mem memory.Allocator, r load.Range) map[string]arrow.Table {
	out := map[string]arrow.Table{}
	var days []time.Time
	for d := r.From; !d.After(r.To); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	for _, spec := range load.Tables {
		b := array.NewRecordBuilder(mem, spec.Schema)
		span := days
		if spec.Mode != load.ReplaceRange {
			span = days[:1]
		}
		for _, d := range span {
			for i := 0; i < RowsPerDay[spec.Name]; i++ {
				for c, f := range spec.Schema.Fields() {
					appendValue(b.Field(c), value(spec.Name, f.Name, d, i))
				}
			}
		}
		rec := b.NewRecordBatch()
		out[spec.Name] = array.NewTableFromRecords(spec.Schema, []arrow.RecordBatch{rec})
		rec.Release()
		b.Release()
	}
	return out
}

// attribution rows of one day: model, conversion type, channel, credit, revenue credit.
var attribution = []struct {
	model, typ, channel string
	credit, revenue     float64
	conv                int
}{
	{"first_touch", "customer", "Paid Search", 1, 100, 1},
	{"linear", "customer", "Paid Search", 0.5, 50, 1},
	{"linear", "customer", "Email", 0.5, 50, 1},
	{"first_touch", "lead", "Email", 1, math.NaN(), 2},
}

// value is the fixture's value of table.column on day d, row i (nil is NULL).
func value(table, column string, d time.Time, i int) any {
	at := d.Add(time.Duration(9+i) * time.Hour)
	key := fmt.Sprintf("%s_%d", d.Format("0102"), i)
	switch table {
	case load.FctAttribution:
		a := attribution[i]
		switch column {
		case "conversion_id":
			return fmt.Sprintf("c_%s_%d", d.Format("0102"), a.conv)
		case "touchpoint_id":
			return "t_" + key
		case "model":
			return a.model
		case "credit":
			return a.credit
		case "revenue_credit":
			if math.IsNaN(a.revenue) {
				return nil
			}
			return a.revenue
		case "channel":
			return a.channel
		case "conversion_type":
			return a.typ
		case "campaign", "term":
			return nil
		case "scope":
			return "person"
		}
	case load.FctSpend:
		switch column {
		case "date":
			return arrow.Date32FromTime(d)
		case "channel":
			return "Paid Search"
		case "source":
			return "google"
		case "medium":
			return "cpc"
		case "campaign":
			return "brand"
		case "cost":
			return 10.0
		case "clicks":
			return int64(4)
		case "impressions":
			return int64(100)
		case "currency":
			return "USD"
		}
	}
	return generic(column, key, at, i)
}

// generic fills the other columns by type-appropriate values.
func generic(column, key string, at time.Time, i int) any {
	switch column {
	case "occurred_at", "first_seen_at", "last_seen_at", "touch_occurred_at", "started_at", "finished_at", "range_from", "range_to":
		return at
	case "revenue", "removal_effect", "removal_effect_share", "conversions", "value":
		return float64(i + 1)
	case "identifier_count", "anonymous_id_count", "email_count", "markov_order", "rejected_count", "company_size":
		return int64(i + 1)
	case "is_customer":
		return i == 0
	}
	return column + "_" + key
}

func appendValue(b array.Builder, v any) {
	if v == nil {
		b.AppendNull()
		return
	}
	switch b := b.(type) {
	case *array.StringBuilder:
		b.Append(v.(string))
	case *array.Float64Builder:
		b.Append(v.(float64))
	case *array.Int64Builder:
		b.Append(v.(int64))
	case *array.BooleanBuilder:
		b.Append(v.(bool))
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v.(time.Time).UnixMicro()))
	case *array.Date32Builder:
		switch x := v.(type) {
		case arrow.Date32:
			b.Append(x)
		case time.Time:
			b.Append(arrow.Date32FromTime(x))
		}
	default:
		panic(fmt.Sprintf("loadtest: no fixture value for %T", b))
	}
}

// loadRun runs one whole run: every table of the fixture over r (all at once, from as
// many goroutines, when the loader is a load.ConcurrentLoader), then views, then Commit.
func loadRun(t *testing.T, tg Target, mem memory.Allocator, r load.Range) {
	t.Helper()
	ctx := context.Background()
	tables := Fixture(mem, r)
	defer func() {
		for _, tb := range tables {
			tb.Release()
		}
	}()
	ld := tg.Open(t, r)
	defer ld.Close()
	if _, ok := ld.(load.ConcurrentLoader); ok {
		errs := make([]error, len(load.Tables))
		var wg sync.WaitGroup
		for i, spec := range load.Tables {
			wg.Go(func() { errs[i] = ld.Load(ctx, spec.Name, tables[spec.Name]) })
		}
		wg.Wait()
		for i, spec := range load.Tables {
			require.NoError(t, errs[i], spec.Name)
		}
	} else {
		for _, spec := range load.Tables {
			require.NoError(t, ld.Load(ctx, spec.Name, tables[spec.Name]), spec.Name)
		}
	}
	_, err := ld.RemapPersons(ctx, nil)
	require.NoError(t, err)
	if !tg.NoViews {
		require.NoError(t, ld.ApplyViews(ctx))
	}
	require.NoError(t, ld.Commit(ctx))
}

// counts returns the rows of every contract table.
func counts(t *testing.T, tg Target) map[string]int {
	t.Helper()
	db := tg.DB(t)
	defer db.Close()
	out := map[string]int{}
	for _, spec := range load.Tables {
		var n int
		require.NoError(t, db.QueryRow("SELECT count(*) FROM "+tg.Table(spec.Name)).Scan(&n), spec.Name)
		out[spec.Name] = n
	}
	return out
}

// want returns the expected row counts after runs over the given ranges: facts hold
// every day once, the others the last run's rows, Append tables a batch per run.
func want(runs ...load.Range) map[string]int {
	days := map[time.Time]bool{}
	for _, r := range runs {
		for d := r.From; !d.After(r.To); d = d.AddDate(0, 0, 1) {
			days[d] = true
		}
	}
	out := map[string]int{}
	for _, spec := range load.Tables {
		switch spec.Mode {
		case load.ReplaceRange:
			out[spec.Name] = RowsPerDay[spec.Name] * len(days)
		case load.ReplaceAll:
			out[spec.Name] = RowsPerDay[spec.Name]
		case load.Append:
			out[spec.Name] = RowsPerDay[spec.Name] * len(runs)
		}
	}
	return out
}

// Run runs the whole suite against tg.
func Run(t *testing.T, tg Target) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	first, overlap := Days(0, 2), Days(1, 2)
	t.Run("create and load", func(t *testing.T) {
		loadRun(t, tg, mem, first)
		assert.Equal(t, want(first), counts(t, tg))
	})
	t.Run("columns", func(t *testing.T) {
		db := tg.DB(t)
		defer db.Close()
		for _, spec := range load.Tables {
			var names []string
			for _, f := range spec.Schema.Fields() {
				names = append(names, f.Name)
			}
			assert.Equal(t, names, tg.Columns(t, db, spec.Name), spec.Name)
		}
	})
	t.Run("reload the same range: no duplicates", func(t *testing.T) {
		loadRun(t, tg, mem, first)
		assert.Equal(t, want(first, first), counts(t, tg))
	})
	t.Run("reload an overlapping range: other days kept", func(t *testing.T) {
		loadRun(t, tg, mem, overlap)
		assert.Equal(t, want(first, first, overlap), counts(t, tg))
		db := tg.DB(t)
		defer db.Close()
		var days int
		require.NoError(t, db.QueryRow("SELECT count(DISTINCT CAST(occurred_at AS DATE)) FROM "+tg.Table(load.FctAttribution)).Scan(&days))
		assert.Equal(t, 3, days)
	})
	t.Run("closed without commit: nothing changes", func(t *testing.T) {
		before := counts(t, tg)
		ctx := context.Background()
		r := Days(5, 3)
		tables := Fixture(mem, r)
		defer func() {
			for _, tb := range tables {
				tb.Release()
			}
		}()
		ld := tg.Open(t, r)
		for _, spec := range load.Tables[:3] { // a failure on the third table
			require.NoError(t, ld.Load(ctx, spec.Name, tables[spec.Name]))
		}
		require.NoError(t, ld.Close())
		assert.Equal(t, before, counts(t, tg))
	})
	if tg.NoViews {
		return
	}
	t.Run("v_channel_performance", func(t *testing.T) {
		db := tg.DB(t)
		defer db.Close()
		// Over the whole period by conversion day: sum first, then divide.
		rows, err := db.Query(`SELECT model, conversion_type, channel, SUM(conversions), SUM(revenue), SUM(spend),
			SUM(spend) / NULLIF(SUM(conversions), 0), SUM(revenue) / NULLIF(SUM(spend), 0),
			(SUM(revenue) - SUM(spend)) / NULLIF(SUM(spend), 0)
			FROM ` + tg.Table("v_channel_performance") + ` WHERE date_basis = 'conversion_date'
			GROUP BY model, conversion_type, channel ORDER BY model, conversion_type, channel`)
		require.NoError(t, err)
		defer rows.Close()
		var got []string
		for rows.Next() {
			var m, ty, ch string
			var conv float64
			var rev, sp, cpa, roas, roi sql.NullFloat64
			require.NoError(t, rows.Scan(&m, &ty, &ch, &conv, &rev, &sp, &cpa, &roas, &roi))
			got = append(got, fmt.Sprintf("%s %s %s conv=%g rev=%s spend=%s cpa=%s roas=%s roi=%s", m, ty, ch, conv, f(rev), f(sp), f(cpa), f(roas), f(roi)))
		}
		require.NoError(t, rows.Err())
		// Three days: each day a customer worth 100 (first_touch: Paid Search; linear:
		// half each) and a lead (first_touch: Email); Paid Search spends 10 a day.
		assert.Equal(t, []string{
			"first_touch customer Paid Search conv=3 rev=300 spend=30 cpa=10 roas=10 roi=9",
			"first_touch lead Email conv=3 rev=NULL spend=NULL cpa=NULL roas=NULL roi=NULL",
			"first_touch lead Paid Search conv=0 rev=NULL spend=30 cpa=NULL roas=NULL roi=NULL",
			"linear customer Email conv=1.5 rev=150 spend=NULL cpa=NULL roas=NULL roi=NULL",
			"linear customer Paid Search conv=1.5 rev=150 spend=30 cpa=20 roas=5 roi=4",
		}, got)
	})
}

func f(v sql.NullFloat64) string {
	if !v.Valid {
		return "NULL"
	}
	return fmt.Sprintf("%g", math.Round(v.Float64*1e9)/1e9)
}
