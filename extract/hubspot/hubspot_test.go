package hubspot

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

const fixture = "testdata/export"

// extractDir extracts dir and returns the collector (to release) and the extractor.
func extractDir(t *testing.T, mem memory.Allocator, dir string) (*extract.Collector, *Extractor, error) {
	t.Helper()
	c := extract.NewCollector(mem)
	e := New(Config{Spec: "hubspot:" + dir, Dir: dir, Mem: mem, CookieProperty: "ga_client_id", Currency: "eur"})
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

// byKey indexes rows by one string column.
func byKey(rows []map[string]any, col string) map[string]map[string]any {
	m := map[string]map[string]any{}
	for _, r := range rows {
		m[r[col].(string)] = r
	}
	return m
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestExtractContacts(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c, _, err := extractDir(t, mem, fixture)
	defer c.Release()
	require.NoError(t, err)

	rows := rowsOf(t, c, extract.TableContacts)
	require.Len(t, rows, 4)
	got := byKey(rows, "contact_id")

	ann := got["101"]
	require.Equal(t, "hubspot:"+fixture, ann["input"])
	require.Equal(t, "contacts.ndjson:1", ann["location"])
	require.Equal(t, "hubspot", ann["crm"])
	require.Equal(t, "ann@example.com", ann["email"], "trimmed and lower-cased")
	require.Equal(t, "1234567890.1767600000", ann["cookie_id"])
	require.Equal(t, "customer", ann["lifecycle_stage"])
	require.Equal(t, ts("2026-01-05T10:00:00Z"), ann["created_at"])
	require.Equal(t, ts("2026-02-20T08:30:00Z"), ann["updated_at"])
	require.Equal(t, ts("2026-01-05T10:00:00Z"), ann["lead_at"])
	require.Equal(t, ts("2026-01-08T09:00:00Z"), ann["mql_at"])
	require.Equal(t, ts("2026-01-15T14:00:00Z"), ann["sql_at"])
	require.Equal(t, ts("2026-01-22T11:00:00Z"), ann["opportunity_at"])
	require.Equal(t, ts("2026-02-18T16:45:00Z"), ann["customer_at"])
	require.Equal(t, "PAID_SEARCH", ann["original_source"])
	require.Equal(t, "brand_search", ann["original_source_data_1"])
	require.Equal(t, "closedloop", ann["original_source_data_2"])
	require.Equal(t, "hubspot_contact:95;hubspot_contact:96;email:ann.alt@example.com", ann["linked_ids"],
		"merged contacts (not itself) and additional e-mails")
	require.Equal(t, "VP of Marketing", ann["job_title"])
	require.Equal(t, "Acme Analytics GmbH", ann["company"])
	require.Equal(t, "Computer Software", ann["industry"])
	require.Equal(t, int64(25), ann["company_size"], `numemployees "25-50": its lower bound`)
	require.Equal(t, "Germany", ann["country"], "trimmed")

	// Bob's dates are epoch-millisecond strings for the same instants as Ann's.
	bob := got["102"]
	require.Equal(t, "mql", bob["lifecycle_stage"])
	require.Equal(t, ann["lead_at"], bob["lead_at"])
	require.Equal(t, ann["mql_at"], bob["mql_at"])
	require.Equal(t, ann["updated_at"], bob["updated_at"])
	require.Equal(t, ts("2026-01-05T10:00:00Z"), bob["created_at"], "createdate null: createdAt")
	require.Nil(t, bob["sql_at"])
	require.Nil(t, bob["original_source_data_1"])
	require.Equal(t, "google", bob["original_source_data_2"])

	// A numeric id, a null e-mail, the newer hs_v2_date_entered_* property.
	c107 := got["107"]
	for _, col := range []string{"job_title", "company", "industry", "company_size", "country"} {
		require.Nil(t, c107[col], "%s: no such property on the record", col)
	}
	require.Equal(t, "sql", c107["lifecycle_stage"])
	require.Nil(t, c107["email"])
	require.Nil(t, c107["cookie_id"])
	require.Equal(t, ts("2026-01-10T00:00:00Z"), c107["created_at"])
	require.Equal(t, ts("2026-01-20T12:00:00Z"), c107["sql_at"])

	require.Equal(t, "other", got["108"]["lifecycle_stage"], "custom stage id")
	require.Equal(t, "carol@example.org", got["108"]["email"])
}

func TestExtractDeals(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c, _, err := extractDir(t, mem, fixture)
	defer c.Release()
	require.NoError(t, err)

	rows := rowsOf(t, c, extract.TableDeals)
	got := byKey(rows, "deal_id")
	require.Len(t, got, 6, "9011 has no createdate: a deal row all the same")
	for _, id := range []string{"9005", "9006", "9007", "9008"} {
		require.NotContains(t, got, id)
	}

	won := got["9001"]
	require.Equal(t, "deals.ndjson:1", won["location"])
	require.Equal(t, "Example Inc - New Business", won["deal_name"])
	require.Equal(t, "default", won["pipeline"])
	require.Equal(t, "closedwon", won["stage"])
	require.Equal(t, 12000.50, won["amount"])
	require.Equal(t, "USD", won["currency"])
	require.Equal(t, ts("2026-01-22T11:00:00Z"), won["created_at"])
	require.Equal(t, ts("2026-02-18T16:45:00Z"), won["closed_at"], "epoch-ms closedate")
	require.Equal(t, true, won["is_closed"])
	require.Equal(t, true, won["is_won"])

	lost := got["9002"]
	require.Equal(t, 5000.0, lost["amount"])
	require.Equal(t, "EUR", lost["currency"], "no deal_currency_code: the configured currency")
	require.Equal(t, true, lost["is_closed"])
	require.Equal(t, false, lost["is_won"])
	require.Equal(t, ts("2026-02-01T10:00:00Z"), lost["closed_at"])

	open := got["9003"]
	require.Nil(t, open["amount"])
	require.Equal(t, false, open["is_closed"])
	require.Equal(t, false, open["is_won"])
	require.Nil(t, open["closed_at"], "an open deal's closedate is a forecast")

	// Won from metadata (isClosed, probability 1.0), whatever the label says.
	partner := got["9004"]
	require.Equal(t, "12345", partner["pipeline"])
	require.Equal(t, true, partner["is_won"])

	noPipeline := got["9009"]
	require.Equal(t, true, noPipeline["is_won"])
	require.Equal(t, 2500.25, noPipeline["amount"])
}

func TestExtractDealContacts(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c, _, err := extractDir(t, mem, fixture)
	defer c.Release()
	require.NoError(t, err)

	var pairs []string
	for _, r := range rowsOf(t, c, extract.TableDealContacts) {
		require.Equal(t, "hubspot", r["crm"])
		pairs = append(pairs, r["deal_id"].(string)+"-"+r["contact_id"].(string))
	}
	// 9007 is archived, 103 too: their links go with them.
	require.Equal(t, []string{"9001-101", "9001-102", "9002-101", "9003-108"}, pairs)
}

func TestRejectionsAndSkipped(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c, e, err := extractDir(t, mem, fixture)
	defer c.Release()
	require.NoError(t, err)
	require.Equal(t, 2, e.Skipped(), "archived contact 103 and deal 9007")

	type rej struct{ loc, reason string }
	var got []rej
	for _, r := range c.Rejections() {
		require.Equal(t, "hubspot:"+fixture, r.Input)
		require.NotEmpty(t, r.Raw)
		got = append(got, rej{r.Location, r.Reason})
	}
	want := []rej{
		{"contacts.ndjson:4", "invalid JSON"},
		{"contacts.ndjson:5", "contact has no id"},
		{"contacts.ndjson:6 (hubspot contact 106)", "property hs_lifecyclestage_lead_date"},
		// Deal 9001's stage history, oldest first.
		{"deals.ndjson:1 (hubspot deal 9001)", `dealstage history names stage "retiredstage"`},
		{"deals.ndjson:1 (hubspot deal 9001)", `dealstage history entry for stage "decisionmakerboughtin": timestamp time "yesterday"`},
		{"deals.ndjson:1 (hubspot deal 9001)", "dealstage history entry has no value (the stage id)"},
		{"deals.ndjson:1 (hubspot deal 9001)", `dealstage history entry for stage "contractsent" has no timestamp`},
		{"deals.ndjson:5 (hubspot deal 9005)", `dealstage "nosuchstage"`},
		{"deals.ndjson:6 (hubspot deal 9006)", "property amount"},
		{"deals.ndjson:8 (hubspot deal 9008)", "property closedate"},
		{"deals.ndjson:10 (hubspot deal 9011)", `deal has no dealstage history and no createdate, so when it entered stage "Qualified To Buy" is unknown`},
		{"deal_contacts.ndjson:5", "invalid JSON"},
		{"deal_contacts.ndjson:6", "no from.id"},
	}
	require.Len(t, got, len(want), "%v", got)
	for i, w := range want {
		require.Equal(t, w.loc, got[i].loc)
		require.Contains(t, got[i].reason, w.reason)
	}
}

// copyFixture copies the fixture folder without the files named in skip.
func copyFixture(t *testing.T, skip ...string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(fixture)
	require.NoError(t, err)
	for _, en := range entries {
		if contains(skip, en.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(fixture, en.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, en.Name()), b, 0o644))
	}
	return dir
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func TestConfigErrors(t *testing.T) {
	badPipelines := copyFixture(t)
	require.NoError(t, os.WriteFile(filepath.Join(badPipelines, PipelinesFile), []byte(`{"results":[{"id":"default","stages":[{"id":"closedwon","metadata":{"isClosed":"true"}}]}]}`), 0o644))
	notJSON := copyFixture(t)
	require.NoError(t, os.WriteFile(filepath.Join(notJSON, PipelinesFile), []byte(`<html>`), 0o644))

	tests := []struct {
		name string
		dir  string
		want []string
	}{
		{"no contacts", copyFixture(t, ContactsFile), []string{ContactsFile}},
		{"no deals", copyFixture(t, DealsFile), []string{DealsFile}},
		{"no pipelines", copyFixture(t, PipelinesFile), []string{PipelinesFile, "won and lost"}},
		{"no associations", copyFixture(t, DealContactsFile), []string{DealContactsFile}},
		{"no folder", filepath.Join(t.TempDir(), "missing"), []string{"does not exist"}},
		{"closed stage without probability", badPipelines, []string{`stage "closedwon"`, "probability"}},
		{"pipelines not JSON", notJSON, []string{PipelinesFile}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			c, _, err := extractDir(t, mem, tt.dir)
			defer c.Release()
			require.Error(t, err)
			require.True(t, errors.Is(err, extract.ErrConfig), "%v", err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
			if tt.name != "no folder" {
				require.Contains(t, err.Error(), tt.dir, "names the folder")
			}
			require.Empty(t, c.Rejections(), "nothing read before the check")
		})
	}
}

func TestLongLineRejected(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := copyFixture(t)
	long := `{"id":"1","properties":{"email":"` + strings.Repeat("x", MaxLineBytes) + `"}}` + "\n"
	good := `{"id":"2","properties":{"email":"ok@example.com"}}` + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, ContactsFile), []byte(long+good), 0o644))

	c, _, err := extractDir(t, mem, dir)
	defer c.Release()
	require.NoError(t, err)
	rows := rowsOf(t, c, extract.TableContacts)
	require.Len(t, rows, 1)
	require.Equal(t, "2", rows[0]["contact_id"])
	require.Equal(t, "contacts.ndjson:2", rows[0]["location"])
	rej := c.Rejections()[0]
	require.Equal(t, "contacts.ndjson:1", rej.Location)
	require.Contains(t, rej.Reason, "longer than")
	require.LessOrEqual(t, len(rej.Raw), extract.MaxRawBytes+len("…"))
}

func TestCanceled(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := New(Config{Dir: fixture, Mem: mem}).Extract(ctx, c)
	require.ErrorIs(t, err, context.Canceled)
}

func TestNameAndTables(t *testing.T) {
	e := New(Config{Dir: "x"})
	require.Equal(t, "hubspot:x", e.Name())
	require.Equal(t, []string{extract.TableContacts, extract.TableDeals, extract.TableDealContacts, extract.TableDealStages}, e.Tables(),
		"a v3 export carries the stage history in its deals")
	all := []string{extract.TableContacts, extract.TableDeals, extract.TableDealContacts, extract.TableDealStages, extract.TableEvents}
	require.Equal(t, all, New(Config{Dir: same}).Tables(), "activity files: events too")
	require.Equal(t, all, New(Config{Dir: "testdata/fivetran"}).Tables())
	noHistory := copyDir(t, "testdata/fivetran", "deal_stage.csv")
	require.Equal(t, []string{extract.TableContacts, extract.TableDeals, extract.TableDealContacts, extract.TableEvents},
		New(Config{Dir: noHistory}).Tables(), "a Fivetran folder without deal_stage nor deal_property_history")
	api := New(Config{})
	require.Equal(t, "hubspot:api", api.Name(), "no folder: the API")
	require.Equal(t, append(all, extract.TableAccounts), api.Tables(), "the API: companies too")
}
