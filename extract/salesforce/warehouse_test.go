package salesforce

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2" // the duckdb database/sql driver
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/extract/extracttest"
	"closedloop/extract/tables"
	"closedloop/extract/tables/tablestest"
)

// sharedSeeds is the whole Fivetran seed folder of ../shared, when present.
var sharedSeeds = filepath.Join("..", "..", "..", "shared", "data", "salesforce-fivetran-seeds")

// textColumns are columns a connector types as text (the cookie field is a Text
// field) whose values DuckDB's CSV sniffer would take for numbers: "1111.2220", a GA
// client id, is not the number 1111.222.
var textColumns = []string{"ga_client_id__c", "ga_client_id_c"}

// loadTables loads the CSV files of dir as tablestest.LoadCSVFolder does, but with
// textColumns typed VARCHAR, as a warehouse has them.
func loadTables(t *testing.T, kind, dir string) tablestest.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tables.duckdb")
	db, err := sql.Open("duckdb", path)
	require.NoError(t, err)
	defer db.Close()
	files, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	require.NoError(t, err)
	for _, f := range files {
		head, err := os.ReadFile(f)
		require.NoError(t, err)
		first, _, _ := strings.Cut(strings.TrimPrefix(string(head), "\ufeff"), "\n")
		var types []string
		for _, c := range strings.Split(strings.TrimSpace(first), ",") {
			if c = strings.Trim(c, `"`); slices.Contains(textColumns, strings.ToLower(c)) {
				types = append(types, fmt.Sprintf("'%s': 'VARCHAR'", c))
			}
		}
		opts := ""
		if len(types) > 0 {
			opts = ", types = {" + strings.Join(types, ", ") + "}"
		}
		abs, err := filepath.Abs(f)
		require.NoError(t, err)
		_, err = db.Exec(fmt.Sprintf(`CREATE TABLE "%s" AS SELECT * FROM read_csv('%s', header = true, sample_size = -1%s)`,
			strings.ToLower(strings.TrimSuffix(filepath.Base(f), ".csv")), abs, opts))
		require.NoError(t, err, f)
	}
	require.NoError(t, db.Close())
	return tablestest.LoadDuckDB(t, kind, path)
}

// extracted is what one Extract gave.
type extracted struct {
	c                   *extract.Collector
	skipped, sizes, ids int
}

func extractChecked(t *testing.T, cfg Config) (extracted, error) {
	t.Helper()
	c := extract.NewCollector(cfg.Mem)
	t.Cleanup(c.Release)
	e := New(cfg)
	err := e.Extract(context.Background(), &extracttest.Writer{T: t, Next: c})
	return extracted{c: c, skipped: e.Skipped(), sizes: e.BadCompanySizes(), ids: e.BadCookieIDs()}, err
}

// placeRE matches how a file or a warehouse locates a row: "Lead.csv:7",
// "sf_lead_data.csv:7", "lead row 3"; and how a warehouse table is named in reasons.
var placeRE = regexp.MustCompile(`\.csv(:\d+)?\b| row \d+\b`)

// unplace maps where a row sits to the table it is in, lower-cased: a file's
// "Lead.csv:7 (salesforce Lead 00Q...)" and a warehouse's "main.lead row 3
// (salesforce Lead 00Q...)" become "lead (salesforce Lead 00Q...)", as rows come from
// a warehouse in no particular order and a table has no lines.
func unplace(s, schema string) string {
	if schema != "" {
		s = strings.ReplaceAll(s, schema+".", "")
	}
	s = placeRE.ReplaceAllString(s, "")
	if name, rest, ok := strings.Cut(s, " "); ok {
		return strings.ToLower(name) + " " + rest
	}
	return strings.ToLower(s)
}

func canonicalRows(t *testing.T, x extracted, schema string) map[string][]string {
	out := map[string][]string{}
	for _, table := range []string{extract.TableContacts, extract.TableDeals, extract.TableDealContacts, extract.TableDealStages, extract.TableEvents, extract.TableAccounts} {
		var rows []string
		for _, r := range rowsOf(t, x.c, table) {
			if l, ok := r["location"].(string); ok {
				r["location"] = unplace(l, schema)
			}
			delete(r, "input")
			rows = append(rows, fmt.Sprint(r)) // fmt prints maps sorted by key
		}
		sort.Strings(rows)
		out[table] = rows
	}
	return out
}

func canonicalRejections(x extracted, schema string) []string {
	var out []string
	for _, r := range x.c.Rejections() {
		out = append(out, unplace(r.Location, schema)+" | "+r.Reason)
	}
	sort.Strings(out)
	return out
}

// TestWarehouseMatchesFolder loads folders of both layouts (a Data Export folder,
// named and with columns as Airbyte's tables; Fivetran's seeds, sliced and whole)
// into DuckDB, PostgreSQL and the BigQuery fake, and reads them as a warehouse
// Source: every table has the rows the folder reader writes, with the same
// rejections (by table and object, for the same reasons), skipped records and counts.
func TestWarehouseMatchesFolder(t *testing.T) {
	dirs := []string{exportDir, fivetranDir}
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
					cfg := Config{Spec: "salesforce:x", Mem: mem, Currency: "USD", Now: ts("2026-12-05T06:00:00Z")}
					cfg.Dir = dir
					if dir != exportDir {
						cfg.CookieField = NoCookieField // the seeds have none
					}
					files, err := extractChecked(t, cfg)
					require.NoError(t, err)
					src := loadTables(t, kind, dir).Open(t)
					cfg.Dir, cfg.Source = "", src
					wh, err := extractChecked(t, cfg)
					require.NoError(t, err)

					want, got := canonicalRows(t, files, ""), canonicalRows(t, wh, tables.SchemaOf(src.Spec()))
					require.NotEmpty(t, want[extract.TableContacts])
					for table, rows := range want {
						require.Equal(t, rows, got[table], table)
					}
					require.Equal(t, canonicalRejections(files, ""), canonicalRejections(wh, tables.SchemaOf(src.Spec())))
					require.Equal(t, files.skipped, wh.skipped, "Skipped: deleted, merged and superseded records, counted alike")
					require.Equal(t, files.sizes, wh.sizes)
					require.Equal(t, files.ids, wh.ids)
				})
			}
		})
	}
}

// TestWarehouseLocations: rows and rejections name SCHEMA.TABLE row N, and a
// rejection's raw is the row's columns read, as a CSV line.
func TestWarehouseLocations(t *testing.T) {
	mem := checkedMem(t)
	src := loadTables(t, "duckdb", exportDir).Open(t)
	wh, err := extractChecked(t, Config{Source: src, Mem: mem, Currency: "usd"})
	require.NoError(t, err)
	people := byKey(t, rowsOf(t, wh.c, extract.TableContacts), "contact_id")
	require.Regexp(t, `^main\.lead row \d+$`, people[leadBob]["location"])
	require.Regexp(t, `^main\.contact row \d+$`, people[contactAnn]["location"])
	require.Equal(t, "salesforce:"+src.Spec(), people[leadBob]["input"])
	var found bool
	for _, r := range wh.c.Rejections() {
		if strings.Contains(r.Location, leadFay) {
			found = true
			require.Regexp(t, `^main\.lead row \d+ \(salesforce Lead `+leadFay+`\)$`, r.Location)
			require.True(t, strings.HasPrefix(r.Raw, leadFay+",false,"), r.Raw)
		}
	}
	require.True(t, found)
	for _, r := range rowsOf(t, wh.c, extract.TableDealStages) {
		require.Regexp(t, `^main\.(opportunityhistory|opportunity) row \d+$`, r["location"])
	}
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

// TestWarehouseSelectsColumns: each object is read with the columns of its fields
// (and Fivetran's _fivetran_deleted and _fivetran_active), not the hundreds a
// Fivetran table has.
func TestWarehouseSelectsColumns(t *testing.T) {
	mem := checkedMem(t)
	rec := &recording{Source: loadTables(t, "duckdb", fivetranDir).Open(t), read: map[string][][]string{}}
	_, err := extractChecked(t, Config{Source: rec, Mem: mem, CookieField: "none", Currency: "USD"})
	require.NoError(t, err)
	// sf_lead_data has 420 columns; the lead pass reads the fields of leadFields,
	// the merge pass Id, IsDeleted and MasterRecordId.
	require.ElementsMatch(t, [][]string{
		{"id", "is_deleted", "master_record_id", "email", "created_date", "last_modified_date", "system_modstamp", "lead_source",
			"status", "is_converted", "converted_date", "converted_contact_id", "converted_opportunity_id", "title", "company",
			"industry", "number_of_employees", "country", "converted_account_id", "_fivetran_active"},
		{"id", "is_deleted", "master_record_id", "_fivetran_active"},
	}, rec.read["sf_lead_data"])
	require.Equal(t, [][]string{{"id", "stage_name", "created_date", "is_deleted", "_fivetran_start"}}, rec.read["sf_opportunity_history_data"],
		"a history-mode table: every version is read, _fivetran_active is not")
	for table, reads := range rec.read {
		for _, cols := range reads {
			require.NotContains(t, cols, "_fivetran_synced", table)
		}
	}
}

// TestWarehouseMissingTable: without Lead (or Contact) the read is a configuration
// error naming it; Check says what it found.
func TestWarehouseMissingTable(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"Contact.csv", "Opportunity.csv"} {
		b, err := os.ReadFile(filepath.Join(exportDir, n))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), b, 0o644))
	}
	src := loadTables(t, "duckdb", dir).Open(t)
	mem := checkedMem(t)
	x, err := extractChecked(t, Config{Source: src, Mem: mem})
	require.ErrorIs(t, err, extract.ErrConfig)
	require.ErrorContains(t, err, "has no Lead table (looked for Lead, lead, sf_lead_data): Lead is required")
	require.Empty(t, x.c.Rejections())

	_, err = New(Config{Source: src}).Check(context.Background())
	require.ErrorIs(t, err, extract.ErrConfig)

	src = loadTables(t, "duckdb", exportDir).Open(t)
	got, err := New(Config{Source: src}).Check(context.Background())
	require.NoError(t, err)
	require.Equal(t, "Lead and Contact tables in "+src.Spec()+"; cookie field GA_Client_ID__c", got)
}
