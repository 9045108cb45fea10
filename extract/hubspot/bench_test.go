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

// sizeOptions are the options of HubSpot's numemployees property.
var sizeOptions = []string{"1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+"}

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
		{"jobtitle", "Marketing Manager"},
		{"company", fmt.Sprintf("Company %d", i%50000)},
		{"industry", "Computer Software"},
		{"numemployees", sizeOptions[i%len(sizeOptions)]},
		{"country", "Germany"},
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
				if w.rows != benchContacts || w.rejected != 0 || e.BadCompanySizes() != 0 {
					b.Fatalf("%d rows, %d rejected, %d unreadable sizes", w.rows, w.rejected, e.BadCompanySizes())
				}
			}
			b.ReportMetric(float64(benchContacts)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// benchDeals is how many deals BenchmarkDealStages reads, each with benchHistory
// stage changes.
const (
	benchDeals   = 50_000
	benchHistory = 6
)

// benchStages are the stages deal i goes through (ids of testdata/same's default
// pipeline), oldest first, with the time it entered each.
func benchStages(i int) (ids []string, at []time.Time) {
	path := []string{"appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "qualifiedtobuy", "contractsent", "closedwon"}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 7 * time.Minute)
	for j := range benchHistory {
		ids = append(ids, path[j])
		at = append(at, start.Add(time.Duration(j)*26*time.Hour))
	}
	return ids, at
}

// writeV3Deals writes a v3 export folder of n deals with their stage history.
func writeV3Deals(b *testing.B, dir string, n int) string {
	writeV3Folder(b, dir, 0)
	f, err := os.Create(filepath.Join(dir, DealsFile))
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := range n {
		ids, at := benchStages(i)
		iso := func(t time.Time) string { return t.Format("2006-01-02T15:04:05.000Z") }
		fmt.Fprintf(w, `{"id":"%d","properties":{"dealname":"Deal %d","amount":"1200.50","createdate":"%s","closedate":"%s","pipeline":"default","dealstage":"closedwon"},"propertiesWithHistory":{"dealstage":[`,
			500000+i, i, iso(at[0]), iso(at[len(at)-1]))
		for j := len(ids) - 1; j >= 0; j-- {
			fmt.Fprintf(w, `{"value":"%s","timestamp":"%s","sourceType":"CRM_UI","sourceId":"userId:41629779","updatedByUserId":41629779}`, ids[j], iso(at[j]))
			if j > 0 {
				w.WriteByte(',')
			}
		}
		w.WriteString("]},\"archived\":false}\n")
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return DealsFile
}

// writeFivetranDeals writes the same deals as Fivetran's deal and deal_stage tables.
func writeFivetranDeals(b *testing.B, dir string, n int) string {
	writeFivetranFolder(b, dir, 0)
	deals, err := os.Create(filepath.Join(dir, "deal.csv"))
	if err != nil {
		b.Fatal(err)
	}
	stages, err := os.Create(filepath.Join(dir, "deal_stage.csv"))
	if err != nil {
		b.Fatal(err)
	}
	dw, sw := bufio.NewWriterSize(deals, 1<<20), bufio.NewWriterSize(stages, 1<<20)
	dw.WriteString("deal_id,is_deleted,deal_pipeline_id,deal_pipeline_stage_id,property_dealname,property_amount,property_createdate,property_closedate\r\n")
	sw.WriteString("_fivetran_start,deal_id,_fivetran_active,_fivetran_end,_fivetran_synced,date_entered,source,source_id,value\r\n")
	const warehouse = "2006-01-02 15:04:05.000"
	for i := range n {
		ids, at := benchStages(i)
		fmt.Fprintf(dw, "%d,false,default,closedwon,Deal %d,1200.50,%s,%s\r\n", 500000+i, i, at[0].Format(warehouse), at[len(at)-1].Format(warehouse))
		for j := range ids {
			end, active := "9999-12-31 23:59:59.999", "TRUE"
			if j < len(ids)-1 {
				end, active = at[j+1].Format(warehouse), "FALSE"
			}
			s := at[j].Format(warehouse)
			fmt.Fprintf(sw, "%s,%d,%s,%s,2026-02-21 02:00:05.000,%s,CRM_UI,userId:41629779,%s\r\n", s, 500000+i, active, end, s, ids[j])
		}
	}
	for _, w := range []*bufio.Writer{dw, sw} {
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	for _, f := range []*os.File{deals, stages} {
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	return "deal_stage.csv"
}

// BenchmarkDealStages reads 50,000 deals with 6 stage changes each from export files
// and reports deals/s; the bytes are those of the file holding the history.
func BenchmarkDealStages(b *testing.B) {
	for _, layout := range []struct {
		name  string
		write func(*testing.B, string, int) string
	}{{"v3-ndjson", writeV3Deals}, {"fivetran-csv", writeFivetranDeals}} {
		b.Run(layout.name, func(b *testing.B) {
			dir := b.TempDir()
			fi, err := os.Stat(filepath.Join(dir, layout.write(b, dir, benchDeals)))
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
				e := New(Config{Dir: dir, Mem: mem, Currency: "USD"})
				if err := e.Extract(context.Background(), w); err != nil {
					b.Fatal(err)
				}
				// A deal row and a stage row per entry (Qualified To Buy twice: a re-entry).
				if want := int64(benchDeals * (1 + benchHistory)); w.rows != want || w.rejected != 0 {
					b.Fatalf("%d rows (want %d), %d rejected", w.rows, want, w.rejected)
				}
			}
			b.ReportMetric(float64(benchDeals)*float64(b.N)/b.Elapsed().Seconds(), "deals/s")
		})
	}
}
