package hubspot

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

// canonical returns the rows of a table as sorted strings, without the location
// column (a file line in one mode, the API object in the other).
func canonical(t *testing.T, c *extract.Collector, table string) []string {
	var out []string
	for _, r := range rowsOf(t, c, table) {
		delete(r, "location")
		out = append(out, fmt.Sprint(r)) // fmt prints maps sorted by key
	}
	sort.Strings(out)
	return out
}

// TestAPIAndFilesAgree reads the records of testdata/same once as an export folder
// and once from a fake HubSpot serving them: the canonical tables are identical.
func TestAPIAndFilesAgree(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const spec = "hubspot:same"

	files := extract.NewCollector(mem)
	defer files.Release()
	fe := New(Config{Spec: spec, Dir: same, Mem: mem, CookieProperty: "ga_client_id", Currency: "eur"})
	require.NoError(t, fe.Extract(context.Background(), files))

	f, srv := newFake(t, same)
	api := extractAPI(t, mem, f, srv, func(c *Config) { c.Spec = spec })
	defer api.c.Release()
	require.NoError(t, api.err)

	for _, table := range []string{extract.TableContacts, extract.TableDeals, extract.TableDealContacts, extract.TableDealStages, extract.TableEvents} {
		want := canonical(t, files, table)
		require.NotEmpty(t, want, table)
		require.Equal(t, want, canonical(t, api.c, table), table)
	}

	// The firmographic columns are compared above: each is filled for some contact.
	for _, col := range []string{"job_title", "company", "industry", "company_size", "country"} {
		filled := 0
		for _, r := range rowsOf(t, files, extract.TableContacts) {
			if r[col] != nil {
				filled++
			}
		}
		require.NotZero(t, filled, col)
	}
	require.Equal(t, 1, fe.BadCompanySizes(), `contact 108's numemployees "Unknown"`)
	require.Equal(t, fe.BadCompanySizes(), api.e.BadCompanySizes())

	// The same records are rejected for the same reasons, with the same raw record.
	rejections := func(c *extract.Collector) []string {
		var out []string
		for _, r := range c.Rejections() {
			out = append(out, r.Input+"|"+r.Reason+"|"+r.Raw)
		}
		sort.Strings(out)
		return out
	}
	require.Len(t, rejections(files), 5)
	require.Equal(t, rejections(files), rejections(api.c))
}
