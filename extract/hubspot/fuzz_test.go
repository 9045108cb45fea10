package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
)

// checkWriter fails the test on a value no decoder may emit: text that is not
// storable, an implausible amount or time (extract.Bad*), a rejection without
// location or reason.
type checkWriter struct {
	t   *testing.T
	now time.Time
}

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
			case *array.Timestamp:
				if name == extract.TableContacts+".created_at" || name == extract.TableDeals+".closed_at" || name == extract.TableDealStages+".entered_at" {
					bad = extract.BadTime(name, a.Value(j).ToTime(arrow.Microsecond), w.now)
				}
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

// fuzzFolder copies src into a folder of the fuzz process: each call then replaces
// the fuzzed files (calls in one process run one at a time).
func fuzzFolder(f *testing.F, src string) string {
	dir := f.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		f.Fatal(err)
	}
	for _, en := range entries {
		b, err := os.ReadFile(filepath.Join(src, en.Name()))
		if err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, en.Name()), b, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	return dir
}

// fuzzExtract writes files into dir and extracts it, checking what comes out.
func fuzzExtract(t *testing.T, dir string, files map[string][]byte) {
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	e := New(Config{Dir: dir, Mem: mem, CookieProperty: "ga_client_id", Currency: "EUR", Now: runStart})
	_ = e.Extract(context.Background(), checkWriter{t: t, now: runStart}) // a file-level error is fine; a panic or a bad value is not
}

// seeds returns the content of file name in each folder.
func seeds(f *testing.F, name string, dirs ...string) [][]byte {
	var out [][]byte
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, name))
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func FuzzExportFolder(f *testing.F) {
	dir := fuzzFolder(f, fixture) // the required files only: each call reads them all
	contacts, deals := seeds(f, ContactsFile, fixture, same), seeds(f, DealsFile, fixture, same)
	for i := range contacts {
		f.Add(contacts[i], deals[i])
	}
	f.Add([]byte(`{"id":"1","properties":{"email":"caf`+"\xe9"+`@x.io","company":"\u0000","createdate":"0"}}`),
		[]byte(`{"id":"9","properties":{"dealname":"caf`+"\xe9 \\\"x\\\""+`","amount":"1e308","pipeline":"default","dealstage":"closedwon","closedate":"253402214400000"},"propertiesWithHistory":{"dealstage":[{"value":"closedwon","timestamp":"0"}]}}`))
	f.Fuzz(func(t *testing.T, contacts, deals []byte) {
		fuzzExtract(t, dir, map[string][]byte{ContactsFile: contacts, DealsFile: deals})
	})
}

func FuzzFivetranFolder(f *testing.F) {
	const ft = "testdata/fivetran"
	dir := fuzzFolder(f, ft)
	contact, deal := seeds(f, "contact.csv", ft), seeds(f, "deal.csv", ft)
	f.Add(contact[0], deal[0])
	f.Add([]byte("id,property_email,property_createdate,property_company\n1,caf\xe9@x.io,1970-01-01,\x00\n2,\"a\"\"b\",9999-12-31,x\n"),
		[]byte("deal_id,deal_pipeline_id,deal_pipeline_stage_id,property_dealname,property_amount,property_closedate\n9,default,closedwon,caf\xe9,-1,0\n"))
	f.Fuzz(func(t *testing.T, contact, deal []byte) {
		fuzzExtract(t, dir, map[string][]byte{"contact.csv": contact, "deal.csv": deal})
	})
}

// FuzzObjects decodes one line as a contact, a deal (with its stage history), a call
// and an e-mail click, as the export folder and the API both do, without files.
func FuzzObjects(f *testing.F) {
	b, err := os.ReadFile(filepath.Join(same, PipelinesFile))
	if err != nil {
		f.Fatal(err)
	}
	var doc pipelinesDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		f.Fatal(err)
	}
	stages, err := doc.index("hubspot:fuzz", PipelinesFile)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range decodeCorpus {
		f.Add([]byte(s))
	}
	for _, name := range []string{ContactsFile, DealsFile, "calls.ndjson", EmailEventsFile} {
		for _, s := range seeds(f, name, same) {
			for _, line := range bytes.Split(s, []byte("\n")) {
				f.Add(line)
			}
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		ctx := context.Background()
		w := checkWriter{t: t, now: runStart}
		e := New(Config{Spec: "hubspot:fuzz", Dir: "fuzz", CookieProperty: "ga_client_id", Currency: "EUR", Now: runStart})
		x := &run{e: e, w: w, cookieProperty: "ga_client_id", owners: newOwners(), stages: stages,
			archived: archivedIDs{contacts: map[string]bool{}, deals: map[string]bool{}}}
		r := x.rows()
		defer r.release()
		p := place{file: "fuzz.ndjson", line: 1}
		o := reusable()
		if decodeObject(line, &o) == "" {
			if _, err := x.contactObject(ctx, r, p, &o, line); err != nil {
				t.Fatal(err)
			}
			d, status, err := x.dealObject(ctx, r, p, &o, line)
			if err != nil {
				t.Fatal(err)
			}
			if status == dealWritten {
				if err := x.objectStages(ctx, r, p, &d, o.History["dealstage"], line); err != nil {
					t.Fatal(err)
				}
			}
			if err := x.activityObject(ctx, r, p, activityKinds[0], &o, line, []string{"101"}); err != nil {
				t.Fatal(err)
			}
		}
		var ev emailEvent
		if json.Unmarshal(line, &ev) == nil {
			if err := x.clickEvent(ctx, r, p, &ev, line, "campaign"); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.flush(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
