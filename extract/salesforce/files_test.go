package salesforce

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

const fivetranDir = "testdata/fivetran"

// TestFivetranSeeds reads slices of Fivetran's dbt_salesforce seeds: snake_case
// columns, hundreds of custom fields, TRUE/FALSE, obfuscated and cut ids.
func TestFivetranSeeds(t *testing.T) {
	mem := checkedMem(t)
	c, e, err := extractWith(t, Config{Dir: fivetranDir, Mem: mem, CookieField: "none", Currency: "USD"})
	require.NoError(t, err)

	people := byKey(t, rowsOf(t, c, extract.TableContacts), "contact_id")
	require.Len(t, people, 3)
	lead := people["00Q1G00000nDnM5UAK"]
	require.Equal(t, "sf_lead_data.csv:2", lead["location"])
	require.Equal(t, "h@gmail.com", lead["email"])
	require.Equal(t, ts("2019-11-11T17:23:34Z"), lead["created_at"])
	require.Equal(t, ts("2019-11-11T17:23:34Z"), lead["sql_at"], "converted, no history: converted_date")
	require.Equal(t, "salesforce_contact:0031G00001QtDPlQAN", lead["linked_ids"], "its contact is not in the seeds")
	require.Equal(t, "Z", lead["company"])
	require.Equal(t, "Internet Software & Services", lead["industry"])
	require.Nil(t, lead["job_title"], "empty in the seed")
	require.Nil(t, lead["company_size"])
	require.Equal(t, "Markeing Direcor", people["0031G00000qAfq1QAC"]["job_title"])
	require.Equal(t, "Unied Saes", people["0031G00000qAfq1QAC"]["country"], "mailing_country")
	require.Nil(t, people["0031G00000qAfq1QAC"]["company"], "its account is not among the seed accounts")
	require.Equal(t, "Vendor Lis", people["0031G00000rfAvuQAE"]["original_source"])
	require.Equal(t, "hi@google.com", people["0031G00000qAfq1QAC"]["email"])

	require.Empty(t, rowsOf(t, c, extract.TableDeals), "the seed opportunities are all is_deleted")
	require.Empty(t, rowsOf(t, c, extract.TableDealStages), "so are those of the history-mode table")
	require.Equal(t, int64(2), e.skipped[skipDeleted].Load())
	require.Equal(t, int64(1), e.skipped[skipSuperseded].Load(), "_fivetran_active false")

	events := rowsOf(t, c, extract.TableEvents)
	require.Len(t, events, 7, "4 tasks and 3 events, each on one person")
	names := map[string]int{}
	for _, ev := range events {
		names[ev["channel"].(string)]++
		require.Equal(t, ts("2019-11-11T17:23:34Z"), ev["occurred_at"])
		require.Nil(t, ev["utm_source"], "the owner is not among the users of the slice")
	}
	require.Equal(t, map[string]int{"Sales: Task": 4, "Sales: Meeting": 3}, names)

	var locs []string
	for _, r := range c.Rejections() {
		locs = append(locs, r.Location)
		require.Contains(t, r.Reason, "characters: a Salesforce id has 15 or 18")
		require.Contains(t, r.Raw, ",") // the CSV row itself
	}
	require.ElementsMatch(t, []string{
		"sf_contact_data.csv:2 (salesforce Contact 0033700000JmrFPAA)",
		"sf_contact_data.csv:3 (salesforce Contact 0031G00000q9jPQAQ)",
		"sf_campaign_member_data.csv:2 (salesforce CampaignMember mem001AAA000001)",
		"sf_campaign_member_data.csv:5 (salesforce CampaignMember mem004AAA000004)",
	}, locs, "17-character contact ids and the hand-made 14-character ids of the campaign seeds")
}

// TestFileNames: Fivetran's table names (lead.csv) read like the seed names.
func TestFileNames(t *testing.T) {
	mem := checkedMem(t)
	dir := t.TempDir()
	entries, err := os.ReadDir(fivetranDir)
	require.NoError(t, err)
	for _, en := range entries {
		name := strings.TrimSuffix(strings.TrimPrefix(en.Name(), "sf_"), "_data.csv") + ".csv"
		copyFile(t, filepath.Join(fivetranDir, en.Name()), filepath.Join(dir, name))
	}
	require.FileExists(t, filepath.Join(dir, "campaign_member.csv"))
	seeds, _, err := extractWith(t, Config{Dir: fivetranDir, Mem: mem, CookieField: "none"})
	require.NoError(t, err)
	renamed, _, err := extractWith(t, Config{Dir: dir, Mem: mem, CookieField: "none"})
	require.NoError(t, err)
	for _, table := range []string{extract.TableContacts, extract.TableDeals, extract.TableDealContacts, extract.TableDealStages, extract.TableEvents} {
		require.Equal(t, canonical(t, seeds, table), canonical(t, renamed, table), table)
	}
	require.Len(t, renamed.Rejections(), len(seeds.Rejections()))

	// Two files for one object: refused, not guessed.
	copyFile(t, filepath.Join(fivetranDir, "sf_lead_data.csv"), filepath.Join(dir, "sf_lead_data.csv"))
	_, _, err = extractWith(t, Config{Dir: dir, Mem: mem, CookieField: "none"})
	require.ErrorIs(t, err, extract.ErrConfig)
	require.ErrorContains(t, err, "has several Lead files (lead.csv, sf_lead_data.csv): keep one")
}

func TestCookieFieldInFiles(t *testing.T) {
	mem := checkedMem(t)
	// The default field is on neither object of the seeds.
	_, _, err := extractWith(t, Config{Dir: fivetranDir, Mem: mem})
	require.ErrorIs(t, err, extract.ErrConfig)
	require.ErrorContains(t, err, "the cookie field GA_Client_ID__c (column ga_client_id_c in files) exists on neither Lead nor Contact: set CLOSEDLOOP_SALESFORCE_COOKIE_FIELD")

	// A custom field in Fivetran's spelling: gclid_c is GCLID__c.
	c, _, err := extractWith(t, Config{Dir: fivetranDir, Mem: mem, CookieField: "GCLID__c"})
	require.NoError(t, err)
	require.Len(t, rowsOf(t, c, extract.TableContacts), 3)
}

func TestBadRows(t *testing.T) {
	mem := checkedMem(t)
	dir := t.TempDir()
	copyFile(t, exportDir+"/Contact.csv", dir+"/Contact.csv")
	lead := "\ufeffId,Email,CreatedDate,IsDeleted,Status\r\n" +
		"00Q5g00000Gus07,gus@example.com,2026-01-05T10:00:00Z,false,Open\r\n" +
		"00Q5g00000Hal08,hal@example.com,2026-01-05T10:00:00Z\r\n" + // short row
		"00Q5g00000Ida09,\"ida@example.com,2026-01-05T10:00:00Z,false,Open\r\n" // unterminated quote
	require.NoError(t, os.WriteFile(dir+"/Lead.csv", []byte(lead), 0o644))
	c, _, err := extractWith(t, Config{Dir: dir, Mem: mem, CookieField: "none"})
	require.NoError(t, err)
	people := byKey(t, rowsOf(t, c, extract.TableContacts), "contact_id")
	require.Equal(t, "gus@example.com", people[sid("00Q5g00000Gus07")]["email"], "BOM stripped from the header")
	rej := c.Rejections()
	require.Len(t, rej, 2)
	require.Equal(t, "Lead.csv:3", rej[0].Location)
	require.Contains(t, rej[0].Reason, "row has 3 fields, the header 5")
	require.Equal(t, "00Q5g00000Hal08,hal@example.com,2026-01-05T10:00:00Z", rej[0].Raw)
	require.Equal(t, "Lead.csv:4", rej[1].Location)
	require.Contains(t, rej[1].Reason, "not valid CSV")
	require.Contains(t, rej[1].Raw, "00Q5g00000Ida09")
}

func TestMissingColumn(t *testing.T) {
	mem := checkedMem(t)
	dir := t.TempDir()
	copyFile(t, exportDir+"/Contact.csv", dir+"/Contact.csv")
	require.NoError(t, os.WriteFile(dir+"/Lead.csv", []byte("Id,Email\n00Q5g00000Gus07,gus@example.com\n"), 0o644))
	_, _, err := extractWith(t, Config{Dir: dir, Mem: mem, CookieField: "none"})
	require.ErrorIs(t, err, extract.ErrConfig)
	require.ErrorContains(t, err, "Lead.csv has no column CreatedDate (or created_date): the Lead export needs it")
}

// TestRealSeeds reads the whole seed folder in ../shared when it is there.
func TestRealSeeds(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "data", "salesforce-fivetran-seeds")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("no ../shared/data/salesforce-fivetran-seeds:", err)
	}
	mem := checkedMem(t)
	c, e, err := extractWith(t, Config{Dir: dir, Mem: mem, CookieField: "none", Currency: "USD"})
	require.NoError(t, err)
	require.Len(t, rowsOf(t, c, extract.TableContacts), 3, "1 lead, 2 of 4 contacts (2 have 17-character ids)")
	require.Empty(t, rowsOf(t, c, extract.TableDeals), "every seed opportunity is is_deleted")
	acc := rowsOf(t, c, extract.TableAccounts)
	require.Len(t, acc, 1, "10 accounts, 9 of them is_deleted")
	require.Equal(t, "Eric's Test", acc[0]["name"])
	require.Equal(t, sid("0015500000Xyy06"), acc[0]["account_id"])
	for _, p := range rowsOf(t, c, extract.TableContacts) {
		require.Nil(t, p["account_id"], "no seed contact is at the account the seeds keep")
	}
	require.Empty(t, rowsOf(t, c, extract.TableDealStages), "the 10 history versions are of those")
	require.Equal(t, 10, e.Skipped(), "9 deleted opportunities, 1 superseded version")
	events := rowsOf(t, c, extract.TableEvents)
	require.Len(t, events, 20, "10 closed tasks, 10 events")
	teams := 0
	for _, ev := range events {
		rec := ev["crm_record"].(string)
		typ, id, _ := strings.Cut(rec, ":")
		require.Equal(t, personType(id), typ)
		n, err := ID18(id)
		require.NoError(t, err)
		require.Equal(t, n, id)
		if ev["utm_source"] != nil {
			teams++
		}
	}
	require.Zero(t, teams, "the seed users' roles are obfuscated and no owner of an activity is among them")
	require.Len(t, c.Rejections(), 4)
}
