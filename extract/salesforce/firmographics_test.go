package salesforce

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

// copyDir copies the files of dir into a new temporary folder, edit changing the
// text of the files it names on the way.
func copyDir(t *testing.T, dir string, edit map[string]func(string) string) string {
	t.Helper()
	out := t.TempDir()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, en := range entries {
		b, err := os.ReadFile(filepath.Join(dir, en.Name()))
		require.NoError(t, err)
		if fn := edit[en.Name()]; fn != nil {
			b = []byte(fn(string(b)))
		}
		require.NoError(t, os.WriteFile(filepath.Join(out, en.Name()), b, 0o644))
	}
	return out
}

// replace returns an edit replacing old (which must be there) with new.
func replace(t *testing.T, old, new string) func(string) string {
	return func(s string) string {
		require.Contains(t, s, old)
		return strings.Replace(s, old, new, 1)
	}
}

// TestFirmographicsFromFivetranAccounts: in Fivetran's layout a contact's company
// comes from the account table (account_id, number_of_employees, history mode). The
// seed accounts are of other contacts: two are pointed at the seed contacts' accounts.
func TestFirmographicsFromFivetranAccounts(t *testing.T) {
	mem := checkedMem(t)
	dir := copyDir(t, fivetranDir, map[string]func(string) string{"sf_account_data.csv": func(s string) string {
		// "Eric's Test" becomes the account of contact 0031G00000rfAvuQAE (a cut,
		// 17-character account_id); "Testins Opp Close", live, that of 0031G00000qAfq1QAC.
		s = replace(t, ",0015500000Xyy06AAB,", ",0011G00000f8NwQAU,")(s)
		return replace(t, ",001q0000013WMSUAA4,yCBcdjbnKNRIwndOakqUSw==,true,", ",0011G00000eNyiXQAS,yCBcdjbnKNRIwndOakqUSw==,false,")(s)
	}})
	var logs bytes.Buffer
	c, e, err := extractWith(t, Config{Dir: dir, Mem: mem, CookieField: "none", Currency: "USD", Log: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	people := byKey(t, rowsOf(t, c, extract.TableContacts), "contact_id")
	marketing := people["0031G00000qAfq1QAC"]
	require.Equal(t, "Markeing Direcor", marketing["job_title"], "title, as obfuscated in the seed")
	require.Equal(t, "Unied Saes", marketing["country"], "mailing_country")
	require.Equal(t, "Testins Opp Close", marketing["company"])
	require.Equal(t, "yCBcdjbnKNRIwndOakqUSw==", marketing["industry"])
	require.Equal(t, int64(120210), marketing["company_size"], "number_of_employees")
	insights := people["0031G00000rfAvuQAE"]
	require.Equal(t, "Eric's Test", insights["company"], "joined on the cut id as written")
	require.Nil(t, insights["industry"])
	require.Nil(t, insights["company_size"])
	require.Zero(t, e.BadCompanySizes())
	require.NotContains(t, logs.String(), "AccountId the Account export does not have")
	require.Len(t, c.Rejections(), 4, "those of TestFivetranSeeds: the accounts add none")
}

// TestBadCompanySizes: a number of employees that is no number leaves company_size
// null (a converted lead's fills it), the person is written, the value logged.
func TestBadCompanySizes(t *testing.T) {
	mem := checkedMem(t)
	dir := copyDir(t, exportDir, map[string]func(string) string{
		"Lead.csv": replace(t, `"Initech","Banking","50"`, `"Initech","Banking","fifty"`),
		"Account.csv": func(s string) string {
			s = replace(t, `"Technology","",`, `"Technology","lots",`)(s)
			return replace(t, `"Manufacturing","5400"`, `"Manufacturing","5k"`)(s)
		},
	})
	var logs bytes.Buffer
	c, e, err := extractWith(t, Config{Dir: dir, Mem: mem, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	people := byKey(t, rowsOf(t, c, extract.TableContacts), "contact_id")
	require.Len(t, people, 4, "no one is dropped for a firmographic")
	require.Nil(t, people[leadBob]["company_size"])
	require.Equal(t, "Initech", people[leadBob]["company"])
	require.Equal(t, int64(120), people[contactAnn]["company_size"], "her account's is unreadable: her lead's")
	require.Nil(t, people[contactCarol]["company_size"])
	require.Equal(t, "Globex Corporation", people[contactCarol]["company"])
	require.Len(t, c.Rejections(), 6, "those of the scenario: none for a size")
	require.Equal(t, 3, e.BadCompanySizes())
	out := logs.String()
	require.Contains(t, out, `location="Lead.csv:3 (salesforce Lead `+leadBob+`)" field=NumberOfEmployees value=fifty`)
	require.Contains(t, out, `location="Contact.csv:2 (salesforce Contact `+contactAnn+`)" field=Account.NumberOfEmployees value=lots`)
	require.Contains(t, out, `location="Contact.csv:3 (salesforce Contact `+contactCarol+`)" field=Account.NumberOfEmployees value=5k`)
	require.Contains(t, out, "records=3 logged=3")
}

// TestAccountExport: contacts naming accounts the export lacks are counted and
// logged; an account row without an id is rejected; without an Account export
// contacts get no company.
func TestAccountExport(t *testing.T) {
	mem := checkedMem(t)
	dir := copyDir(t, exportDir, map[string]func(string) string{
		"Account.csv": replace(t, `"0015g00000Acc02AAB","false","Globex Corporation"`, `"","false","Globex Corporation"`),
	})
	var logs bytes.Buffer
	c, _, err := extractWith(t, Config{Dir: dir, Mem: mem, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	people := byKey(t, rowsOf(t, c, extract.TableContacts), "contact_id")
	require.Nil(t, people[contactCarol]["company"])
	require.Equal(t, "Acme Analytics GmbH", people[contactAnn]["company"])
	require.Contains(t, logs.String(), "contacts name an AccountId the Account export does not have")
	require.Contains(t, logs.String(), "contacts=1")
	var found bool
	for _, r := range c.Rejections() {
		if r.Location == "Account.csv:3" {
			found = true
			require.Equal(t, "field Id: empty: an account without an id cannot be joined to its contacts", r.Reason)
			require.True(t, strings.HasPrefix(r.Raw, `"","false","Globex Corporation"`), r.Raw)
		}
	}
	require.True(t, found, "the account row without an id is rejected")

	dir = copyDir(t, exportDir, nil)
	require.NoError(t, os.Remove(filepath.Join(dir, "Account.csv")))
	logs.Reset()
	c, _, err = extractWith(t, Config{Dir: dir, Mem: mem, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	people = byKey(t, rowsOf(t, c, extract.TableContacts), "contact_id")
	require.Nil(t, people[contactCarol]["company"])
	require.Equal(t, "Acme Analytics", people[contactAnn]["company"], "no account: her lead's Company")
	require.Contains(t, logs.String(), "no Account export")
}
