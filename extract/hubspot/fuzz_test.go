package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract/extracttest"
)

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
	e := New(Config{Spec: "hubspot:" + dir, Dir: dir, Mem: mem, CookieProperty: "ga_client_id", Currency: "EUR", Now: runStart})
	_ = e.Extract(context.Background(), &extracttest.Writer{T: t, Plausible: true, Now: runStart}) // a file-level error is fine; a panic or a bad value is not
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
		w := &extracttest.Writer{T: t, Plausible: true, Now: runStart}
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
