package hubspot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	_ "github.com/duckdb/duckdb-go/v2" // the duckdb database/sql driver
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/extract/extracttest"
	"closedloop/extract/tables"
	"closedloop/extract/tables/tablestest"
)

// sharedSeeds is the whole Fivetran seed folder of ../shared, when present.
var sharedSeeds = filepath.Join("..", "..", "..", "shared", "data", "hubspot-fivetran-seeds")

// textColumns are columns Fivetran types STRING (HubSpot string properties) whose
// values DuckDB's CSV sniffer would take for numbers: "1234567890.1767600000", a GA
// client id, is not the number 1234567890.17676.
var textColumns = []string{"property_ga_client_id"}

// loadFivetran loads the CSV files of dir with tablestest.LoadCSVFolder, textColumns
// typed VARCHAR, as a Fivetran warehouse has them.
func loadFivetran(t *testing.T, kind, dir string) tablestest.DB {
	t.Helper()
	return tablestest.LoadCSVFolder(t, kind, dir, textColumns...)
}

// checkedMem returns an allocator checked for leaks when t ends, after the
// collectors of extractWith are released.
func checkedMem(t *testing.T) memory.Allocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// extracted is what one Extract gave.
type extracted struct {
	c                   *extract.Collector
	tables              []string
	skipped, sizes, ids int
}

// extractWith runs an Extractor of cfg (Mem and the test settings filled in).
func extractWith(t *testing.T, mem memory.Allocator, cfg Config) (extracted, error) {
	t.Helper()
	cfg.Mem, cfg.CookieProperty, cfg.Currency = mem, "ga_client_id", "eur"
	e := New(cfg)
	c := extract.NewCollector(mem)
	t.Cleanup(c.Release)
	err := e.Extract(context.Background(), &extracttest.Writer{T: t, Next: c})
	return extracted{c: c, tables: e.Tables(), skipped: e.Skipped(), sizes: e.BadCompanySizes(), ids: e.BadCookieIDs()}, err
}

// placeRE matches how a file or a warehouse locates a row: "contact.csv:7" and
// "deal.csv" (the file's name) or "contact row 3".
var placeRE = regexp.MustCompile(`\.csv(:\d+)?\b| row \d+\b`)

// unplace maps where a row sits to the table it is in: both a file's
// "contact.csv:7 (hubspot contact 1)" and a warehouse's "main.contact row 3
// (hubspot contact 1)" become "contact (hubspot contact 1)", as rows come from a
// warehouse in no particular order and a table has no lines. schema is the
// warehouse's.
func unplace(s, schema string) string {
	if schema != "" {
		s = strings.ReplaceAll(s, schema+".", "")
	}
	return placeRE.ReplaceAllString(s, "")
}

// canonicalRows are the rows of every table, locations mapped by unplace, sorted.
func canonicalRows(t *testing.T, x extracted, schema string) map[string][]string {
	out := map[string][]string{}
	for _, table := range []string{extract.TableContacts, extract.TableDeals, extract.TableDealContacts, extract.TableDealStages, extract.TableEvents, extract.TableAccounts} {
		var rows []string
		for _, r := range rowsOf(t, x.c, table) {
			if l, ok := r["location"].(string); ok {
				r["location"] = unplace(l, schema)
			}
			delete(r, "input")                 // the source spec
			rows = append(rows, fmt.Sprint(r)) // fmt prints maps sorted by key
		}
		sort.Strings(rows)
		out[table] = rows
	}
	return out
}

// canonicalRejections are the rejections as location | reason, mapped by unplace,
// sorted; raw differs by design (a warehouse row is the CSV line of the columns read).
func canonicalRejections(x extracted, schema string) []string {
	var out []string
	for _, r := range x.c.Rejections() {
		out = append(out, unplace(r.Location, schema)+" | "+unplace(r.Reason, schema))
	}
	sort.Strings(out)
	return out
}

// requireSame requires that a folder and a warehouse source gave the same rows.
func requireSame(t *testing.T, files, wh extracted, schema string) {
	t.Helper()
	want, got := canonicalRows(t, files, ""), canonicalRows(t, wh, schema)
	for table, rows := range want {
		require.Equal(t, rows, got[table], table)
	}
	require.Equal(t, canonicalRejections(files, ""), canonicalRejections(wh, schema))
	require.Equal(t, files.tables, wh.tables, "Tables")
	require.Equal(t, files.skipped, wh.skipped, "Skipped: deleted and merged records, counted alike")
	require.Equal(t, files.sizes, wh.sizes, "BadCompanySizes")
	require.Equal(t, files.ids, wh.ids, "BadCookieIDs")
}

// TestWarehouseMatchesFolder loads Fivetran folders (the records of testdata/same as
// Fivetran tables, slices of Fivetran's own seeds, and the whole seed folder of
// ../shared when present) into DuckDB, PostgreSQL and the BigQuery fake, and reads
// them as a warehouse Source: every table has the rows the folder reader writes, the
// same rejections (by table and object, for the same reasons), skipped records and
// counts.
func TestWarehouseMatchesFolder(t *testing.T) {
	dirs := []string{"testdata/fivetran", "testdata/fivetran-seeds"}
	if _, err := os.Stat(sharedSeeds); err == nil {
		dirs = append(dirs, sharedSeeds)
	} else {
		t.Logf("shared seeds not found at %s: %v", sharedSeeds, err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			for _, kind := range tablestest.Kinds {
				t.Run(kind, func(t *testing.T) {
					mem := checkedMem(t)
					files, err := extractWith(t, mem, Config{Spec: "hubspot:x", Dir: dir})
					require.NoError(t, err)
					src := loadFivetran(t, kind, dir).Open(t)
					wh, err := extractWith(t, mem, Config{Spec: "hubspot:x", Source: src})
					require.NoError(t, err)
					require.NotEmpty(t, canonicalRows(t, files, "")[extract.TableContacts])
					requireSame(t, files, wh, tables.SchemaOf(src.Spec()))
				})
			}
		})
	}
}

// TestWarehouseLocations: rows and rejections of a warehouse name SCHEMA.TABLE row N,
// and a rejection's raw is the row's columns read, as a CSV line.
func TestWarehouseLocations(t *testing.T) {
	mem := checkedMem(t)
	src := loadFivetran(t, "duckdb", "testdata/fivetran").Open(t)
	wh, err := extractWith(t, mem, Config{Source: src})
	require.NoError(t, err)
	for _, r := range rowsOf(t, wh.c, extract.TableContacts) {
		require.Regexp(t, `^main\.contact row \d+$`, r["location"])
		require.Equal(t, "hubspot:"+src.Spec(), r["input"])
	}
	var found bool
	for _, r := range wh.c.Rejections() {
		if strings.HasSuffix(r.Location, "(hubspot contact 106)") {
			found = true
			require.Regexp(t, `^main\.contact row \d+ \(hubspot contact 106\)$`, r.Location)
			// id, _fivetran_deleted, is_deleted, then the properties read in name order.
			require.True(t, strings.HasPrefix(r.Raw, "106,false,,"), r.Raw)
			require.Contains(t, r.Raw, ",yesterday,")
		}
		if strings.Contains(r.Reason, "9999 is not in") {
			require.Equal(t, "deal 9999 is not in main.deal, so its stage history belongs to no deal read: export main.deal and main.deal_stage at the same time", r.Reason)
		}
	}
	require.True(t, found)
	require.Equal(t, 6, wh.skipped, "contact 103 and deal 9007 deleted, contacts 95 and 96 and deal 9010 merged, call 7004 deleted")
}

// recording is a tables.Source that records the columns each table is read with.
type recording struct {
	tables.Source
	mu   sync.Mutex
	read map[string][][]string
}

func (r *recording) Read(ctx context.Context, table string, cols []string, f *tables.DayFilter, fn func(row []string) error) error {
	r.mu.Lock()
	r.read[table] = append(r.read[table], slices.Clone(cols))
	r.mu.Unlock()
	return r.Source.Read(ctx, table, cols, f, fn)
}

// TestWarehouseSelectsColumns: a table is read with the columns the decoders use
// (of its property_* columns, the properties read and the cookie property), never
// all of them.
func TestWarehouseSelectsColumns(t *testing.T) {
	mem := checkedMem(t)
	dir := copyDir(t, "testdata/fivetran")
	// A property the decoders do not read, which must not be selected.
	b, err := os.ReadFile(filepath.Join(dir, "contact.csv"))
	require.NoError(t, err)
	lines := strings.SplitAfter(string(b), "\n")
	for i, l := range lines {
		switch {
		case i == 0:
			lines[i] = strings.Replace(l, "id,", "id,property_favorite_color,", 1)
		case l != "":
			lines[i] = strings.Replace(l, ",", ",blue,", 1)
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "contact.csv"), []byte(strings.Join(lines, "")), 0o644))

	rec := &recording{Source: loadFivetran(t, "duckdb", dir).Open(t), read: map[string][][]string{}}
	_, err = extractWith(t, mem, Config{Source: rec})
	require.NoError(t, err)

	// contact: its id and deletion flag, and the properties read that it has.
	var props []string
	for _, c := range strings.Split(strings.TrimSpace(lines[0]), ",") {
		if strings.HasPrefix(c, "property_") && c != "property_favorite_color" && c != "property_hs_object_id" {
			props = append(props, c)
		}
	}
	slices.Sort(props)
	require.Equal(t, [][]string{append([]string{"id", "_fivetran_deleted"}, props...)}, unique(rec.read["contact"]))
	require.Len(t, rec.read["contact"], 2, "the merge pass and the contact pass")
	require.Equal(t, [][]string{{"deal_id", "is_deleted", "deal_pipeline_id", "deal_pipeline_stage_id",
		"property_amount", "property_closedate", "property_createdate", "property_deal_currency_code", "property_dealname", "property_hs_lastmodifieddate"}},
		rec.read["deal"], "not owner_id, portal_id nor property_description")
	activity := []string{"property_hs_createdate", "property_hs_lastmodifieddate", "property_hs_timestamp", "property_hubspot_owner_id", "property_hubspot_team_id"}
	require.Equal(t, sortedProps([][]string{append([]string{"engagement_id", "_fivetran_deleted", "property_hs_call_direction", "property_hs_call_status"}, activity...)}),
		sortedProps(rec.read["engagement_call"]))
	require.Equal(t, sortedProps([][]string{append([]string{"engagement_id", "_fivetran_deleted", "type", "property_hs_email_direction"}, activity...)}),
		sortedProps(rec.read["engagement_email"]))
	require.Equal(t, [][]string{{"deal_id", "value", "date_entered", "_fivetran_start"}}, rec.read["deal_stage"], "the table has no _fivetran_deleted")
	for table, reads := range rec.read {
		for _, cols := range reads {
			require.NotContains(t, cols, "_fivetran_synced", table)
			require.NotContains(t, cols, "property_favorite_color", table)
		}
	}
}

// sortedProps sorts the property_* columns of each list after the others, by name.
func sortedProps(l [][]string) [][]string {
	for _, cols := range l {
		slices.SortStableFunc(cols, func(a, b string) int {
			pa, pb := strings.HasPrefix(a, "property_"), strings.HasPrefix(b, "property_")
			switch {
			case pa && pb:
				return strings.Compare(a, b)
			case pa:
				return 1
			case pb:
				return -1
			}
			return 0
		})
	}
	return l
}

// unique drops repeated column lists.
func unique(l [][]string) [][]string {
	var out [][]string
	for _, c := range l {
		if !slices.ContainsFunc(out, func(o []string) bool { return slices.Equal(o, c) }) {
			out = append(out, c)
		}
	}
	return out
}

// TestWarehouseMissingTable: a schema of Fivetran tables without a required one is a
// configuration error naming it, before anything is written; so is a schema of
// Airbyte's HubSpot tables, whose layout is not read.
func TestWarehouseMissingTable(t *testing.T) {
	dir := copyDir(t, "testdata/fivetran")
	require.NoError(t, os.Remove(filepath.Join(dir, "deal_contact.csv")))
	src := tablestest.LoadCSVFolder(t, "duckdb", dir).Open(t)
	mem := checkedMem(t)
	x, err := extractWith(t, mem, Config{Source: src})
	require.ErrorIs(t, err, extract.ErrConfig)
	require.ErrorContains(t, err, "holds Fivetran HubSpot tables but not deal_contact (deal_contact: the deal-contact links")
	require.ErrorContains(t, err, "enable that table in the schema tab of the Fivetran HubSpot connector")
	require.Empty(t, x.c.Rejections())
	require.Zero(t, x.c.Rows("hubspot:"+src.Spec(), extract.TableContacts))

	_, err = New(Config{Source: src}).Check(context.Background())
	require.ErrorIs(t, err, extract.ErrConfig)
	require.ErrorContains(t, err, "deal_contact")

	airbyte := t.TempDir()
	for name, body := range map[string]string{"contacts.csv": "id,properties_email,archived\n1,a@b.c,false\n", "deals.csv": "id,properties_dealname,archived\n2,x,false\n"} {
		require.NoError(t, os.WriteFile(filepath.Join(airbyte, name), []byte(body), 0o644))
	}
	_, err = New(Config{Source: tablestest.LoadCSVFolder(t, "duckdb", airbyte).Open(t)}).Check(context.Background())
	require.ErrorIs(t, err, extract.ErrConfig)
	require.ErrorContains(t, err, "Airbyte's HubSpot tables")
	require.ErrorContains(t, err, "properties_* instead of property_*")
}

// TestWarehouseCheck: Check lists the tables, and Tables then tells what Extract
// writes.
func TestWarehouseCheck(t *testing.T) {
	src := loadFivetran(t, "duckdb", "testdata/fivetran").Open(t)
	e := New(Config{Source: src})
	got, err := e.Check(context.Background())
	require.NoError(t, err)
	require.Equal(t, "Fivetran HubSpot tables in "+src.Spec(), got)
	require.Equal(t, New(Config{Dir: "testdata/fivetran"}).Tables(), e.Tables())
	require.Equal(t, "hubspot:"+src.Spec(), e.Name())
}
