package hubspot

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
)

// benchContacts is how many contacts the benchmarks read.
const benchContacts = 1_000_000

// countingWriter counts rows and drops them.
type countingWriter struct{ rows, rejected int64 }

func (w *countingWriter) Write(_ context.Context, _ string, rec arrow.RecordBatch) error {
	w.rows += rec.NumRows()
	return nil
}

func (w *countingWriter) Reject(context.Context, extract.Rejection) error {
	w.rejected++
	return nil
}

// benchContact returns the properties of generated contact i, as (name, value) pairs.
func benchContact(i int) (id string, props [][2]string) {
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 31 * time.Second)
	iso := func(t time.Time) string { return t.Format("2006-01-02T15:04:05.000Z") }
	stages := []string{"subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer"}
	props = [][2]string{
		{"email", fmt.Sprintf("person%d@example.com", i)},
		{"createdate", iso(created)},
		{"lastmodifieddate", iso(created.Add(48 * time.Hour))},
		{"lifecyclestage", stages[i%len(stages)]},
		{"hs_lifecyclestage_lead_date", iso(created.Add(time.Hour))},
		{"hs_lifecyclestage_marketingqualifiedlead_date", fmt.Sprint(created.Add(26 * time.Hour).UnixMilli())},
		{"hs_analytics_source", "ORGANIC_SEARCH"},
		{"hs_analytics_source_data_1", "closed loop attribution"},
		{"hs_analytics_source_data_2", "google"},
		{"ga_client_id", fmt.Sprintf("%d.%d", 1000000000+i, created.Unix())},
	}
	return fmt.Sprint(100000 + i), props
}

// writeV3Folder writes a v3 export folder of n contacts into dir.
func writeV3Folder(b *testing.B, dir string, n int) {
	pipelines, err := os.ReadFile(filepath.Join(same, PipelinesFile))
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, ContactsFile))
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := range n {
		id, props := benchContact(i)
		fmt.Fprintf(w, `{"id":"%s","properties":{`, id)
		for j, p := range props {
			if j > 0 {
				w.WriteByte(',')
			}
			fmt.Fprintf(w, "%q:%q", p[0], p[1])
		}
		fmt.Fprintf(w, `},"createdAt":"%s","updatedAt":"%s","archived":false}`+"\n", props[1][1], props[2][1])
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	for name, body := range map[string][]byte{DealsFile: nil, DealContactsFile: nil, PipelinesFile: pipelines} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// writeFivetranFolder writes the same n contacts as Fivetran tables into dir.
func writeFivetranFolder(b *testing.B, dir string, n int) {
	f, err := os.Create(filepath.Join(dir, "contact.csv"))
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	_, props := benchContact(0)
	w.WriteString("_fivetran_deleted,_fivetran_synced,id")
	for _, p := range props {
		w.WriteString(",property_" + p[0])
	}
	w.WriteString("\r\n")
	for i := range n {
		id, props := benchContact(i)
		w.WriteString("FALSE,2026-02-21 02:00:05," + id)
		for _, p := range props {
			w.WriteString("," + p[1])
		}
		w.WriteString("\r\n")
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	stages, err := os.ReadFile(filepath.Join("testdata", "fivetran", "deal_pipeline_stage.csv"))
	if err != nil {
		b.Fatal(err)
	}
	for name, body := range map[string]string{
		"deal.csv": "deal_id,is_deleted,deal_pipeline_id,deal_pipeline_stage_id\r\n", "deal_contact.csv": "contact_id,deal_id\r\n",
		"deal_pipeline_stage.csv": string(stages),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkContacts reads 1M contacts from export files and reports records/s.
func BenchmarkContacts(b *testing.B) {
	for _, layout := range []struct {
		name  string
		write func(*testing.B, string, int)
	}{{"v3-ndjson", writeV3Folder}, {"fivetran-csv", writeFivetranFolder}} {
		b.Run(layout.name, func(b *testing.B) {
			dir := b.TempDir()
			layout.write(b, dir, benchContacts)
			fi, err := os.Stat(filepath.Join(dir, map[string]string{"v3-ndjson": ContactsFile, "fivetran-csv": "contact.csv"}[layout.name]))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(fi.Size())
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(b, 0)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				w := &countingWriter{}
				e := New(Config{Dir: dir, Mem: mem, CookieProperty: "ga_client_id", Currency: "USD"})
				if err := e.Extract(context.Background(), w); err != nil {
					b.Fatal(err)
				}
				if w.rows != benchContacts || w.rejected != 0 {
					b.Fatalf("%d rows, %d rejected", w.rows, w.rejected)
				}
			}
			b.ReportMetric(float64(benchContacts)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
