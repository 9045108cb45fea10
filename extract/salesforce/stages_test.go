package salesforce

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

// fivetranStages is a folder in Fivetran's layout: the opportunity table and a
// history-mode opportunity table (one version per change, dated by _fivetran_start).
func fivetranStages(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range []string{"Lead.csv", "Contact.csv"} {
		copyFile(t, exportDir+"/"+n, filepath.Join(dir, n))
	}
	opps := "id,is_deleted,name,stage_name,amount,close_date,is_closed,is_won,created_date,system_modstamp,_fivetran_deleted\n" +
		"0065g00000Fiv01,false,Won,Closed Won,300,2026-03-05 00:00:00,true,true,2026-03-01 10:00:00,2026-03-05 10:00:00,false\n" +
		"0065g00000Fiv02,false,No stage,,50,2026-04-30 00:00:00,false,false,2026-03-02 08:00:00,2026-03-04 08:00:00,false\n" +
		"0065g00000Fiv03,false,Gone,Qualification,10,2026-04-30 00:00:00,false,false,2026-03-01 09:00:00,2026-03-04 09:00:00,true\n" +
		"0065g00000Fiv04,false,Quiet,Qualification,70,2026-06-30 00:00:00,false,false,2026-02-01 09:00:00,2026-02-01 09:00:00,false\n"
	history := "_fivetran_active,_fivetran_start,_fivetran_end,id,stage_name,amount,created_date,is_deleted\n" +
		"false,2026-03-01 10:00:00,2026-03-02 09:59:59,0065g00000Fiv01,Qualification,100,2026-03-01 10:00:00,false\n" +
		"false,2026-03-02 10:00:00,2026-03-03 09:59:59,0065g00000Fiv01,Qualification,200,2026-03-01 10:00:00,false\n" +
		"false,2026-03-03 10:00:00,2026-03-04 09:59:59,0065g00000Fiv01,Proposal,200,2026-03-01 10:00:00,false\n" +
		"false,2026-03-04 10:00:00,2026-03-05 09:59:59,0065g00000Fiv01,qualification,250,2026-03-01 10:00:00,false\n" +
		"true,2026-03-05 10:00:00,9999-12-31 23:59:59,0065g00000Fiv01,Closed Won,300,2026-03-01 10:00:00,false\n" +
		"true,2026-03-01 09:00:00,9999-12-31 23:59:59,0065g00000Fiv03,Qualification,10,2026-03-01 09:00:00,false\n" +
		"true,2026-02-01 09:00:00,9999-12-31 23:59:59,0065g00000Fiv04,Qualification,70,2026-02-01 09:00:00,false\n" +
		"true,2026-03-01 11:00:00,9999-12-31 23:59:59,0065g00000Fiv09,Qualification,90,2026-03-01 11:00:00,false\n" +
		"true,,9999-12-31 23:59:59,0065g00000Fiv01,Proposal,200,2026-03-01 10:00:00,false\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "opportunity.csv"), []byte(opps), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "opportunity_history.csv"), []byte(history), 0o644))
	return dir
}

// TestStagesFivetranHistoryMode: stage entries out of a Fivetran history-mode
// opportunity table, whose versions also record edits that keep the stage.
func TestStagesFivetranHistoryMode(t *testing.T) {
	mem := checkedMem(t)
	dir := fivetranStages(t)
	c, e, err := extractWith(t, Config{Spec: "salesforce:ft", Dir: dir, Mem: mem, Currency: "USD"})
	require.NoError(t, err)

	won, quiet := sid("0065g00000Fiv01"), sid("0065g00000Fiv04")
	row := func(line int, deal, stage, at string) map[string]any {
		return map[string]any{"input": "salesforce:ft", "location": fmt.Sprintf("opportunity_history.csv:%d", line), "crm": "salesforce",
			"deal_id": deal, "pipeline": nil, "stage": stage, "entered_at": ts(at)}
	}
	require.Equal(t, []map[string]any{
		row(2, won, "Qualification", "2026-03-01T10:00:00Z"),
		row(4, won, "Proposal", "2026-03-03T10:00:00Z"),
		row(5, won, "qualification", "2026-03-04T10:00:00Z"), // back to an earlier stage: a second entry
		row(6, won, "Closed Won", "2026-03-05T10:00:00Z"),
		row(8, quiet, "Qualification", "2026-02-01T09:00:00Z"),
	}, rowsOf(t, c, extract.TableDealStages), "Fiv02 has neither history nor stage; Fiv03 is deleted")

	deals := byKey(t, rowsOf(t, c, extract.TableDeals), "deal_id")
	require.Equal(t, ts("2026-03-05T10:00:00Z"), deals[won]["closed_at"], "the version entering Closed Won dates the close")

	got := map[string]string{}
	for _, r := range c.Rejections() {
		got[r.Location] = r.Reason
	}
	require.Equal(t, map[string]string{
		"opportunity_history.csv:9 (salesforce OpportunityHistory 0065g00000Fiv09)": "opportunity " + sid("0065g00000Fiv09") +
			" is neither a live nor a deleted opportunity of the Opportunity export: export Opportunity and OpportunityHistory at the same time",
		"opportunity_history.csv:10 (salesforce OpportunityHistory 0065g00000Fiv01)": "field _fivetran_start: empty: a stage history row without its time cannot be placed in the opportunity's path; fix the export",
		"opportunity.csv:3 (salesforce Opportunity " + sid("0065g00000Fiv02") + ")":  "no stage history and no StageName or CreatedDate: the opportunity's stage entry cannot be dated; fix the record or export OpportunityHistory",
		"Lead.csv:7 (salesforce Lead " + leadFay + ")":                               `field CreatedDate: time "yesterday": want RFC 3339 (2018-07-03T13:02:11Z), a date, or epoch seconds/ms/µs; fix the record in Salesforce or the export`,
	}, got)
	for _, r := range c.Rejections() {
		if strings.Contains(r.Location, "Fiv09") {
			require.Equal(t, "Id=0065g00000Fiv09;OpportunityId="+sid("0065g00000Fiv09")+";StageName=Qualification;CreatedDate=2026-03-01T11:00:00Z", r.Raw,
				"the fields read: history rows are not kept whole")
		}
	}
	require.Equal(t, int64(2), e.skipped[skipDeleted].Load(), "Dee's deleted lead and Fiv03")
}

// TestStagesSince: with Since, the history of opportunities not read is left out
// and logged, not rejected.
func TestStagesSince(t *testing.T) {
	mem := checkedMem(t)
	dir := fivetranStages(t)
	var logs bytes.Buffer
	c, _, err := extractWith(t, Config{Dir: dir, Mem: mem, Currency: "USD", Since: ts("2026-03-01T00:00:00Z"),
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	var deals []string
	for _, r := range rowsOf(t, c, extract.TableDealStages) {
		deals = append(deals, r["deal_id"].(string))
	}
	won := sid("0065g00000Fiv01")
	require.Equal(t, []string{won, won, won, won}, deals, "Fiv04 is unchanged since then")
	for _, r := range c.Rejections() {
		require.NotContains(t, r.Location, "Fiv09", "unknown to an incremental run, not bad")
	}
	require.Len(t, c.Rejections(), 2, "no time, no stage (Fay's lead is older than Since)")
	require.Contains(t, logs.String(), "stage history of opportunities unchanged since Since not written")
	require.Contains(t, logs.String(), "opportunities=2 rows=2")
}

// TestStagesWithoutOpportunity: history without the Opportunity export cannot be
// tied to deals: every row is rejected, saying so.
func TestStagesWithoutOpportunity(t *testing.T) {
	mem := checkedMem(t)
	dir := t.TempDir()
	for _, n := range []string{"Lead.csv", "Contact.csv", "OpportunityHistory.csv"} {
		copyFile(t, exportDir+"/"+n, filepath.Join(dir, n))
	}
	c, _, err := extractWith(t, Config{Dir: dir, Mem: mem})
	require.NoError(t, err)
	require.Empty(t, rowsOf(t, c, extract.TableDealStages))
	n := 0
	for _, r := range c.Rejections() {
		if r.Reason == "no Opportunity was read (the source has none): a stage history row cannot be tied to a deal; export Opportunity with OpportunityHistory" {
			n++
			require.True(t, strings.HasPrefix(r.Location, "OpportunityHistory.csv:"), r.Location)
		}
	}
	require.Equal(t, 11, n, "the 12 history rows but the one without time, rejected as it is read")
}

// tableCounter counts the rows written per table and keeps nothing.
type tableCounter struct {
	mu   sync.Mutex
	rows map[string]int64
}

func (w *tableCounter) Write(_ context.Context, table string, rec arrow.RecordBatch) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rows[table] += rec.NumRows()
	return nil
}

func (w *tableCounter) Reject(context.Context, extract.Rejection) error { return nil }

// BenchmarkStages reads 100k opportunities and 1M history rows (10 per opportunity,
// 4 of them edits in the same stage) from a Data Export folder.
func BenchmarkStages(b *testing.B) {
	const opps, perOpp, entries = 100_000, 10, 6
	dir := b.TempDir()
	for _, n := range []string{"Lead.csv", "Contact.csv"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("Id,CreatedDate\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	of, err := os.Create(filepath.Join(dir, "Opportunity.csv"))
	if err != nil {
		b.Fatal(err)
	}
	hf, err := os.Create(filepath.Join(dir, "OpportunityHistory.csv"))
	if err != nil {
		b.Fatal(err)
	}
	ow, hw := bufio.NewWriterSize(of, 1<<20), bufio.NewWriterSize(hf, 1<<20)
	fmt.Fprintln(ow, "Id,IsDeleted,Name,StageName,Amount,CloseDate,IsClosed,IsWon,CreatedDate,SystemModstamp")
	fmt.Fprintln(hw, "Id,OpportunityId,StageName,Amount,CloseDate,CreatedDate,IsDeleted")
	stages := []string{"Prospecting", "Prospecting", "Qualification", "Qualification", "Proposal", "Proposal", "Negotiation", "Negotiation", "Proposal", "Closed Won"}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	h := 0
	for i := range opps {
		id := fmt.Sprintf("0065g%010d", i)
		id += suffix(id)
		at := t0.Add(time.Duration(i) * time.Minute)
		fmt.Fprintf(ow, "%s,false,Deal %d,Closed Won,1000,%s,true,true,%s,%s\n", id, i,
			at.Add(perOpp*24*time.Hour).Format("2006-01-02"), at.Format(time.RFC3339), at.Format(time.RFC3339))
		for j := range perOpp {
			hid := fmt.Sprintf("0085g%010d", h)
			h++
			fmt.Fprintf(hw, "%s,%s,%s,%d,2026-01-01,%s,false\n", hid+suffix(hid), id, stages[j], 1000+j,
				at.Add(time.Duration(j)*24*time.Hour).Format("2006-01-02T15:04:05.000Z"))
		}
	}
	for _, w := range []*bufio.Writer{ow, hw} {
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	for _, f := range []*os.File{of, hf} {
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		w := &tableCounter{rows: map[string]int64{}}
		e := New(Config{Dir: dir, Mem: memory.NewGoAllocator(), CookieField: NoCookieField, Currency: "USD"})
		if err := e.Extract(context.Background(), w); err != nil {
			b.Fatal(err)
		}
		if got := w.rows[extract.TableDealStages]; got != opps*entries {
			b.Fatalf("%d stage rows, want %d", got, opps*entries)
		}
	}
	b.ReportMetric(float64(opps*perOpp)*float64(b.N)/b.Elapsed().Seconds(), "history_rows/s")
}
