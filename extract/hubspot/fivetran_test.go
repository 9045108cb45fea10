package hubspot

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

// TestFivetranMatchesExportFolder reads testdata/fivetran, the records of
// testdata/same as Fivetran tables plus the merged records only Fivetran keeps: the
// canonical rows are those of the export folder.
func TestFivetranMatchesExportFolder(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	want, _, err := extractDir(t, mem, same)
	defer want.Release()
	require.NoError(t, err)
	got, e, err := extractDir(t, mem, "testdata/fivetran")
	defer got.Release()
	require.NoError(t, err)

	for _, table := range []string{extract.TableContacts, extract.TableDeals, extract.TableDealContacts, extract.TableDealStages, extract.TableEvents} {
		w := canonical(t, want, table)
		g := canonical(t, got, table)
		for i := range w { // the input column names the folder
			w[i] = strings.ReplaceAll(w[i], "hubspot:"+same, "hubspot:testdata/fivetran")
		}
		sort.Strings(w)
		require.Equal(t, w, g, table)
	}
	require.Equal(t, 6, e.Skipped(), "contact 103 and deal 9007 deleted, contacts 95 and 96 and deal 9010 merged, call 7004 deleted")
	ann := byKey(rowsOf(t, got, extract.TableContacts), "contact_id")["101"]
	require.Equal(t, "Acme Analytics GmbH", ann["company"], "the survivor's values; merged-away contact 95 has others")
	require.Equal(t, int64(25), ann["company_size"])
	require.Equal(t, 1, e.BadCompanySizes())

	type rej struct{ loc, reason string }
	var rejs []rej
	for _, r := range got.Rejections() {
		require.NotEmpty(t, r.Raw)
		rejs = append(rejs, rej{r.Location, r.Reason})
	}
	require.Equal(t, []rej{
		{"contact.csv:5 (hubspot contact 106)", `property hs_lifecyclestage_lead_date: time "yesterday": want RFC 3339 (2018-07-03T13:02:11Z), a date, or epoch seconds/ms/µs; fix the value in HubSpot`},
		{"deal.csv:6 (hubspot deal 9005)", `dealstage "nosuchstage" is not a stage of pipeline "default" among the deal pipelines read: re-export the pipelines together with the deals`},
		// deal_stage.csv: the rows of deleted deal 9007 and merged deal 9010 go with
		// their deals; those of rejected and unknown deals are rejected.
		{"deal_stage.csv:11 (hubspot deal 9002)", `dealstage history names stage "retiredstage", which is in none of the deal pipelines read (a stage deleted from its pipeline keeps its history): re-export the pipelines together with the deals`},
		{"deal_stage.csv:15 (hubspot deal 9004)", `dealstage history entry for stage "12347" has no date_entered, so when the deal entered the stage is unknown: the entry is left out of the deal's stage path; check the export of the stage history`},
		{"deal_stage.csv:16 (hubspot deal 9005)", "deal 9005 was rejected (see the rejection of its deal row), so its stage history is left out too"},
		{"deal_stage.csv:20 (hubspot deal 9999)", "deal 9999 is not in deal.csv, so its stage history belongs to no deal read: export deal.csv and deal_stage.csv at the same time"},
		{"engagement_call.csv:4 (hubspot call 7003)", `property hs_timestamp: time "soon": want RFC 3339 (2018-07-03T13:02:11Z), a date, or epoch seconds/ms/µs; fix the activity's date in HubSpot`},
		{"email_event.csv:5 (hubspot email event c1f0e3a4-0004)", "e-mail click has no recipient, so nobody can be credited with it"},
	}, rejs)
	r := got.Rejections()[0]
	require.True(t, strings.HasPrefix(r.Raw, "FALSE,2026-02-21 02:00:05,106,bad@example.com,"), r.Raw)

	locs := map[string]bool{}
	for _, row := range rowsOf(t, got, extract.TableContacts) {
		locs[row["location"].(string)] = true
	}
	require.True(t, locs["contact.csv:2"], "%v", locs)
}

// TestFivetranSeeds reads slices of Fivetran's own seed tables (testdata/fivetran-seeds).
func TestFivetranSeeds(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c, e, err := extractDir(t, mem, "testdata/fivetran-seeds")
	defer c.Release()
	require.NoError(t, err)

	contacts := byKey(rowsOf(t, c, extract.TableContacts), "contact_id")
	require.Len(t, contacts, 19, "22 contacts, 3 of them merged into 78971951")
	for _, id := range []string{"76340251", "46897301", "76226001"} {
		require.NotContains(t, contacts, id)
	}
	require.Equal(t, 3, e.Skipped())
	survivor := contacts["78971951"]
	require.Equal(t, "hubspot_contact:76340251;hubspot_contact:46897301;hubspot_contact:76226001", survivor["linked_ids"])
	require.Equal(t, "fcb67ef339b691956cc85fa12be6490c", survivor["email"])
	require.Equal(t, ts("2021-04-01T17:32:47Z"), survivor["created_at"])
	require.Equal(t, "contact_data.csv:2", survivor["location"])
	require.Equal(t, "SampleCompany", survivor["company"], "property_company")
	require.Nil(t, survivor["job_title"], "property_jobtitle is empty in the seed")

	// The seed deals have neither pipeline nor stage: none can be called won or lost.
	// The stage history (deal_stage_data.csv) is of other deals.
	require.Empty(t, rowsOf(t, c, extract.TableDeals))
	require.Empty(t, rowsOf(t, c, extract.TableDealStages))
	var dealRejections, stageRejections int
	for _, r := range c.Rejections() {
		switch file, _, _ := strings.Cut(r.Location, ":"); file {
		case "deal_data.csv":
			require.Contains(t, r.Reason, "deal has no dealstage")
			dealRejections++
		case "deal_stage_data.csv":
			require.Regexp(t, `^deal \d+ is not in deal_data.csv, so its stage history belongs to no deal read: export deal_data.csv and deal_stage_data.csv at the same time$`, r.Reason)
			require.NotEmpty(t, r.Raw)
			stageRejections++
		default:
			t.Errorf("rejection at %s: %s", r.Location, r.Reason)
		}
	}
	require.Equal(t, 8, dealRejections)
	require.Equal(t, 14, stageRejections, "every row of deal_stage_data.csv")
	first := c.Rejections()[8]
	require.Equal(t, "deal_stage_data.csv:2 (hubspot deal 3954699413)", first.Location)
	require.Equal(t, "2021-01-07 6:49:18,3954699413,TRUE,2050-01-01 00:00:00,2021-01-07 8:15:46,2021-01-07 6:49:18,2ed5fac05df5994139d16188596fab49,46693869883be3cbb31cfe143e92bfc2,f66ca9bc5a02c2f1513ce83f0a0e117d", first.Raw)
	require.Len(t, rowsOf(t, c, extract.TableDealContacts), 11)

	// One call on contact 501; the e-mail, task and meetings are on no contact, the
	// note is not read, and the e-mail events hold no click.
	ev := rowsOf(t, c, extract.TableEvents)
	require.Len(t, ev, 1)
	require.Equal(t, "hubspot_contact:501", ev[0]["crm_record"])
	require.Equal(t, "Sales: Call", ev[0]["channel"])
	require.Equal(t, time.Date(2014, 8, 27, 20, 50, 44, 778000000, time.UTC), ev[0]["occurred_at"])
	require.Equal(t, "engagement_call_data.csv:2", ev[0]["location"])
}

// TestFivetranSharedSeeds reads the whole seed folder of ../shared when present.
func TestFivetranSharedSeeds(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "data", "hubspot-fivetran-seeds")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared seeds not found at %s: %v", dir, err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c, e, err := extractDir(t, mem, dir)
	defer c.Release()
	require.NoError(t, err)
	rejected := map[string]int{}
	for _, r := range c.Rejections() {
		rejected[strings.SplitN(r.Location, ":", 2)[0]]++
	}
	// Every contact and deal row is written, skipped or rejected.
	require.Equal(t, 22, len(rowsOf(t, c, extract.TableContacts))+e.Skipped()+rejected["contact_data.csv"])
	require.Equal(t, 44, len(rowsOf(t, c, extract.TableDeals))+rejected["deal_data.csv"])
	require.Equal(t, 44, rejected["deal_data.csv"], "no seed deal has a stage")
	require.Equal(t, 14, rejected["deal_stage_data.csv"], "the stage history is of other deals")
	require.Empty(t, rowsOf(t, c, extract.TableDealStages))
	require.Len(t, rowsOf(t, c, extract.TableDealContacts), 11)
	require.Len(t, rowsOf(t, c, extract.TableEvents), 1)

	// company_data.csv: every company is an account; deal_company_data.csv links a
	// deal the seeds do not have, with a type that is not the primary one.
	acc := byKey(rowsOf(t, c, extract.TableAccounts), "account_id")
	require.Len(t, acc, 24)
	require.Equal(t, "United States", acc["2182162682"]["country"])
	require.Equal(t, "4b2c13cca3eb58ee49bbddcf00417130", acc["2182162682"]["name"])
	require.Equal(t, "company_data.csv:2", acc["2182162682"]["location"])
}

func TestFivetranErrors(t *testing.T) {
	both := copyDir(t, "testdata/fivetran")
	for _, n := range []string{ContactsFile, DealsFile} {
		b, err := os.ReadFile(filepath.Join(same, n))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(both, n), b, 0o644))
	}
	badStage := copyDir(t, "testdata/fivetran")
	require.NoError(t, os.WriteFile(filepath.Join(badStage, "deal_pipeline_stage.csv"),
		[]byte("stage_id,pipeline_id,is_closed,closed_won,probability\nclosedwon,default,TRUE,,high\n"), 0o644))
	tests := []struct {
		name string
		dir  string
		want []string
	}{
		{"no deal_contact", copyDir(t, "testdata/fivetran", "deal_contact.csv"), []string{"no deal_contact.csv", "deals cannot be tied"}},
		{"no stages", copyDir(t, "testdata/fivetran", "deal_pipeline_stage.csv"), []string{"no deal_pipeline_stage.csv", "won and lost"}},
		{"calls without links", copyDir(t, "testdata/fivetran", "engagement_contact.csv"), []string{"engagement_contact.csv", "tied to a person"}},
		{"clicks without events", copyDir(t, "testdata/fivetran", "email_event.csv"), []string{"email_event_click.csv but no email_event.csv"}},
		{"both layouts", both, []string{"both a v3 export", "keep one layout"}},
		{"unreadable stage", badStage, []string{"deal_pipeline_stage.csv:2", `stage "closedwon"`, "probability"}},
		{"empty folder", t.TempDir(), []string{"no contacts.ndjson", "Fivetran"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			c, _, err := extractDir(t, mem, tt.dir)
			defer c.Release()
			require.ErrorIs(t, err, extract.ErrConfig)
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
			require.Empty(t, c.Rejections())
			require.Zero(t, c.Rows("hubspot:"+tt.dir, extract.TableContacts))
		})
	}
}

func TestFivetranBadRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := copyDir(t, "testdata/fivetran")
	f, err := os.OpenFile(filepath.Join(dir, "deal_contact.csv"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("101,9003,\"2026-02-21 4:30:42,3,HUBSPOT_DEFINED\r\n108,9004\r\n,9004,2026-02-21 4:30:42,3,HUBSPOT_DEFINED\r\n108,9004,2026-02-21 4:30:42,3,HUBSPOT_DEFINED\r\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	c, _, err := extractDir(t, mem, dir)
	defer c.Release()
	require.NoError(t, err)
	got := map[string]string{}
	for _, r := range c.Rejections() {
		if strings.HasPrefix(r.Location, "deal_contact.csv") {
			got[r.Location] = r.Reason + " | " + r.Raw
		}
	}
	require.Len(t, got, 1, "%v", got)
	for loc, s := range got {
		// The unterminated quote swallows the rest of the file: one rejection, the raw
		// text kept as written.
		require.Equal(t, "deal_contact.csv:11", loc)
		require.Contains(t, s, "not valid CSV")
		require.Contains(t, s, `101,9003,"2026-02-21 4:30:42`)
	}

	dir2 := copyDir(t, "testdata/fivetran")
	f, err = os.OpenFile(filepath.Join(dir2, "deal_contact.csv"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("108,9004\r\n,9004,2026-02-21 4:30:42,3,HUBSPOT_DEFINED\r\n108,9004,2026-02-21 4:30:42,3,HUBSPOT_DEFINED\r\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	c2, _, err := extractDir(t, mem, dir2)
	defer c2.Release()
	require.NoError(t, err)
	reasons := map[string]string{}
	for _, r := range c2.Rejections() {
		reasons[r.Location] = r.Reason
	}
	require.Equal(t, "2 fields where the header has 5: quote fields that contain commas", reasons["deal_contact.csv:11"])
	require.Equal(t, "deal-contact link without deal_id or contact_id", reasons["deal_contact.csv:12"])
	var pairs []string
	for _, r := range rowsOf(t, c2, extract.TableDealContacts) {
		pairs = append(pairs, r["deal_id"].(string)+"-"+r["contact_id"].(string))
	}
	require.Contains(t, pairs, "9004-108", "the good row after the bad ones")
}
