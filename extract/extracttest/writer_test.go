package extracttest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
)

// recorder is a testing.TB whose Errorf only records.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestWriterFailsOnWhatNoDecoderMayEmit(t *testing.T) {
	now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	schema := arrow.NewSchema([]arrow.Field{{Name: "name", Type: arrow.BinaryTypes.String}, {Name: "cost", Type: arrow.PrimitiveTypes.Float64},
		{Name: "date", Type: arrow.FixedWidthTypes.Date32}}, nil)
	batch := func(name string, cost float64, day time.Time) arrow.RecordBatch {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		defer b.Release()
		b.Field(0).(*array.StringBuilder).Append(name)
		b.Field(1).(*array.Float64Builder).Append(cost)
		b.Field(2).(*array.Date32Builder).Append(arrow.Date32FromTime(day))
		return b.NewRecordBatch()
	}
	for _, c := range []struct {
		name      string
		rec       arrow.RecordBatch
		plausible bool
		fails     bool
	}{
		{"good", batch("ok", 1, now), true, false},
		{"latin-1", batch("caf\xe9", 1, now), false, true},
		{"negative, not checked", batch("ok", -1, now), false, false},
		{"negative", batch("ok", -1, now), true, true},
		{"9999", batch("ok", 1, time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)), true, true},
	} {
		r := &recorder{TB: t}
		w := &Writer{T: r, Plausible: c.plausible, Now: now}
		_ = w.Write(context.Background(), extract.TableSpend, c.rec)
		c.rec.Release()
		if got := len(r.errs) > 0; got != c.fails {
			t.Errorf("%s: failed %v, want %v (%v)", c.name, got, c.fails, r.errs)
		}
	}
	r := &recorder{TB: t}
	_ = (&Writer{T: r}).Reject(context.Background(), extract.Rejection{Input: "x:y", Reason: "bad"})
	if len(r.errs) != 1 {
		t.Errorf("a rejection without location passes: %v", r.errs)
	}
}
