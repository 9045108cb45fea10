package salesforce

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
)

// countWriter counts rows and keeps nothing.
type countWriter struct{ rows, rejected atomic.Int64 }

func (w *countWriter) Write(_ context.Context, _ string, rec arrow.RecordBatch) error {
	w.rows.Add(rec.NumRows())
	return nil
}

func (w *countWriter) Reject(context.Context, extract.Rejection) error {
	w.rejected.Add(1)
	return nil
}

// writeContacts writes a Data Export folder of n contacts (every tenth converted
// from a lead, every hundredth deleted) into dir.
func writeContacts(b *testing.B, dir string, n int) {
	accountIDs := writeAccounts(b, dir, max(n/100, 1))
	f, err := os.Create(filepath.Join(dir, "Contact.csv"))
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "Id,IsDeleted,MasterRecordId,Email,FirstName,LastName,CreatedDate,LastModifiedDate,SystemModstamp,LeadSource,GA_Client_ID__c,AccountId,Title,MailingCountry")
	leads, err := os.Create(filepath.Join(dir, "Lead.csv"))
	if err != nil {
		b.Fatal(err)
	}
	lw := bufio.NewWriterSize(leads, 1<<20)
	fmt.Fprintln(lw, "Id,IsDeleted,Email,CreatedDate,Status,IsConverted,ConvertedDate,ConvertedContactId,GA_Client_ID__c,Title,Company,Industry,NumberOfEmployees,Country")
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("0035g%010d", i)
		id += suffix(id)
		at := t0.Add(time.Duration(i) * time.Minute).Format("2006-01-02T15:04:05.000Z")
		deleted := "false"
		if i%100 == 99 {
			deleted = "true"
		}
		fmt.Fprintf(w, "%s,%s,,person%d@example.com,First%d,\"Last, %d\",%s,%s,%s,Web,%d.%d,%s,Marketing Manager,Germany\n",
			id, deleted, i, i, i, at, at, at, 1000000000+i, 1700000000+i, accountIDs[i%len(accountIDs)])
		if i%10 == 0 {
			lead := fmt.Sprintf("00Q5g%010d", i)
			fmt.Fprintf(lw, "%s,false,person%d@example.com,%s,Closed - Converted,true,%s,%s,%d.%d,Analyst,Company %d,Retail,%d,France\n",
				lead+suffix(lead), i, at, at[:10], id, 1000000000+i, 1600000000+i, i, 10+i%500)
		}
	}
	for _, c := range []interface{ Flush() error }{w, lw} {
		if err := c.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if err := leads.Close(); err != nil {
		b.Fatal(err)
	}
}

// writeAccounts writes an Account export of n accounts into dir and returns their ids.
func writeAccounts(b *testing.B, dir string, n int) []string {
	f, err := os.Create(filepath.Join(dir, "Account.csv"))
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "Id,IsDeleted,Name,Industry,NumberOfEmployees,BillingCountry")
	ids := make([]string, n)
	for i := range ids {
		id := fmt.Sprintf("0015g%010d", i)
		ids[i] = id + suffix(id)
		fmt.Fprintf(w, "%s,false,Company %d,Computer Software,%d,Germany\n", ids[i], i, 5+i%5000)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return ids
}

// BenchmarkContacts1M reads 1M contacts (and 100k converted leads folded into them)
// from a Data Export folder.
func BenchmarkContacts1M(b *testing.B) {
	const n = 1_000_000
	dir := b.TempDir()
	writeContacts(b, dir, n)
	fi, err := os.Stat(filepath.Join(dir, "Contact.csv"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		w := &countWriter{}
		e := New(Config{Dir: dir, Mem: memory.NewGoAllocator()})
		if err := e.Extract(context.Background(), w); err != nil {
			b.Fatal(err)
		}
		if got := w.rows.Load() + int64(e.Skipped()); got != n || e.BadCompanySizes() != 0 {
			b.Fatalf("%d rows + %d skipped, want %d contacts; %d unreadable sizes", w.rows.Load(), e.Skipped(), n, e.BadCompanySizes())
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "contacts/s")
}
