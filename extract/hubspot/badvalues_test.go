package hubspot

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/extract/extracttest"
)

// runStart is the run start of the tests of implausible values.
var runStart = time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)

// appendLines appends lines to file name of dir and returns the line number of the
// first of them.
func appendLines(t *testing.T, dir, name string, lines ...string) int {
	t.Helper()
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	first := bytes.Count(b, []byte("\n")) + 1
	for _, l := range lines {
		b = append(append(b, l...), '\n')
	}
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return first
}

// extractAt extracts dir with the run started at runStart.
func extractAt(t *testing.T, mem memory.Allocator, dir string) *extract.Collector {
	t.Helper()
	c := extract.NewCollector(mem)
	e := New(Config{Spec: "hubspot:" + dir, Dir: dir, Mem: mem, CookieProperty: "ga_client_id", Currency: "eur", Now: runStart})
	require.NoError(t, e.Extract(context.Background(), c))
	return c
}

// line names line n of file.
func line(file string, n int) string { return file + ":" + strconv.Itoa(n) }

func TestBadTextRejectedNDJSON(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := copyDir(t, same)
	n := appendLines(t, dir, ContactsFile,
		`{"id":"201","properties":{"email":"caf`+"\xe9"+`@example.com","createdate":"2026-01-05T10:00:00Z"}}`,
		`{"id":"202","properties":{"email":"nul\u0000@example.com"}}`,
		`{"id":"203","properties":{"email":"m@example.com","company":"M`+"\xfc"+`ller \"GmbH\""}}`,
		`{"id":"2`+"\xe9"+`4","properties":{"email":"id@example.com"}}`,
		`{"id":"205","properties":{"email":"ok@example.com","company":"Müller \"GmbH\""}}`,
	)
	d := appendLines(t, dir, DealsFile,
		`{"id":"9101","properties":{"dealname":"Caf`+"\xe9"+` deal","amount":"10","pipeline":"default","dealstage":"closedwon","createdate":"2026-01-01T00:00:00Z","closedate":"2026-02-01T00:00:00Z"}}`,
		`{"id":"9102","properties":{"dealname":"NUL\u0000 deal","amount":"10","pipeline":"default","dealstage":"closedwon","createdate":"2026-01-01T00:00:00Z","closedate":"2026-02-01T00:00:00Z"}}`,
	)
	ev := appendLines(t, dir, EmailCampaignsFile, `{"id":309,"name":"Caf`+"\xe9"+` news"}`)
	_ = ev
	e := appendLines(t, dir, EmailEventsFile,
		`{"id":"bad-campaign","type":"CLICK","created":1767780000000,"emailCampaignId":309,"recipient":"ann@example.com","url":"https://www.example.com/"}`,
		`{"id":"bad-url","type":"CLICK","created":1767780000000,"emailCampaignId":301,"recipient":"ann@example.com","url":"https://www.example.com/\u0000"}`,
	)
	c := extractAt(t, mem, dir)
	defer c.Release()
	extracttest.RequireRejected(t, c.Rejections(), map[string]string{
		line(ContactsFile, n) + " (hubspot contact 201)":                 "property email is not valid UTF-8 (byte 0xe9 at offset 3)",
		line(ContactsFile, n+1) + " (hubspot contact 202)":               "property email holds a NUL byte at offset 3",
		line(ContactsFile, n+2) + " (hubspot contact 203)":               "property company is not valid UTF-8 (byte 0xfc at offset 1)",
		line(ContactsFile, n+3):                                          "id is not valid UTF-8",
		line(DealsFile, d) + " (hubspot deal 9101)":                      "property dealname is not valid UTF-8 (byte 0xe9 at offset 3)",
		line(DealsFile, d+1) + " (hubspot deal 9102)":                    "property dealname holds a NUL byte",
		line(EmailEventsFile, e) + " (hubspot email event bad-campaign)": "e-mail campaign name (utm_campaign) is not valid UTF-8",
		line(EmailEventsFile, e+1) + " (hubspot email event bad-url)":    "clicked URL holds a NUL byte",
	})
	contacts := byKey(rowsOf(t, c, extract.TableContacts), "contact_id")
	for _, id := range []string{"201", "202", "203"} {
		require.NotContains(t, contacts, id)
	}
	require.Equal(t, "Müller \"GmbH\"", contacts["205"]["company"], "the rows after the bad ones are read")
	require.Contains(t, contacts, "101")
	deals := byKey(rowsOf(t, c, extract.TableDeals), "deal_id")
	require.NotContains(t, deals, "9101")
	require.NotContains(t, deals, "9102")
	require.Contains(t, deals, "9001")
}

func TestBadTextRejectedFivetran(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := copyDir(t, "testdata/fivetran")
	row := func(id, email string) string {
		return "FALSE,2026-02-21 02:00:05," + id + "," + email + ",2026-01-05 10:00:00.000" + strings.Repeat(",", 21)
	}
	n := appendLines(t, dir, "contact.csv", row("301", "caf\xe9@example.com"), row("302", "nul\x00@example.com"), row("303", "fine@example.com"))
	d := appendLines(t, dir, "deal.csv", "9201,false,default,closedwon,41629779,62515,Caf\xe9 deal,,10,2026-02-18 16:45:00.000,2026-01-22 11:00:00.000,usd,")
	c := extractAt(t, mem, dir)
	defer c.Release()
	extracttest.RequireRejected(t, c.Rejections(), map[string]string{
		line("contact.csv", n) + " (hubspot contact 301)":   "property email is not valid UTF-8 (byte 0xe9 at offset 3)",
		line("contact.csv", n+1) + " (hubspot contact 302)": "property email holds a NUL byte at offset 3",
		line("deal.csv", d) + " (hubspot deal 9201)":        "property dealname is not valid UTF-8",
	})
	contacts := byKey(rowsOf(t, c, extract.TableContacts), "contact_id")
	require.NotContains(t, contacts, "301")
	require.NotContains(t, contacts, "302")
	require.Equal(t, "fine@example.com", contacts["303"]["email"])
	require.NotContains(t, byKey(rowsOf(t, c, extract.TableDeals), "deal_id"), "9201")
}

func TestBadLabelsRejectDeals(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := copyDir(t, "testdata/fivetran")
	appendLines(t, dir, "deal_pipeline_stage.csv", "FALSE,2026-02-21 02:00:05.054,TRUE,FALSE,FALSE,9,0.5,lat1,Qualifi\xe9,default,,")
	d := appendLines(t, dir, "deal.csv", "9202,false,default,lat1,41629779,62515,Latin stage,,10,,2026-01-22 11:00:00.000,usd,")
	c := extractAt(t, mem, dir)
	defer c.Release()
	extracttest.RequireRejected(t, c.Rejections(), map[string]string{
		line("deal.csv", d) + " (hubspot deal 9202)": "the deal's stage: deal_pipeline_stage.label is not valid UTF-8",
	})
	require.Contains(t, byKey(rowsOf(t, c, extract.TableDeals), "deal_id"), "9001", "deals in other stages are read")
}

func TestImplausibleValuesRejected(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := copyDir(t, same)
	deal := func(id, amount, closedate, stage string) string {
		return `{"id":"` + id + `","properties":{"dealname":"D` + id + `","amount":` + amount + `,"pipeline":"default","dealstage":"` + stage +
			`","createdate":"2026-01-01T00:00:00Z","closedate":` + closedate + `}}`
	}
	d := appendLines(t, dir, DealsFile,
		deal("9301", `"-100"`, `"2026-02-01T00:00:00Z"`, "closedwon"),
		deal("9302", `"1e308"`, `"2026-02-01T00:00:00Z"`, "closedwon"),
		deal("9303", `"10"`, `"9999-12-31T00:00:00Z"`, "closedwon"),
		deal("9304", `"10"`, `"1970-01-01T00:00:00Z"`, "closedlost"),
		deal("9305", `""`, `"2026-02-01T00:00:00Z"`, "closedwon"),
		deal("9306", `null`, `"9999-12-31T00:00:00Z"`, "appointmentscheduled"),
		`{"id":"9307","properties":{"dealname":"D","amount":"5","pipeline":"default","dealstage":"closedwon","createdate":"2026-01-01T00:00:00Z","closedate":"2026-02-01T00:00:00Z"},`+
			`"propertiesWithHistory":{"dealstage":[{"value":"closedwon","timestamp":"2026-02-01T00:00:00Z"},{"value":"appointmentscheduled","timestamp":"1970-01-01T00:00:00Z"}]}}`,
	)
	n := appendLines(t, dir, ContactsFile,
		`{"id":"401","properties":{"email":"old@example.com","createdate":"1970-01-01T00:00:00Z"}}`,
		`{"id":"402","properties":{"email":"future@example.com","createdate":"9999-12-31T00:00:00Z"}}`,
		`{"id":"403","properties":{"email":"epoch@example.com"},"createdAt":"0"}`,
	)
	c := extractAt(t, mem, dir)
	defer c.Release()
	extracttest.RequireRejected(t, c.Rejections(), map[string]string{
		line(DealsFile, d) + " (hubspot deal 9301)":        "property amount is negative (-100)",
		line(DealsFile, d+1) + " (hubspot deal 9302)":      "property amount is 1e+308, above the plausible 1e+12",
		line(DealsFile, d+2) + " (hubspot deal 9303)":      "property closedate 9999-12-31T00:00:00Z is after the run's start",
		line(DealsFile, d+3) + " (hubspot deal 9304)":      "property closedate 1970-01-01T00:00:00Z is before 2000-01-01",
		line(DealsFile, d+6) + " (hubspot deal 9307)":      "dealstage history timestamp 1970-01-01T00:00:00Z is before 2000-01-01",
		line(ContactsFile, n) + " (hubspot contact 401)":   "createdate 1970-01-01T00:00:00Z is before 2000-01-01",
		line(ContactsFile, n+1) + " (hubspot contact 402)": "createdate 9999-12-31T00:00:00Z is after the run's start",
		line(ContactsFile, n+2) + " (hubspot contact 403)": "createdate 1970-01-01T00:00:00Z is before 2000-01-01",
	})
	deals := byKey(rowsOf(t, c, extract.TableDeals), "deal_id")
	for _, id := range []string{"9301", "9302", "9303", "9304"} {
		require.NotContains(t, deals, id)
	}
	require.Contains(t, deals, "9305")
	require.Nil(t, deals["9305"]["amount"], "an empty amount is unknown, not rejected")
	require.Contains(t, deals, "9306", "an open deal's closedate is a forecast, not checked")
	require.Contains(t, deals, "9307", "a bad history entry leaves the deal")
	contacts := byKey(rowsOf(t, c, extract.TableContacts), "contact_id")
	require.NotContains(t, contacts, "401")
	require.Contains(t, contacts, "101")
}
