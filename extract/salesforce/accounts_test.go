package salesforce

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

// TestAccounts reads the hand-made org through the API, as a Data Export folder and
// from DuckDB: Account rows (Website as a domain, OwnerId as the owner's name; the
// deleted account left out) and the account_id of contacts (AccountId, a 15-character
// one among them), of a converted lead whose contact is not read
// (ConvertedAccountId) and of opportunities (AccountId; one naming the deleted
// account gets none).
func TestAccounts(t *testing.T) {
	acc01, acc02 := sid("0015g00000Acc01"), sid("0015g00000Acc02")
	wantAccounts := map[string]map[string]any{
		acc01: {"name": "Acme Analytics GmbH", "domain": "acme-analytics.de", "industry": "Technology", "company_size": nil, "country": "Germany", "owner": "Sam Seller"},
		acc02: {"name": "Globex Corporation", "domain": "globex.com", "industry": "Manufacturing", "company_size": int64(5400), "country": "United States", "owner": nil},
	}
	wantPeople := map[string]any{contactAnn: acc01, contactCarol: acc02, leadEve: acc02, leadBob: nil}
	wantDeals := map[string]any{oppWon: acc01, oppOpen: acc02, oppLost: nil}
	forms := map[string]func(t *testing.T) *extract.Collector{
		"api": func(t *testing.T) *extract.Collector {
			c, _, err := extractWith(t, apiConfig(newFakeOrg(t, apiToken), checkedMem(t), io.Discard))
			require.NoError(t, err)
			return c
		},
		"export folder": func(t *testing.T) *extract.Collector {
			c, _, err := extractWith(t, Config{Dir: exportDir, Mem: checkedMem(t), Currency: "USD"})
			require.NoError(t, err)
			return c
		},
		"duckdb": func(t *testing.T) *extract.Collector {
			src := loadTables(t, "duckdb", exportDir).Open(t)
			c, _, err := extractWith(t, Config{Source: src, Mem: checkedMem(t), Currency: "USD"})
			require.NoError(t, err)
			return c
		},
	}
	for _, name := range []string{"api", "export folder", "duckdb"} {
		t.Run(name, func(t *testing.T) {
			c := forms[name](t)
			acc := byKey(t, rowsOf(t, c, extract.TableAccounts), "account_id")
			for id, r := range acc {
				require.Equal(t, "salesforce", r["crm"])
				require.NotEmpty(t, r["location"])
				for _, col := range []string{"input", "location", "crm", "account_id"} {
					delete(r, col)
				}
				acc[id] = r
			}
			require.Equal(t, wantAccounts, acc)
			people := byKey(t, rowsOf(t, c, extract.TableContacts), "contact_id")
			for id, want := range wantPeople {
				require.Contains(t, people, id)
				require.Equal(t, want, people[id]["account_id"], id)
			}
			deals := byKey(t, rowsOf(t, c, extract.TableDeals), "deal_id")
			for id, want := range wantDeals {
				require.Contains(t, deals, id)
				require.Equal(t, want, deals[id]["account_id"], id)
			}
		})
	}
}
