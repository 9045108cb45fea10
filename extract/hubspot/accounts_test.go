package hubspot

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

// accounts is the v3 export folder of the account tests: companies (one with another
// merged into it, one archived, one with an unreadable size), contacts naming their
// primary company in associatedcompanyid (merged, archived, unknown and no company
// among them) and deals with their company associations (primary among others, an
// archived one, a merged one, one without association types, none).
const accounts = "testdata/accounts"

// Expected rows of testdata/accounts.
var (
	wantAccounts = map[string]map[string]any{
		"501": {"name": "Acme Corp", "domain": "acme.com", "industry": "COMPUTER_SOFTWARE", "company_size": int64(250), "country": "Germany", "owner": "Ada Lovelace"},
		"502": {"name": "Globex", "domain": "globex.io", "industry": "FINANCIAL_SERVICES", "company_size": int64(1000), "country": "United States", "owner": nil},
		"506": {"name": "Umbrella", "domain": "umbrella.example", "industry": nil, "company_size": nil, "country": nil, "owner": nil},
	}
	// "" is a null account_id.
	wantContactAccounts = map[string]string{"11": "501", "12": "501", "13": "", "15": "", "16": "502", "17": "", "18": "506"}
	wantDealAccounts    = map[string]string{"21": "501", "22": "", "23": "", "24": "502", "25": "501"}
)

// accountsOf returns the accounts, and the account_id of every contact and deal, of
// an Extract.
func accountsOf(t *testing.T, x extracted) (acc map[string]map[string]any, contacts, deals map[string]string) {
	t.Helper()
	acc = map[string]map[string]any{}
	for _, r := range rowsOf(t, x.c, extract.TableAccounts) {
		require.Equal(t, "hubspot", r["crm"])
		id := r["account_id"].(string)
		require.NotContains(t, acc, id, "one row per account")
		for _, c := range []string{"input", "location", "crm", "account_id"} {
			delete(r, c)
		}
		acc[id] = r
	}
	ids := func(table, key string) map[string]string {
		out := map[string]string{}
		for _, r := range rowsOf(t, x.c, table) {
			a, _ := r["account_id"].(string)
			out[r[key].(string)] = a
		}
		return out
	}
	return acc, ids(extract.TableContacts, "contact_id"), ids(extract.TableDeals, "deal_id")
}

// TestAccountsEveryForm reads testdata/accounts as a v3 folder, through a fake
// HubSpot API, as Fivetran's tables in a CSV folder (hubspot.WriteFivetran) and from
// DuckDB: the same accounts, and contacts and deals name the same ones.
func TestAccountsEveryForm(t *testing.T) {
	ft := filepath.Join(t.TempDir(), "fivetran")
	require.NoError(t, WriteFivetran(context.Background(), accounts, ft))
	for _, f := range []string{"company.csv", "deal_company.csv"} {
		require.FileExists(t, filepath.Join(ft, f))
	}
	forms := map[string]func(t *testing.T) extracted{
		"v3 folder": func(t *testing.T) extracted {
			x, err := extractWith(t, checkedMem(t), Config{Spec: "hubspot:x", Dir: accounts})
			require.NoError(t, err)
			return x
		},
		"api": func(t *testing.T) extracted {
			f, srv := newFake(t, accounts)
			a := extractAPI(t, checkedMem(t), f, srv, nil)
			t.Cleanup(a.c.Release)
			require.NoError(t, a.err)
			require.NotEmpty(t, f.calls("GET", "/crm/v3/objects/companies"))
			require.NotEmpty(t, f.calls("POST", "/crm/v4/associations/deals/companies/batch/read"))
			return extracted{c: a.c, tables: a.e.Tables(), skipped: a.e.Skipped(), sizes: a.e.BadCompanySizes()}
		},
		"fivetran folder": func(t *testing.T) extracted {
			x, err := extractWith(t, checkedMem(t), Config{Spec: "hubspot:x", Dir: ft})
			require.NoError(t, err)
			return x
		},
		"duckdb": func(t *testing.T) extracted {
			src := loadFivetran(t, "duckdb", ft).Open(t)
			x, err := extractWith(t, checkedMem(t), Config{Spec: "hubspot:x", Source: src})
			require.NoError(t, err)
			return x
		},
	}
	for _, name := range []string{"v3 folder", "api", "fivetran folder", "duckdb"} {
		t.Run(name, func(t *testing.T) {
			x := forms[name](t)
			require.Empty(t, x.c.Rejections())
			require.Contains(t, x.tables, extract.TableAccounts)
			acc, contacts, deals := accountsOf(t, x)
			require.Equal(t, wantAccounts, acc)
			require.Equal(t, wantContactAccounts, contacts)
			require.Equal(t, wantDealAccounts, deals)
			require.Equal(t, 1, x.sizes, `company 506's numberofemployees "lots"`)
		})
	}
}

// TestAccountsFivetranContactCompany: contact_company's primary links (type_id 1)
// decide a contact's account over its associatedcompanyid, other links only when it
// has none; a link without company_id is rejected where it is.
func TestAccountsFivetranContactCompany(t *testing.T) {
	ft := filepath.Join(t.TempDir(), "fivetran")
	require.NoError(t, WriteFivetran(context.Background(), accounts, ft))
	require.NoError(t, os.WriteFile(filepath.Join(ft, "contact_company.csv"), []byte(
		"contact_id,company_id,type_id,category,_fivetran_deleted\n"+
			"15,502,279,HUBSPOT_DEFINED,false\n"+ // no property: the plain link
			"11,502,279,HUBSPOT_DEFINED,false\n"+ // the property wins over a plain link
			"17,501,1,HUBSPOT_DEFINED,false\n"+ // a primary link wins over the property
			"16,501,1,HUBSPOT_DEFINED,true\n"+ // deleted
			"18,,1,HUBSPOT_DEFINED,false\n"), 0o644))
	for _, kind := range []string{"folder", "duckdb"} {
		t.Run(kind, func(t *testing.T) {
			cfg := Config{Spec: "hubspot:x", Dir: ft}
			if kind == "duckdb" {
				cfg = Config{Spec: "hubspot:x", Source: loadFivetran(t, "duckdb", ft).Open(t)}
			}
			x, err := extractWith(t, checkedMem(t), cfg)
			require.NoError(t, err)
			_, contacts, _ := accountsOf(t, x)
			require.Equal(t, map[string]string{"11": "501", "12": "501", "13": "", "15": "502", "16": "502", "17": "501", "18": "506"}, contacts)
			rej := x.c.Rejections()
			require.Len(t, rej, 1)
			require.Equal(t, "contact-company link without contact_id or company_id", rej[0].Reason)
			require.Regexp(t, `contact_company(\.csv:6| row 5)`, rej[0].Location)
		})
	}
}

// TestAccountsBadValues: a company whose text cannot be stored or without an id is
// rejected where it is, and links to it are dropped; a contact whose
// associatedcompanyid cannot be stored is rejected as its other properties are; a
// bad deal-company association line is rejected whole.
func TestAccountsBadValues(t *testing.T) {
	dir := copyDir(t, accounts)
	appendLines := func(name string, lines ...string) {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		for _, l := range lines {
			_, err = f.WriteString(l + "\n")
			require.NoError(t, err)
		}
		require.NoError(t, f.Close())
	}
	appendLines(CompaniesFile,
		`{"id":"507","properties":{"name":"NUL\u0000 Inc","hs_object_id":"507"},"archived":false}`,
		`{"properties":{"name":"No id"},"archived":false}`,
		`{"id":"508","properties":{"name":"Bad merge","hs_merged_object_ids":"5\u00009"},"archived":false}`)
	appendLines(ContactsFile,
		`{"id":"19","properties":{"email":"hal@nul.example","associatedcompanyid":"50\u00007"},"archived":false}`,
		`{"id":"20","properties":{"email":"ida@nul.example","associatedcompanyid":"507"},"archived":false}`)
	appendLines(DealCompaniesFile, `{"from":{"id":"23"},"to":[{"associationTypes":[]}]}`, `not json`)
	x, err := extractWith(t, checkedMem(t), Config{Spec: "hubspot:x", Dir: dir})
	require.NoError(t, err)
	got := map[string]string{}
	for _, r := range x.c.Rejections() {
		got[r.Location] = r.Reason
	}
	require.Equal(t, map[string]string{
		"companies.ndjson:5 (hubspot company 507)":  "property name holds a NUL byte at offset 3: the warehouse cannot store it; fix the export; its contacts and deals get no account",
		"companies.ndjson:6":                        "company has no id",
		"companies.ndjson:7 (hubspot company 508)":  "property hs_merged_object_ids holds a NUL byte at offset 1: the warehouse cannot store it; fix the export; its contacts and deals get no account",
		"contacts.ndjson:8 (hubspot contact 19)":    "property associatedcompanyid holds a NUL byte at offset 2: the warehouse cannot store it; fix the export",
		"deal_companies.ndjson:5 (hubspot deal 23)": "association target has no toObjectId (the company id)",
		"deal_companies.ndjson:6":                   "invalid JSON: invalid character 'o' in literal null (expecting 'u')",
	}, got)
	acc, contacts, deals := accountsOf(t, x)
	require.Equal(t, wantAccounts, acc)
	require.Equal(t, "", contacts["20"], "company 507 was rejected")
	require.Equal(t, wantDealAccounts, deals)
}

// FuzzAccountsFolder fuzzes a v3 folder's companies and deal-company associations:
// no panic, no value a warehouse cannot store.
func FuzzAccountsFolder(f *testing.F) {
	dir := fuzzFolder(f, accounts)
	companies, links := seeds(f, CompaniesFile, accounts), seeds(f, DealCompaniesFile, accounts)
	f.Add(companies[0], links[0])
	f.Add([]byte(`{"id":"1","properties":{"name":"caf`+"\xe9"+`","domain":"\u0000","numberofemployees":"-5","hs_merged_object_ids":"1;1;;2"}}`+"\n"+`{"id":"2","properties":{"hs_merged_object_ids":"1"}}`),
		[]byte(`{"from":{"id":"21"},"to":[{"toObjectId":1,"associationTypes":[{"typeId":"x"}]},{"id":"2"}]}`))
	f.Fuzz(func(t *testing.T, companies, links []byte) {
		fuzzExtract(t, dir, map[string][]byte{CompaniesFile: companies, DealCompaniesFile: links})
	})
}

// FuzzAccountsFivetran fuzzes Fivetran's company and contact_company tables.
func FuzzAccountsFivetran(f *testing.F) {
	ft := filepath.Join(f.TempDir(), "fivetran")
	if err := WriteFivetran(context.Background(), accounts, ft); err != nil {
		f.Fatal(err)
	}
	dir := fuzzFolder(f, ft)
	company := seeds(f, "company.csv", ft)
	f.Add(company[0], []byte("contact_id,company_id,type_id\n11,502,1\n"))
	f.Add([]byte("id,property_name,property_numberofemployees,property_hs_merged_object_ids\n1,caf\xe9,1-,2\n2,\x00,,1\n"),
		[]byte("contact_id,company_id,type_id,category\n11,1,1,USER_DEFINED\n\"\",,\n"))
	f.Fuzz(func(t *testing.T, company, contactCompany []byte) {
		fuzzExtract(t, dir, map[string][]byte{"company.csv": company, "contact_company.csv": contactCompany})
	})
}
