package load

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
)

// Run is what run_log records of one run. Inputs and Warehouse are shown to readers
// of the table (and the LookML over it): give them redacted.
type Run struct {
	ID                string
	Started, Finished time.Time
	From, To          time.Time // the range's first and last day
	Inputs            []string  // source specs
	Warehouse         string
	RowCounts         string // JSON: rows read per input, loaded per table, events, identity
	Rejected          int
	Status, Message   string // Status "success" or "failed"; Message empty for none
	Version           string
	StageSeconds      string // JSON object: stage name -> wall seconds; "" stores NULL
}

// RunLogTable is run's row of run_log.
func RunLogTable(mem memory.Allocator, run Run) arrow.Table {
	spec, _ := Lookup(RunLog)
	b := array.NewRecordBuilder(mem, spec.Schema)
	defer b.Release()
	str := func(name string) *array.StringBuilder { return builder[*array.StringBuilder](b, RunLog, name) }
	ts := func(name string, t time.Time) {
		builder[*array.TimestampBuilder](b, RunLog, name).Append(arrow.Timestamp(t.UnixMicro()))
	}
	day := func(name string, t time.Time) {
		builder[*array.Date32Builder](b, RunLog, name).Append(arrow.Date32FromTime(t))
	}
	str("run_id").Append(run.ID)
	ts("started_at", run.Started)
	ts("finished_at", run.Finished)
	day("range_from", run.From)
	day("range_to", run.To)
	str("inputs").Append(strings.Join(run.Inputs, ","))
	str("warehouse").Append(run.Warehouse)
	str("row_counts").Append(run.RowCounts)
	builder[*array.Int64Builder](b, RunLog, "rejected_count").Append(int64(run.Rejected))
	str("status").Append(run.Status)
	if run.Message == "" {
		str("message").AppendNull()
	} else {
		str("message").Append(run.Message)
	}
	str("version").Append(run.Version)
	if run.StageSeconds == "" {
		str("stage_seconds").AppendNull()
	} else {
		str("stage_seconds").Append(run.StageSeconds)
	}
	return oneBatch(b)
}

// RejectedRowsTable is the rows of rejected_rows for the rejections of run runID.
func RejectedRowsTable(mem memory.Allocator, runID string, rs []extract.Rejection) arrow.Table {
	spec, _ := Lookup(RejectedRows)
	b := array.NewRecordBuilder(mem, spec.Schema)
	defer b.Release()
	str := func(name string) *array.StringBuilder { return builder[*array.StringBuilder](b, RejectedRows, name) }
	id, src, loc, reason, raw := str("run_id"), str("source"), str("location"), str("reason"), str("raw")
	for _, r := range rs {
		id.Append(runID)
		src.Append(storable(r.Input))
		loc.Append(storable(r.Location))
		reason.Append(storable(r.Reason))
		raw.Append(storable(r.Raw))
	}
	return oneBatch(b)
}

// storable is s as every warehouse stores text: a rejected row is often rejected for
// its bytes (not UTF-8, NUL), which rejected_rows keeps as U+FFFD and "\x00".
func storable(s string) string {
	if utf8.ValidString(s) && !strings.Contains(s, "\x00") {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", `\x00`)
}

// builder is the builder of column name of the warehouse table table, of type T.
func builder[T array.Builder](b *array.RecordBuilder, table, name string) T {
	return b.Field(Col(table, name)).(T)
}

// oneBatch turns what b holds into a one-batch table.
func oneBatch(b *array.RecordBuilder) arrow.Table {
	rec := b.NewRecordBatch()
	defer rec.Release()
	return array.NewTableFromRecords(b.Schema(), []arrow.RecordBatch{rec})
}
