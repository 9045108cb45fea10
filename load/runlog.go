package load

import (
	"time"

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
}

// RunLogTable is run's row of run_log.
func RunLogTable(mem memory.Allocator, run Run) arrow.Table {
	spec, _ := Lookup(RunLog)
	b := array.NewRecordBuilder(mem, spec.Schema)
	defer b.Release()
	strCol(b, "run_id").Append(run.ID)
	tsCol(b, "started_at").Append(arrow.Timestamp(run.Started.UnixMicro()))
	tsCol(b, "finished_at").Append(arrow.Timestamp(run.Finished.UnixMicro()))
	dayCol(b, "range_from").Append(arrow.Date32FromTime(run.From))
	dayCol(b, "range_to").Append(arrow.Date32FromTime(run.To))
	inputs := ""
	for i, in := range run.Inputs {
		if i > 0 {
			inputs += ","
		}
		inputs += in
	}
	strCol(b, "inputs").Append(inputs)
	strCol(b, "warehouse").Append(run.Warehouse)
	strCol(b, "row_counts").Append(run.RowCounts)
	fieldOf[*array.Int64Builder](b, "rejected_count").Append(int64(run.Rejected))
	strCol(b, "status").Append(run.Status)
	if run.Message == "" {
		strCol(b, "message").AppendNull()
	} else {
		strCol(b, "message").Append(run.Message)
	}
	strCol(b, "version").Append(run.Version)
	return tableOf(b)
}

// RejectedRowsTable is the rows of rejected_rows for the rejections of run runID.
func RejectedRowsTable(mem memory.Allocator, runID string, rs []extract.Rejection) arrow.Table {
	spec, _ := Lookup(RejectedRows)
	b := array.NewRecordBuilder(mem, spec.Schema)
	defer b.Release()
	id, src, loc, reason, raw := strCol(b, "run_id"), strCol(b, "source"), strCol(b, "location"), strCol(b, "reason"), strCol(b, "raw")
	for _, r := range rs {
		id.Append(runID)
		src.Append(r.Input)
		loc.Append(r.Location)
		reason.Append(r.Reason)
		raw.Append(r.Raw)
	}
	return tableOf(b)
}

// fieldOf is the builder of the column called name, of type T.
func fieldOf[T array.Builder](b *array.RecordBuilder, name string) T {
	i := b.Schema().FieldIndices(name)
	if len(i) != 1 {
		panic("load: no column " + name + " in " + b.Schema().String())
	}
	return b.Field(i[0]).(T)
}

func strCol(b *array.RecordBuilder, name string) *array.StringBuilder {
	return fieldOf[*array.StringBuilder](b, name)
}

func tsCol(b *array.RecordBuilder, name string) *array.TimestampBuilder {
	return fieldOf[*array.TimestampBuilder](b, name)
}

func dayCol(b *array.RecordBuilder, name string) *array.Date32Builder {
	return fieldOf[*array.Date32Builder](b, name)
}

// tableOf turns what b holds into a one-batch table.
func tableOf(b *array.RecordBuilder) arrow.Table {
	rec := b.NewRecordBatch()
	defer rec.Release()
	return array.NewTableFromRecords(b.Schema(), []arrow.RecordBatch{rec})
}
