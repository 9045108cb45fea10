package salesforce

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

const exportDir = "testdata/export"

// sid is the 18-character id of a 15-character one (the fixtures are written with
// their 15-character bases).
func sid(s string) string {
	id, err := ID18(s)
	if err != nil {
		panic(err)
	}
	return id
}

// Ids of the hand-made org of testdata/api and testdata/export.
var (
	leadAnn, leadBob, leadBobOld, leadDee = sid("00Q5g00000Ann01"), sid("00Q5g00000Bob02"), sid("00Q5g00000Car03"), sid("00Q5g00000Dee04")
	leadEve, leadFay                      = sid("00Q5g00000Eve05"), sid("00Q5g00000Fay06")
	contactAnn, contactCarol, contactOld  = sid("0035g00000Ann01"), sid("0035g00000Car01"), sid("0035g00000Car02")
	contactEve                            = sid("0035g00000Eve99")
	oppWon, oppOpen, oppLost, oppBroken   = sid("0065g00000Opp01"), sid("0065g00000Opp02"), sid("0065g00000Opp03"), sid("0065g00000Opp05")
	taskAccount                           = sid("00T5g00000Tsk05")
	oppUnknown                            = sid("0065g00000Opp09")
	// OpportunityHistory rows: of the broken opportunity, of one the org lacks, without time.
	histOfBroken, histOfUnknown, histNoTime = sid("0085g00000Oh009"), sid("0085g00000Oh010"), sid("0085g00000Oh011")
)

// checkStages asserts the crm_deal_stages rows of the hand-made org, in the order
// written: opportunities in reading order, each one's entries in time order.
func checkStages(t *testing.T, c *extract.Collector, e *Extractor) {
	t.Helper()
	files := e.cfg.Dir != ""
	hist := func(n, line string) string {
		if files {
			return "OpportunityHistory.csv:" + line
		}
		return "salesforce OpportunityHistory " + sid("0085g00000Oh0"+n)
	}
	oppLoc := "salesforce Opportunity " + oppOpen
	if files {
		oppLoc = "Opportunity.csv:3"
	}
	row := func(loc, deal, stage, at string) map[string]any {
		return map[string]any{"input": e.Name(), "location": loc, "crm": "salesforce", "deal_id": deal, "pipeline": nil,
			"stage": stage, "entered_at": ts(at)}
	}
	require.Equal(t, []map[string]any{
		// Oh005 (an amount edit in Prospecting) is no entry; Oh007 and Oh006 are
		// listed out of time order.
		row(hist("01", "2"), oppWon, "Prospecting", "2026-01-20T12:00:00Z"),
		row(hist("07", "8"), oppWon, "Negotiation", "2026-02-02T10:00:00Z"),
		row(hist("06", "7"), oppWon, "Prospecting", "2026-02-05T10:00:00Z"),
		row(hist("02", "3"), oppWon, "Closed Won", "2026-02-18T16:45:00Z"),
		// No history: its creation in its current stage.
		row(oppLoc, oppOpen, "Negotiation", "2026-01-25T10:00:00Z"),
		// Oh012 edits the amount after the loss; Oh011 has no time and is rejected.
		row(hist("03", "4"), oppLost, "Prospecting", "2026-01-10T10:00:00Z"),
		row(hist("04", "5"), oppLost, "Closed Lost", "2026-01-27T18:00:00Z"),
		// Oh008, of the deleted opportunity, has no row.
	}, rowsOf(t, c, extract.TableDealStages))
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// checkedMem is a checked allocator that must be empty when the test and its
// cleanups (the collectors of extractWith) are done.
func checkedMem(t *testing.T) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// extractWith runs an extractor for cfg into a new collector (released by the test).
func extractWith(t *testing.T, cfg Config) (*extract.Collector, *Extractor, error) {
	t.Helper()
	c := extract.NewCollector(cfg.Mem)
	t.Cleanup(c.Release)
	e := New(cfg)
	err := e.Extract(context.Background(), c)
	return c, e, err
}

// rowsOf returns the rows of a collected table keyed by column name; nulls are nil,
// timestamps time.Time in UTC.
func rowsOf(t *testing.T, c *extract.Collector, table string) []map[string]any {
	t.Helper()
	tbl := c.Table(table)
	defer tbl.Release()
	out := make([]map[string]any, tbl.NumRows())
	for i := range out {
		out[i] = map[string]any{}
	}
	for ci := 0; ci < int(tbl.NumCols()); ci++ {
		name := tbl.Schema().Field(ci).Name
		row := 0
		for _, chunk := range tbl.Column(ci).Data().Chunks() {
			for j := 0; j < chunk.Len(); j++ {
				var v any
				if !chunk.IsNull(j) {
					switch a := chunk.(type) {
					case *array.String:
						v = a.Value(j)
					case *array.Float64:
						v = a.Value(j)
					case *array.Int64:
						v = a.Value(j)
					case *array.Boolean:
						v = a.Value(j)
					case *array.Timestamp:
						v = a.Value(j).ToTime(arrow.Microsecond).UTC()
					default:
						t.Fatalf("column %s: unexpected type %T", name, chunk)
					}
				}
				out[row][name] = v
				row++
			}
		}
	}
	return out
}

func byKey(t *testing.T, rows []map[string]any, col string) map[string]map[string]any {
	t.Helper()
	m := map[string]map[string]any{}
	for _, r := range rows {
		k := r[col].(string)
		require.NotContains(t, m, k, "duplicate %s %s", col, k)
		m[k] = r
	}
	return m
}

// canonical renders a table's rows without input and location, sorted: what API
// mode and file mode must agree on.
func canonical(t *testing.T, c *extract.Collector, table string) []string {
	var out []string
	for _, r := range rowsOf(t, c, table) {
		delete(r, "input")
		delete(r, "location")
		keys := make([]string, 0, len(r))
		for k := range r {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%v ", k, r[k])
		}
		out = append(out, b.String())
	}
	slices.Sort(out)
	return out
}

// checkScenario asserts the canonical rows of the hand-made org, read in either mode.
func checkScenario(t *testing.T, c *extract.Collector, e *Extractor) {
	t.Helper()
	people := byKey(t, rowsOf(t, c, extract.TableContacts), "contact_id")
	require.Len(t, people, 4, "Bob, Eve (converted into a contact not read), Ann (lead folded into her contact), Carol")

	ann := people[contactAnn]
	require.Equal(t, "salesforce", ann["crm"])
	require.Equal(t, "ann@example.com", ann["email"])
	require.Equal(t, "1111.2222", ann["cookie_id"], "the contact has no cookie: her lead's")
	require.Equal(t, ts("2026-01-20T12:00:00Z"), ann["created_at"])
	require.Equal(t, ts("2026-02-18T17:00:00Z"), ann["updated_at"])
	require.Equal(t, ts("2026-01-05T10:00:00Z"), ann["lead_at"], "the lead's creation, not the conversion")
	require.Equal(t, ts("2026-01-08T09:00:00Z"), ann["mql_at"], "LeadHistory: Status entered Marketing Qualified")
	require.Equal(t, ts("2026-01-15T14:00:00Z"), ann["sql_at"], "LeadHistory: Status entered Sales Qualified")
	require.Nil(t, ann["opportunity_at"])
	require.Nil(t, ann["customer_at"])
	require.Equal(t, "sql", ann["lifecycle_stage"])
	require.Equal(t, "Web", ann["original_source"])
	require.Equal(t, "salesforce_lead:"+leadAnn, ann["linked_ids"])
	require.NotContains(t, people, leadAnn, "a converted lead is not a second person")
	// The contact's values win; her lead's fill what the contact and its account lack.
	require.Equal(t, "VP of Marketing", ann["job_title"], "the contact's Title, not the lead's")
	require.Equal(t, "Acme Analytics GmbH", ann["company"], "the Account's Name, not the lead's Company")
	require.Equal(t, "Technology", ann["industry"])
	require.Equal(t, int64(120), ann["company_size"], "the account has no NumberOfEmployees: the lead's")
	require.Equal(t, "Germany", ann["country"], "no MailingCountry: the lead's Country")

	bob := people[leadBob]
	require.Equal(t, "bob@example.com", bob["email"])
	require.Equal(t, "3333.4444", bob["cookie_id"])
	require.Equal(t, ts("2026-01-06T09:30:00Z"), bob["lead_at"])
	require.Equal(t, ts("2026-01-09T11:00:00Z"), bob["mql_at"])
	require.Nil(t, bob["sql_at"])
	require.Equal(t, "mql", bob["lifecycle_stage"])
	require.Equal(t, "Webinar", bob["original_source"])
	require.Equal(t, "salesforce_lead:"+leadBobOld, bob["linked_ids"], "the lead merged into Bob's")
	require.NotContains(t, people, leadBobOld, "merged lead skipped")
	require.Equal(t, "Data Analyst", bob["job_title"])
	require.Equal(t, "Initech", bob["company"], "the lead's own Company, not the merged lead's")
	require.Equal(t, "Banking", bob["industry"])
	require.Equal(t, int64(50), bob["company_size"])
	require.Equal(t, "United States", bob["country"])
	require.NotContains(t, people, leadDee, "deleted lead skipped")

	eve := people[leadEve]
	require.Equal(t, "salesforce_contact:"+contactEve, eve["linked_ids"])
	require.Equal(t, ts("2026-01-25T00:00:00Z"), eve["sql_at"], "converted without Status history: ConvertedDate")
	require.Nil(t, eve["mql_at"])
	require.Equal(t, "Hooli", eve["company"], "a lead whose contact is not read: its own values")
	require.Nil(t, eve["industry"])
	require.Nil(t, eve["company_size"])

	carol := people[contactCarol]
	require.Equal(t, ts("2026-01-07T10:00:00Z"), carol["lead_at"], "no lead converted into her: CreatedDate")
	require.Equal(t, "lead", carol["lifecycle_stage"])
	require.Equal(t, "9999.0000", carol["cookie_id"])
	require.Equal(t, "salesforce_contact:"+contactOld, carol["linked_ids"], "15-char MasterRecordId in files, joined")
	require.NotContains(t, people, contactOld)
	require.Equal(t, "Head of Operations", carol["job_title"])
	require.Equal(t, "Globex Corporation", carol["company"], "her Account (15-character AccountId in files)")
	require.Equal(t, "Manufacturing", carol["industry"])
	require.Equal(t, int64(5400), carol["company_size"])
	require.Equal(t, "United States", carol["country"], "MailingCountry, trimmed")

	deals := byKey(t, rowsOf(t, c, extract.TableDeals), "deal_id")
	require.Len(t, deals, 3, "the deleted won deal is not revenue; the broken one is rejected")
	won := deals[oppWon]
	require.Equal(t, "Ann - Platform", won["deal_name"])
	require.Equal(t, "Closed Won", won["stage"])
	require.Equal(t, 12000.5, won["amount"])
	require.Equal(t, "EUR", won["currency"])
	require.Equal(t, ts("2026-01-20T12:00:00Z"), won["created_at"])
	require.Equal(t, ts("2026-02-18T16:45:00Z"), won["closed_at"], "OpportunityHistory dates the close on CloseDate's day")
	require.Equal(t, true, won["is_closed"])
	require.Equal(t, true, won["is_won"])
	require.Nil(t, won["pipeline"])
	open := deals[oppOpen]
	require.Equal(t, "USD", open["currency"], "no CurrencyIsoCode: Config.Currency")
	require.Nil(t, open["closed_at"], "an open deal's CloseDate is a forecast")
	require.Equal(t, false, open["is_closed"])
	lost := deals[oppLost]
	require.Equal(t, ts("2026-01-28T00:00:00Z"), lost["closed_at"], "history on another day: CloseDate")
	require.Equal(t, false, lost["is_won"])

	var links []string
	for _, r := range rowsOf(t, c, extract.TableDealContacts) {
		links = append(links, r["deal_id"].(string)+">"+r["contact_id"].(string))
	}
	require.Equal(t, []string{oppOpen + ">" + contactCarol, oppOpen + ">" + contactAnn, oppLost + ">" + contactCarol, oppWon + ">" + contactAnn}, links,
		"primary first; a merged contact's role joins the survivor once; deleted roles and deals dropped; the converted lead's deal to her contact")

	var touches []string
	for _, r := range rowsOf(t, c, extract.TableEvents) {
		require.Equal(t, extract.KindTouch, r["kind"])
		require.Equal(t, false, r["is_conversion"])
		require.Nil(t, r["anonymous_id"])
		touches = append(touches, fmt.Sprintf("%s|%v|%v|%v|%v|%v|%v", r["occurred_at"].(time.Time).Format(time.RFC3339),
			r["event_name"], r["channel"], r["utm_source"], r["utm_medium"], r["utm_campaign"], r["crm_record"]))
	}
	slices.Sort(touches)
	require.Equal(t, []string{
		"2026-01-10T14:00:00Z|call|Sales: Call|EMEA Account Executives|call|<nil>|salesforce_lead:" + leadBob,
		"2026-01-12T00:00:00Z|campaign_response|Webinar|salesforce|webinar|Q1 Webinar|salesforce_lead:" + leadBob,
		"2026-01-14T00:00:00Z|campaign_response|Trade Show|salesforce|trade show|Spring Trade Show|salesforce_contact:" + contactAnn,
		"2026-01-26T09:15:00Z|sales_email|Sales: Email|SDR|sales_email|<nil>|salesforce_contact:" + contactCarol,
		"2026-01-29T00:00:00Z|task|Sales: Task|Owen Owner|task|<nil>|salesforce_contact:" + contactCarol,
		"2026-01-31T11:00:00Z|sales_email|Sales: Email|EMEA Account Executives|sales_email|<nil>|salesforce_contact:" + contactAnn,
		"2026-01-31T11:00:00Z|sales_email|Sales: Email|EMEA Account Executives|sales_email|<nil>|salesforce_contact:" + contactCarol,
		"2026-02-01T15:00:00Z|meeting|Sales: Meeting|EMEA Account Executives|meeting|<nil>|salesforce_contact:" + contactAnn,
	}, touches)

	checkStages(t, c, e)

	rej := c.Rejections()
	require.Len(t, rej, 6)
	reasons := map[string]string{}
	for _, r := range rej {
		require.Equal(t, e.Name(), r.Input)
		for _, id := range []string{leadFay, oppBroken, taskAccount, histOfBroken, histOfUnknown, histNoTime} {
			if strings.Contains(r.Location, id) {
				reasons[id] = r.Reason
				require.Contains(t, r.Raw, id, "the raw record")
			}
		}
	}
	require.Contains(t, reasons[leadFay], `field CreatedDate: time "yesterday"`)
	require.Contains(t, reasons[oppBroken], `field Amount: "12k" is not a number`)
	require.Contains(t, reasons[taskAccount], "names no lead or contact")
	require.Equal(t, "opportunity "+oppBroken+" was rejected (see its own rejection): its stage history is left out with it", reasons[histOfBroken])
	require.Equal(t, "opportunity "+oppUnknown+" is neither a live nor a deleted opportunity of the Opportunity export: export Opportunity and OpportunityHistory at the same time",
		reasons[histOfUnknown])
	require.Equal(t, "field CreatedDate: empty: a stage history row without its time cannot be placed in the opportunity's path; fix the export", reasons[histNoTime])

	// merged lead and contact; deleted lead, deal, role, task, campaign member; the
	// open task; the invitee's copy of the meeting.
	require.Equal(t, 9, e.Skipped())
	require.Equal(t, int64(2), e.skipped[skipMerged].Load())
	require.Equal(t, int64(5), e.skipped[skipDeleted].Load())
	require.Equal(t, int64(1), e.skipped[skipOpen].Load())
	require.Equal(t, int64(1), e.skipped[skipChild].Load())
}

func TestExportFolder(t *testing.T) {
	mem := checkedMem(t)
	c, e, err := extractWith(t, Config{Spec: "salesforce:" + exportDir, Dir: exportDir, Mem: mem, Currency: "usd"})
	require.NoError(t, err)
	checkScenario(t, c, e)

	// The export writes some references in their 15-character form; they join the
	// 18-character ids of the records they name.
	roles, err := os.ReadFile(exportDir + "/OpportunityContactRole.csv")
	require.NoError(t, err)
	require.Contains(t, string(roles), `"0035g00000Car02",`)

	people := byKey(t, rowsOf(t, c, extract.TableContacts), "contact_id")
	require.Equal(t, "salesforce:"+exportDir, people[leadBob]["input"])
	require.Equal(t, "Lead.csv:3", people[leadBob]["location"])
	require.Equal(t, "Contact.csv:2", people[contactAnn]["location"])
	for _, r := range c.Rejections() {
		if strings.Contains(r.Location, leadFay) {
			require.Equal(t, "Lead.csv:7 (salesforce Lead "+leadFay+")", r.Location)
			require.True(t, strings.HasPrefix(r.Raw, `"00Q5g00000Fay06EAB","false"`), r.Raw)
		}
	}
}

func TestID18(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "00D000000000062", want: "00D000000000062EAA"},
		{in: "001A0000006Vm9r", want: "001A0000006Vm9rIAC"},
		{in: "001A0000006Vm9rIAC", want: "001A0000006Vm9rIAC"},
		{in: "001A0000006Vm9riac", want: "001A0000006Vm9rIAC", err: ""},
		{in: " 0035g00000Car01 ", want: "0035g00000Car01AAB"},
		{in: "001a0000006vm9riac", want: "001A0000006Vm9rIAC"}, // lower-cased by another system
		{in: "001A0000006VM9RIAC", want: "001A0000006Vm9rIAC"}, // upper-cased
		{in: "001A0000006vM9rIAC", err: "do not match"},        // one letter's case changed
		{in: "001A0000006Vm9rAAA", err: "do not match"},
		{in: "0033700000JmrFPAA", err: "17 characters"},
		{in: "cont001AAAAAAA", err: "14 characters"},
		{in: "001A0000006Vm9-", err: "only letters and digits"},
		{in: "", err: "0 characters"},
	} {
		got, err := ID18(tc.in)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestMissingFiles(t *testing.T) {
	mem := checkedMem(t)
	dir := t.TempDir()
	copyFile(t, exportDir+"/Lead.csv", dir+"/Lead.csv")
	c, _, err := extractWith(t, Config{Dir: dir, Mem: mem})
	require.ErrorIs(t, err, extract.ErrConfig)
	require.ErrorContains(t, err, "folder "+dir+" has no Contact file (looked for Contact.csv, contact.csv, sf_contact_data.csv)")
	require.Empty(t, rowsOf(t, c, extract.TableContacts), "nothing written before the check")

	_, _, err = extractWith(t, Config{Dir: dir + "/nope", Mem: mem})
	require.ErrorIs(t, err, extract.ErrConfig)
	require.ErrorContains(t, err, "does not exist")
}

// TestLogsAndErrorsNoSecrets is in api_test.go; this checks what file mode logs.
func TestFileModeLogs(t *testing.T) {
	mem := checkedMem(t)
	var logs bytes.Buffer
	dir := t.TempDir()
	for _, n := range []string{"Lead.csv", "Contact.csv"} {
		copyFile(t, exportDir+"/"+n, dir+"/"+n)
	}
	c, e, err := extractWith(t, Config{Dir: dir, Mem: mem, Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	require.Contains(t, logs.String(), "object=Task", "a missing optional object is logged")
	require.Contains(t, logs.String(), "merged=2", "skipped records are logged by kind")
	require.Len(t, rowsOf(t, c, extract.TableContacts), 4)
	require.Empty(t, rowsOf(t, c, extract.TableDeals))
	require.Equal(t, 3, e.Skipped(), "merged lead and contact, deleted lead")
	require.False(t, errors.Is(err, extract.ErrConfig))
}
