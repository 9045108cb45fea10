package hubspot

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

// stageRow is one crm_deal_stages row without input and crm, which are checked apart.
type stageRow struct {
	loc, deal, pipeline, stage string
	at                         time.Time
}

// stageRows returns the crm_deal_stages rows in the order written, checking the
// columns every row shares.
func stageRows(t *testing.T, c *extract.Collector, input string) []stageRow {
	t.Helper()
	var out []stageRow
	for _, r := range rowsOf(t, c, extract.TableDealStages) {
		require.Equal(t, input, r["input"])
		require.Equal(t, "hubspot", r["crm"])
		p, _ := r["pipeline"].(string)
		out = append(out, stageRow{r["location"].(string), r["deal_id"].(string), p, r["stage"].(string), r["entered_at"].(time.Time)})
	}
	return out
}

// sameStages are the stage rows of testdata/same, in the order written, without
// their location.
var sameStages = []stageRow{
	// 9001 went back to Appointment Scheduled once; the import setting Contract
	// Sent again on 2026-02-12 is no new entry.
	{"", "9001", "Sales Pipeline", "Appointment Scheduled", ts("2026-01-22T11:00:00Z")},
	{"", "9001", "Sales Pipeline", "Qualified To Buy", ts("2026-01-23T09:00:00Z")},
	{"", "9001", "Sales Pipeline", "Appointment Scheduled", ts("2026-01-26T10:00:00Z")},
	{"", "9001", "Sales Pipeline", "Qualified To Buy", ts("2026-02-01T09:00:00Z")},
	{"", "9001", "Sales Pipeline", "Contract Sent", ts("2026-02-10T09:00:00Z")},
	{"", "9001", "Sales Pipeline", "Closed Won", ts("2026-02-18T16:45:00Z")},
	// 9002's entry into a stage no pipeline has is rejected.
	{"", "9002", "Sales Pipeline", "Appointment Scheduled", ts("2026-01-22T11:00:00Z")},
	{"", "9002", "Sales Pipeline", "Closed Lost", ts("2026-02-01T10:00:00Z")},
	// 9003 has no history: its current stage at its createdate.
	{"", "9003", "Sales Pipeline", "Appointment Scheduled", ts("2026-02-01T10:00:00Z")},
	// 9004 moved from the default pipeline to Partners.
	{"", "9004", "Sales Pipeline", "Appointment Scheduled", ts("2026-02-02T10:00:00Z")},
	{"", "9004", "Partners", "Intro", ts("2026-02-05T10:00:00Z")},
	{"", "9004", "Partners", "Signed", ts("2026-02-10T10:00:00Z")},
}

// located returns sameStages with locations: loc(row index) for each.
func located(loc func(i int, r stageRow) string) []stageRow {
	out := append([]stageRow(nil), sameStages...)
	for i := range out {
		out[i].loc = loc(i, out[i])
	}
	return out
}

func TestDealStagesExportFolder(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c, _, err := extractDir(t, mem, fixture)
	defer c.Release()
	require.NoError(t, err)

	require.Equal(t, []stageRow{
		// 9001: four history entries are rejected (see TestRejectionsAndSkipped);
		// closedwon's timestamp is in epoch milliseconds.
		{"deals.ndjson:1", "9001", "Sales Pipeline", "Appointment Scheduled", ts("2026-01-22T11:00:00Z")},
		{"deals.ndjson:1", "9001", "Sales Pipeline", "Closed Won", ts("2026-02-18T16:45:00Z")},
		// An empty history and none at all: the current stage at the createdate.
		{"deals.ndjson:2", "9002", "Sales Pipeline", "Closed Lost", ts("2026-01-22T11:00:00Z")},
		{"deals.ndjson:3", "9003", "Sales Pipeline", "Appointment Scheduled", ts("2026-02-01T10:00:00Z")},
		{"deals.ndjson:4", "9004", "Partners", "Signed", ts("2026-02-02T10:00:00Z")},
		// 9009 has no pipeline property: its stages are found by id, in any pipeline.
		{"deals.ndjson:9", "9009", "Sales Pipeline", "Qualified To Buy", ts("2026-02-03T10:00:00Z")},
		{"deals.ndjson:9", "9009", "Partners", "Intro", ts("2026-02-05T10:00:00Z")},
		{"deals.ndjson:9", "9009", "Sales Pipeline", "Closed Won", ts("2026-02-12T10:00:00Z")},
		// Rejected deals (9005, 9006, 9008) and archived 9007 have none; 9011 has
		// neither history nor createdate: rejected.
	}, stageRows(t, c, "hubspot:"+fixture))

	var raws []string
	for _, r := range c.Rejections() {
		if r.Location == "deals.ndjson:1 (hubspot deal 9001)" {
			raws = append(raws, r.Raw)
		}
	}
	require.Equal(t, []string{
		`{"value":"retiredstage","timestamp":"2026-01-25T09:00:00.000Z","sourceType":"CRM_UI"}`,
		`{"value":"decisionmakerboughtin","timestamp":"yesterday","sourceType":"CRM_UI"}`,
		`{"value":"","timestamp":"2026-02-10T09:00:00.000Z","sourceType":"API"}`,
		`{"value":"contractsent","sourceType":"CRM_UI"}`,
	}, raws, "a rejected history entry keeps the entry as raw")
}

func TestDealStagesSameFolder(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c, _, err := extractDir(t, mem, same)
	defer c.Release()
	require.NoError(t, err)
	line := map[string]int{"9001": 1, "9002": 2, "9003": 3, "9004": 4}
	require.Equal(t, located(func(_ int, r stageRow) string { return fmt.Sprintf("deals.ndjson:%d", line[r.deal]) }),
		stageRows(t, c, "hubspot:"+same))
}

func TestDealStagesAPI(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f, srv := newFake(t, same)
	a := extractAPI(t, mem, f, srv, nil)
	defer a.c.Release()
	require.NoError(t, a.err)
	require.Equal(t, located(func(_ int, r stageRow) string { return "hubspot deal " + r.deal }), stageRows(t, a.c, "hubspot:api"))

	retired := map[string]bool{}
	for _, r := range a.c.Rejections() {
		if r.Location == "hubspot deal 9002" {
			require.Equal(t, `{"value":"retiredstage","timestamp":"2026-01-28T10:00:00.000Z","sourceType":"CRM_UI","sourceId":"userId:41629779","updatedByUserId":41629779}`, r.Raw)
			retired[r.Reason] = true
		}
	}
	require.Len(t, retired, 1)

	// The history of each page's written deals, by batch read: 9005 is rejected,
	// 9007 archived (not listed).
	type body struct {
		Inputs                []batchInput `json:"inputs"`
		PropertiesWithHistory []string     `json:"propertiesWithHistory"`
	}
	var asked [][]string
	for _, r := range f.calls("POST", "/crm/v3/objects/deals/batch/read") {
		var b body
		require.NoError(t, json.Unmarshal([]byte(r.body), &b))
		require.Equal(t, []string{"dealstage"}, b.PropertiesWithHistory)
		var ids []string
		for _, in := range b.Inputs {
			ids = append(ids, in.ID)
		}
		asked = append(asked, ids)
	}
	require.Equal(t, [][]string{{"9001", "9002"}, {"9003", "9004"}}, asked)
	for _, r := range f.calls("GET", "/crm/v3/objects/deals") {
		require.Empty(t, r.query.Get("propertiesWithHistory"), "lists read no history")
	}
}

// TestDealStagesAPIIncremental: deals found by search get their history the same way.
func TestDealStagesAPIIncremental(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f, srv := newFake(t, same)
	a := extractAPI(t, mem, f, srv, func(c *Config) { c.Since = ts("2026-02-05T00:00:00Z") })
	defer a.c.Release()
	require.NoError(t, a.err)
	// Modified since the watermark, in the order of modification: 9004, then 9001.
	var want []stageRow
	for _, deal := range []string{"9004", "9001"} {
		for _, r := range located(func(_ int, r stageRow) string { return "hubspot deal " + r.deal }) {
			if r.deal == deal {
				want = append(want, r)
			}
		}
	}
	require.Equal(t, want, stageRows(t, a.c, "hubspot:api"))
	require.NotEmpty(t, f.calls("POST", "/crm/v3/objects/deals/search"))
}

// TestDealStagesAPIBatches: HubSpot takes at most 50 ids in a batch read with
// history; a page of 100 deals takes two, and a deal HubSpot no longer finds gets its
// current stage at its createdate.
func TestDealStagesAPIBatches(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := copyDir(t, same)
	var b strings.Builder
	const n = 120
	for i := range n {
		fmt.Fprintf(&b, `{"id":"%d","properties":{"dealname":"d","createdate":"2026-01-01T00:00:00Z","pipeline":"default","dealstage":"qualifiedtobuy"},`+
			`"propertiesWithHistory":{"dealstage":[{"value":"qualifiedtobuy","timestamp":"2026-01-%02dT00:00:00Z"},{"value":"appointmentscheduled","timestamp":"2026-01-01T00:00:00Z"}]},"archived":false}`+"\n",
			20000+i, 2+i%27)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, DealsFile), []byte(b.String()), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, DealContactsFile), nil, 0o644))
	f, srv := newFake(t, dir)
	f.pageSize = 100
	gone := "20007"
	f.gone = map[string]bool{gone: true} // deleted between the list and the batch read
	a := extractAPI(t, mem, f, srv, nil)
	defer a.c.Release()
	require.NoError(t, a.err)

	var sizes []int
	for _, r := range f.calls("POST", "/crm/v3/objects/deals/batch/read") {
		var body struct {
			Inputs []batchInput `json:"inputs"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.body), &body))
		sizes = append(sizes, len(body.Inputs))
	}
	require.Equal(t, []int{50, 50, 20}, sizes)

	got := stageRows(t, a.c, "hubspot:api")
	require.Len(t, got, 2*n-1)
	byDeal := map[string][]string{}
	for _, r := range got {
		byDeal[r.deal] = append(byDeal[r.deal], r.stage+" "+r.at.Format(time.DateOnly))
	}
	require.Equal(t, []string{"Appointment Scheduled 2026-01-01", "Qualified To Buy 2026-01-03"}, byDeal["20001"])
	require.Equal(t, []string{"Qualified To Buy 2026-01-01"}, byDeal[gone], "no history: the current stage at the createdate")
}

func TestDealStagesFivetran(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const dir = "testdata/fivetran"
	c, _, err := extractDir(t, mem, dir)
	defer c.Release()
	require.NoError(t, err)
	// One location per deal_stage.csv row: line 7 (Contract Sent set again) is no
	// new entry, 9002's rows are out of time order, 9004's last one has only
	// _fivetran_start; 9003 has no row: its deal.csv row.
	lines := []string{"2", "3", "4", "5", "6", "8", "10", "9", "", "12", "13", "14"}
	want := located(func(i int, _ stageRow) string {
		if lines[i] == "" {
			return "deal.csv:4"
		}
		return "deal_stage.csv:" + lines[i]
	})
	require.Equal(t, want, stageRows(t, c, "hubspot:"+dir))
}

// TestDealStagesFivetranPropertyHistory reads the dealstage rows of
// deal_property_history when the folder has no deal_stage table.
func TestDealStagesFivetranPropertyHistory(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := copyDir(t, "testdata/fivetran", "deal_stage.csv")
	// The columns of Fivetran's deal_property_history (../shared seed
	// deal_property_history_data.csv); other properties' rows are not stage history.
	history := "deal_id,timestamp,_fivetran_synced,source,name,source_id,value\n" +
		"9004,2026-02-10 10:00:00.000,2026-02-21 02:00:05.000,CRM_UI,dealstage,userId:41629779,12346\n" +
		"9004,2026-02-10 10:00:00.000,2026-02-21 02:00:05.000,CRM_UI,amount,userId:41629779,700\n" +
		"9004,2026-02-02 10:00:00.000,2026-02-21 02:00:05.000,CRM_UI,dealstage,userId:41629779,appointmentscheduled\n" +
		"9004,2026-02-05 10:00:00.000,2026-02-21 02:00:05.000,CRM_UI,dealstage,userId:41629779,12348\n" +
		"9002,,2026-02-21 02:00:05.000,CRM_UI,dealstage,userId:41629779,closedlost\n" +
		",2026-02-05 10:00:00.000,2026-02-21 02:00:05.000,CRM_UI,dealstage,userId:41629779,12348\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "deal_property_history.csv"), []byte(history), 0o644))
	c, e, err := extractDir(t, mem, dir)
	defer c.Release()
	require.NoError(t, err)
	require.Contains(t, e.Tables(), extract.TableDealStages)
	require.Equal(t, []stageRow{
		{"deal.csv:2", "9001", "Sales Pipeline", "Closed Won", ts("2026-01-22T11:00:00Z")},
		{"deal.csv:4", "9003", "Sales Pipeline", "Appointment Scheduled", ts("2026-02-01T10:00:00Z")},
		{"deal_property_history.csv:4", "9004", "Sales Pipeline", "Appointment Scheduled", ts("2026-02-02T10:00:00Z")},
		{"deal_property_history.csv:5", "9004", "Partners", "Intro", ts("2026-02-05T10:00:00Z")},
		{"deal_property_history.csv:2", "9004", "Partners", "Signed", ts("2026-02-10T10:00:00Z")},
	}, stageRows(t, c, "hubspot:"+dir), "9002's only row is rejected: no row of its own either")
	rej := map[string]string{}
	for _, r := range c.Rejections() {
		if strings.HasPrefix(r.Location, "deal_property_history.csv") {
			rej[r.Location] = r.Reason
		}
	}
	require.Equal(t, map[string]string{
		"deal_property_history.csv:6 (hubspot deal 9002)": `dealstage history entry for stage "closedlost" has no timestamp, so when the deal entered the stage is unknown: the entry is left out of the deal's stage path; check the export of the stage history`,
		"deal_property_history.csv:7":                     "stage history row without deal_id",
	}, rej)
}

// TestDealStagesAmbiguous: a history stage id in two pipelines, neither of them the
// deal's, cannot be given a label.
func TestDealStagesAmbiguous(t *testing.T) {
	var x stageIndex
	x.add("a", "s1", stage{label: "One"})
	x.add("b", "s1", stage{label: "Uno"})
	x.add("c", "s2", stage{})
	st, reason := x.entered("c", "s2")
	require.Empty(t, reason)
	require.Equal(t, stage{label: "s2", pipeline: "c"}, st, "no label: the id")
	st, reason = x.entered("a", "s1")
	require.Empty(t, reason)
	require.Equal(t, "One", st.label, "the deal's own pipeline first")
	_, reason = x.entered("c", "s1")
	require.Equal(t, `dealstage history names stage "s1", which is not in the deal's pipeline "c" but in 2 others, so its label is ambiguous: rename the stage ids apart in HubSpot`, reason)
	require.Equal(t, "c", x.pipelineLabel("c"), "no label: the id")
}
