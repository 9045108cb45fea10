package salesforce

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
	"closedloop/extract/extracttest"
)

// fuzzFiles fuzzes the files names of folder src: each call replaces them in a copy of
// the folder made once per fuzz process (its calls run one at a time) and extracts it.
func fuzzFiles(f *testing.F, src string, names []string, extra ...[]string) {
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
	var seed [][]byte
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			f.Fatal(err)
		}
		seed = append(seed, b)
	}
	f.Add(seed[0], seed[1])
	for _, e := range extra {
		f.Add([]byte(e[0]), []byte(e[1]))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		for i, content := range [][]byte{a, b} {
			if err := os.WriteFile(filepath.Join(dir, names[i]), content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		e := New(Config{Spec: "salesforce:" + dir, Dir: dir, Mem: mem, CookieField: "none", Currency: "USD", Now: runStart})
		_ = e.Extract(context.Background(), &extracttest.Writer{T: t, Plausible: true, Now: runStart}) // a file-level error is fine; a panic or a bad value is not
	})
}

func FuzzExportFiles(f *testing.F) {
	fuzzFiles(f, exportDir, []string{"Lead.csv", "Opportunity.csv"}, []string{
		"Id,Email,CreatedDate,Company\n00Q5g00000Lat01,caf\xe9@x.io,1970-01-01,\x00\n00Q5g00000Lat02,\"a\"\"b\",9999-12-31T00:00:00Z,x\n",
		"Id,Name,StageName,Amount,CloseDate,IsClosed,IsWon,CreatedDate\n0065g00000Lat01,caf\xe9,Won,-1,1970-01-01,true,true,2026-01-01\n0065g00000Lat02,x,Won,1e308,9999-12-31,true,true,2026-01-01\n",
	})
}

func FuzzFivetranFiles(f *testing.F) {
	fuzzFiles(f, fivetranDir, []string{"sf_contact_data.csv", "sf_opportunity_data.csv"})
}

// FuzzPeople reads one CSV line as a Lead and as a Contact record (values in the
// objects' field order), as files and the API both give records, without files.
func FuzzPeople(f *testing.F) {
	for _, name := range []string{"Lead.csv", "Contact.csv"} {
		b, err := os.ReadFile(filepath.Join(exportDir, name))
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f.Add(line)
		}
	}
	f.Add(`00Q5g00000Lat01,false,,caf` + "\xe9" + `@x.io,1970-01-01,,,,Open,false,,,,T` + "\x00" + `,Acme,,10,DE`)
	f.Fuzz(func(t *testing.T, line string) {
		r := csv.NewReader(strings.NewReader(line))
		r.FieldsPerRecord = -1
		vals, err := r.Read()
		if err != nil {
			return
		}
		ctx := context.Background()
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		w := &extracttest.Writer{T: t, Plausible: true, Now: runStart}
		x := newRun(New(Config{Spec: "salesforce:fuzz", Dir: "fuzz", Mem: mem, CookieField: "GA_Client_ID__c", Now: runStart}), w, nil)
		b := extract.NewBuilder(mem, extract.TableContacts, w)
		defer b.Release()
		for _, obj := range []*object{x.o.lead, x.o.contact} {
			rec := &record{vals: make([]string, len(obj.fields)), file: "fuzz.csv", line: 2, raw: func() string { return line }}
			copy(rec.vals, vals)
			var err error
			if obj == x.o.lead {
				err = x.lead(ctx, b, rec)
			} else {
				err = x.contact(ctx, b, rec)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range x.pending {
			if err := x.writePerson(ctx, b, p); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
