package spend

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
)

// checkWriter fails the test on a value no decoder may emit: text that is not
// storable, an implausible cost or day, a rejection without location or reason.
type checkWriter struct{ t *testing.T }

func (w checkWriter) Write(_ context.Context, table string, rec arrow.RecordBatch) error {
	for i, col := range rec.Columns() {
		name := table + "." + rec.Schema().Field(i).Name
		for j := 0; j < col.Len(); j++ {
			if col.IsNull(j) {
				continue
			}
			var bad string
			switch a := col.(type) {
			case *array.String:
				bad = extract.BadText(name, a.Value(j))
			case *array.Float64:
				bad = extract.BadRevenue(name, a.Value(j))
			case *array.Date32:
				bad = extract.BadTime(name, a.Value(j).ToTime(), runStart)
			}
			if bad != "" {
				w.t.Fatalf("row %d: %s", j, bad)
			}
		}
	}
	return nil
}

func (w checkWriter) Reject(_ context.Context, r extract.Rejection) error {
	if r.Location == "" || r.Reason == "" {
		w.t.Fatalf("rejection without location or reason: %+v", r)
	}
	if bad := extract.BadText("location", r.Location) + extract.BadText("reason", r.Reason); bad != "" {
		w.t.Fatalf("%s: %+v", bad, r)
	}
	return nil
}

// FuzzLayouts reads one spend file in any layout, with a reporting currency, exchange
// rates and a campaign map.
func FuzzLayouts(f *testing.F) {
	paths, err := filepath.Glob("testdata/*.csv")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && p != "testdata/rates.csv" && p != "testdata/campaigns.csv" && p != "testdata/campaigns_bad.csv" {
			f.Add(b)
		}
	}
	f.Add([]byte("date,source,medium,campaign,cost,currency\n2026-01-05,goo\x00gle,cpc,caf\xe9,1,EUR\n9999-12-31,g,c,b,1,USD\n1970-01-01,g,c,b,2000000000000,EUR\n"))
	path := filepath.Join(f.TempDir(), "spend.csv") // calls in one process run one at a time
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		e := New(Config{Path: path, Mem: mem, Currency: "EUR", Rates: "testdata/rates.csv", CampaignMap: "testdata/campaigns.csv", Now: runStart})
		_ = e.Extract(context.Background(), checkWriter{t: t}) // a file-level error is fine; a panic or a bad value is not
	})
}
