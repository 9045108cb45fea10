package salesforce

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/extract/extracttest"
)

// runStart is the run start of the tests of implausible values.
var runStart = time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)

// appendRows appends rows to CSV file name of dir, each given by column as its
// header names them, and returns the line number of the first.
func appendRows(t *testing.T, dir, name string, rows ...map[string]string) int {
	t.Helper()
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	head, _, _ := strings.Cut(string(b), "\n")
	cols := strings.Split(strings.TrimSpace(head), ",")
	if !bytes.HasSuffix(b, []byte("\n")) {
		b = append(b, '\n')
	}
	first := bytes.Count(b, []byte("\n")) + 1
	for _, row := range rows {
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = `"` + row[strings.Trim(c, `"`)] + `"`
		}
		b = append(b, strings.Join(cells, ",")+"\r\n"...)
	}
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return first
}

func at(file string, n int) string { return file + ":" + strconv.Itoa(n) }

func TestBadTextRejectedFiles(t *testing.T) {
	mem := checkedMem(t)
	dir := copyDir(t, exportDir, nil)
	lead := func(id, email, company string) map[string]string {
		return map[string]string{"Id": id, "IsDeleted": "false", "Email": email, "CreatedDate": "2026-01-05T10:00:00.000Z",
			"Status": "Open", "IsConverted": "false", "Company": company}
	}
	l := appendRows(t, dir, "Lead.csv",
		lead("00Q5g00000Lat01", "caf\xe9@example.com", "Acme"),
		lead("00Q5g00000Lat02", "nul\x00@example.com", "Acme"),
		lead("00Q5g00000Lat03", "mueller@example.com", "M\xfcller GmbH"),
		lead("00Q5g\xe90000Lat04", "id@example.com", "Acme"),
		lead("00Q5g00000Lat05", "fine@example.com", "Müller GmbH"),
	)
	o := appendRows(t, dir, "Opportunity.csv", map[string]string{"Id": "0065g00000Lat01", "IsDeleted": "false", "Name": "Caf\xe9 deal",
		"StageName": "Closed Won", "Amount": "10", "CloseDate": "2026-02-18", "IsClosed": "true", "IsWon": "true", "CreatedDate": "2026-01-20T12:00:00.000Z"})
	cp := appendRows(t, dir, "Campaign.csv", map[string]string{"Id": "7015g00000Lat01", "Name": "Caf\xe9 campaign", "Type": "Webinar", "IsDeleted": "false"})
	c, _, err := extractWith(t, Config{Dir: dir, Mem: mem, Currency: "USD", Now: runStart})
	require.NoError(t, err)
	extracttest.RequireRejected(t, c.Rejections(), map[string]string{
		at("Lead.csv", l) + " (salesforce Lead 00Q5g00000Lat01)":   "field Email is not valid UTF-8 (byte 0xe9 at offset 3)",
		at("Lead.csv", l+1) + " (salesforce Lead 00Q5g00000Lat02)": "field Email holds a NUL byte at offset 3",
		at("Lead.csv", l+2) + " (salesforce Lead 00Q5g00000Lat03)": "field Company is not valid UTF-8 (byte 0xfc at offset 1)",
		at("Lead.csv", l+3): "field Id is not valid UTF-8",
		at("Opportunity.csv", o) + " (salesforce Opportunity 0065g00000Lat01)": "field Name is not valid UTF-8",
		at("Campaign.csv", cp) + " (salesforce Campaign 7015g00000Lat01)":      "field Name is not valid UTF-8",
	})
	people := byKey(t, rowsOf(t, c, extract.TableContacts), "contact_id")
	for _, id := range []string{"00Q5g00000Lat01", "00Q5g00000Lat02", "00Q5g00000Lat03"} {
		require.NotContains(t, people, sid(id))
	}
	require.Equal(t, "Müller GmbH", people[sid("00Q5g00000Lat05")]["company"], "the rows after the bad ones are read")
	require.Contains(t, people, leadBob)
	deals := byKey(t, rowsOf(t, c, extract.TableDeals), "deal_id")
	require.NotContains(t, deals, sid("0065g00000Lat01"))
	require.Contains(t, deals, oppWon)
}

func TestBadTextRejectedAPI(t *testing.T) {
	mem := checkedMem(t)
	org := newFakeOrg(t, apiToken)
	org.objects["Opportunity"].Records[0]["Name"] = "NUL\x00 deal"
	org.objects["Lead"].Records[1]["Company"] = "Acme\x00"
	cfg := apiConfig(org, mem, io.Discard)
	cfg.Now = runStart
	c, _, err := extractWith(t, cfg)
	require.NoError(t, err)
	extracttest.RequireRejected(t, c.Rejections(), map[string]string{
		"salesforce Opportunity " + oppWon: "field Name holds a NUL byte at offset 3",
		"salesforce Lead " + leadBob:       "field Company holds a NUL byte at offset 4",
	})
	deals := byKey(t, rowsOf(t, c, extract.TableDeals), "deal_id")
	require.NotContains(t, deals, oppWon)
	require.Contains(t, deals, oppLost)
}

func TestImplausibleValuesRejected(t *testing.T) {
	mem := checkedMem(t)
	dir := copyDir(t, exportDir, nil)
	opp := func(id, amount, closeDate string, closed bool) map[string]string {
		return map[string]string{"Id": id, "IsDeleted": "false", "Name": "D", "StageName": "Closed Won", "Amount": amount, "CloseDate": closeDate,
			"IsClosed": strconv.FormatBool(closed), "IsWon": strconv.FormatBool(closed), "CreatedDate": "2026-01-20T12:00:00.000Z"}
	}
	o := appendRows(t, dir, "Opportunity.csv",
		opp("0065g00000Imp01", "-100", "2026-02-18", true),
		opp("0065g00000Imp02", "1e308", "2026-02-18", true),
		opp("0065g00000Imp03", "10", "9999-12-31", true),
		opp("0065g00000Imp04", "10", "1970-01-01", true),
		opp("0065g00000Imp05", "", "2026-02-18", true),
		opp("0065g00000Imp06", "10", "9999-12-31", false),
	)
	h := appendRows(t, dir, "OpportunityHistory.csv", map[string]string{"Id": "0085g00000Imp01", "OpportunityId": "0065g00000Imp05",
		"StageName": "Prospecting", "CreatedDate": "1970-01-01T00:00:00.000Z", "IsDeleted": "false"})
	l := appendRows(t, dir, "Lead.csv",
		map[string]string{"Id": "00Q5g00000Imp01", "IsDeleted": "false", "Email": "old@example.com", "CreatedDate": "1970-01-01T00:00:00.000Z"},
		map[string]string{"Id": "00Q5g00000Imp02", "IsDeleted": "false", "Email": "new@example.com", "CreatedDate": "9999-12-31T00:00:00.000Z"},
	)
	c, _, err := extractWith(t, Config{Dir: dir, Mem: mem, Currency: "USD", Now: runStart})
	require.NoError(t, err)
	extracttest.RequireRejected(t, c.Rejections(), map[string]string{
		at("Opportunity.csv", o) + " (salesforce Opportunity 0065g00000Imp01)":               "field Amount is negative (-100)",
		at("Opportunity.csv", o+1) + " (salesforce Opportunity 0065g00000Imp02)":             "field Amount is 1e+308, above the plausible 1e+12",
		at("Opportunity.csv", o+2) + " (salesforce Opportunity 0065g00000Imp03)":             "field CloseDate 9999-12-31T00:00:00Z is after the run's start",
		at("Opportunity.csv", o+3) + " (salesforce Opportunity 0065g00000Imp04)":             "field CloseDate 1970-01-01T00:00:00Z is before 2000-01-01",
		at("OpportunityHistory.csv", h) + " (salesforce OpportunityHistory 0085g00000Imp01)": "field CreatedDate 1970-01-01T00:00:00Z is before 2000-01-01",
		at("Lead.csv", l) + " (salesforce Lead 00Q5g00000Imp01)":                             "field CreatedDate 1970-01-01T00:00:00Z is before 2000-01-01",
		at("Lead.csv", l+1) + " (salesforce Lead 00Q5g00000Imp02)":                           "field CreatedDate 9999-12-31T00:00:00Z is after the run's start",
	})
	deals := byKey(t, rowsOf(t, c, extract.TableDeals), "deal_id")
	for _, id := range []string{"0065g00000Imp01", "0065g00000Imp02", "0065g00000Imp03", "0065g00000Imp04"} {
		require.NotContains(t, deals, sid(id))
	}
	require.Nil(t, deals[sid("0065g00000Imp05")]["amount"], "an empty amount is unknown, not rejected")
	require.Contains(t, deals, sid("0065g00000Imp06"), "an open opportunity's CloseDate is a forecast, not checked")
	people := byKey(t, rowsOf(t, c, extract.TableContacts), "contact_id")
	require.NotContains(t, people, sid("00Q5g00000Imp01"))
	require.NotContains(t, people, sid("00Q5g00000Imp02"))
}
