package spend

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract/extracttest"
)

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
		e := New(Config{Spec: "spend:" + path, Path: path, Mem: mem, Currency: "EUR", Rates: "testdata/rates.csv", CampaignMap: "testdata/campaigns.csv", Now: runStart})
		_ = e.Extract(context.Background(), &extracttest.Writer{T: t, Plausible: true, Now: runStart}) // a file-level error is fine; a panic or a bad value is not
	})
}
