package sqlengine

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/extract/ga4"
	"closedloop/extract/hubspot"
	"closedloop/extract/synth"
	"closedloop/load"
	"closedloop/transform"
	"closedloop/transform/attribution"
)

// loadExport reads the GA4 export files glob into a DuckDB table named export, with
// the _table_suffix a wildcard table has.
func loadExport(t testing.TB, db *sql.DB, glob string) {
	t.Helper()
	var cols []string
	for _, c := range ExportColumns {
		cols = append(cols, fmt.Sprintf("%s: '%s'", c.Name, DuckDBType(c.BigQuery)))
	}
	_, err := db.Exec(fmt.Sprintf(`CREATE OR REPLACE TABLE export AS
		SELECT *, event_date AS _table_suffix FROM read_json('%s', columns = {%s}, format = 'newline_delimited')`,
		glob, strings.Join(cols, ", ")))
	require.NoError(t, err)
}

func openDuckDB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	_, err = db.Exec("SET TimeZone = 'UTC'")
	require.NoError(t, err)
	return db
}

// tableRows is tbl's rows as text, times as µs since the epoch, NULL as "∅".
func tableRows(tbl arrow.Table) [][]string {
	rows := make([][]string, tbl.NumRows())
	for c := 0; c < int(tbl.NumCols()); c++ {
		i := 0
		for _, chunk := range tbl.Column(c).Data().Chunks() {
			for k := 0; k < chunk.Len(); k, i = k+1, i+1 {
				v := "∅"
				if chunk.IsValid(k) {
					switch a := chunk.(type) {
					case *array.Timestamp:
						v = fmt.Sprint(int64(a.Value(k)))
					default:
						v = a.ValueStr(k)
					}
				}
				rows[i] = append(rows[i], v)
			}
		}
	}
	return rows
}

// queryRows is the rows of q as text, NULL as "∅".
func queryRows(t testing.TB, db *sql.DB, q string) [][]string {
	t.Helper()
	rs, err := db.Query(q)
	require.NoError(t, err)
	defer rs.Close()
	cols, err := rs.Columns()
	require.NoError(t, err)
	var out [][]string
	for rs.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rs.Scan(ptrs...))
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = "∅"
			if v.Valid {
				row[i] = v.String
			}
		}
		out = append(out, row)
	}
	require.NoError(t, rs.Err())
	return out
}

// withoutIDs drops the columns at idx (ids the engines derive differently) and
// sorts the rows.
func withoutIDs(rows [][]string, idx ...int) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		var keep []string
		for c, v := range r {
			if !slices.Contains(idx, c) {
				keep = append(keep, v)
			}
		}
		out[i] = strings.Join(keep, " | ")
	}
	slices.Sort(out)
	return out
}

// sessionStarts maps each session id of touchpoints tp (columns as fct_touchpoint's)
// to its start.
func sessionStarts(tp [][]string) map[string]string {
	m := map[string]string{}
	for _, r := range tp {
		if r[13] == "session_start" {
			m[r[3]] = r[4]
		}
	}
	return m
}

// samplePV is fct_page_view's rows with their session given by its start.
func samplePV(pv [][]string, starts map[string]string) []string {
	out := make([]string, len(pv))
	for i, r := range pv {
		s, ok := starts[r[2]]
		if !ok {
			s = "no start in range"
		}
		out[i] = strings.Join(append(append(slices.Clone(r[:2]), r[3:]...), "session "+s), " | ")
	}
	slices.Sort(out)
	return out
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestSampleParity runs both engines on the bundled sample.
func TestSampleParity(t *testing.T) {
	glob := filepath.Join("..", "..", "testdata", "sample", "ga4", "*.ndjson.gz")
	parity(t, glob, filepath.Join("..", "..", "testdata", "sample", "hubspot"), sampleRange(), sampleRange())
}

// TestGenParity runs both engines on closedloop gen data of another seed, writing
// only its last weeks (sessions and persons still come from every day read).
func TestGenParity(t *testing.T) {
	dir := t.TempDir()
	_, err := synth.Generate(synth.Config{Seed: 11, People: 2500, From: day("2026-03-01"), Days: 40}, dir)
	require.NoError(t, err)
	parity(t, filepath.Join(dir, "ga4", "*.ndjson.gz"), filepath.Join(dir, "hubspot"), extract.Range{From: day("2026-03-20"), To: day("2026-04-09")},
		extract.Range{From: day("2026-03-01"), To: day("2026-04-09")})
}

func sampleRange() extract.Range {
	return extract.Range{From: day("2026-01-01"), To: day("2026-03-02")}
}

func allModels(t *testing.T) []attribution.Model {
	models, err := attribution.Lookup(attribution.Names(), attribution.DefaultParams)
	require.NoError(t, err)
	return models
}

// sampleOptions are the local engine's options of the tests.
func sampleOptions(rng extract.Range, models []attribution.Model) transform.Options {
	return transform.Options{Range: rng, Lookback: 90 * 24 * time.Hour, SessionTimeout: 30 * time.Minute,
		TouchEvents: []string{"generate_lead", "file_download"}, MicroConversions: []string{"file_download"},
		Models: models, Currency: "USD"}
}

// engineConfig is the SQL of opt's rules (the dialect and tables left to the caller).
func engineConfig(opt transform.Options, rng, read extract.Range) Config {
	return Config{Range: rng, Read: read, SessionTimeout: opt.SessionTimeout, TouchEvents: opt.TouchEvents,
		KeepSessionOnCampaignChange: opt.KeepSessionOnCampaignChange, MicroConversions: opt.MicroConversions,
		AttributeSalesTouches: opt.AttributeSalesTouches, Lookback: opt.Lookback, Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func withoutHalfLife(c Config) Config {
	c.HalfLife = 0
	return c
}

// newStream is a Stream of opt with eng as its Pushdown.
func newStream(opt transform.Options, eng *Engine) *transform.Stream {
	opt.Pushdown = eng
	return transform.NewStream(opt)
}

// crmTables reads a HubSpot export folder ("" for none).
func crmTables(t *testing.T, mem memory.Allocator, dir string) *extract.Collector {
	c := extract.NewCollector(mem)
	if dir != "" {
		require.NoError(t, hubspot.New(hubspot.Config{Dir: dir, Mem: mem, CookieProperty: "ga_client_id", Currency: "USD",
			Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}).Extract(context.Background(), c))
	}
	return c
}

// finish finishes s with the CRM of c after adding c's events.
func finish(t *testing.T, s *transform.Stream, c *extract.Collector) *transform.Output {
	ctx := context.Background()
	ev := c.Table(extract.TableEvents)
	require.NoError(t, s.Add(ctx, ev))
	ev.Release()
	in := transform.Inputs{Contacts: c.Table(extract.TableContacts), Deals: c.Table(extract.TableDeals),
		DealContacts: c.Table(extract.TableDealContacts), Spend: c.Table(extract.TableSpend)}
	out, err := s.Finish(ctx, in)
	for _, tbl := range []arrow.Table{in.Contacts, in.Deals, in.DealContacts, in.Spend} {
		tbl.Release()
	}
	require.NoError(t, err)
	return out
}

// sqlTables are the engine's rows of the tables it builds, as outRows reads Go's.
var sqlTables = map[string]string{
	load.FctTouchpoint: `SELECT touchpoint_id, person_id, anonymous_id, session_id, epoch_us(occurred_at), channel, source, medium,
		campaign, term, content, landing_page, referrer_host, event_name FROM cl_touchpoints`,
	load.FctPageView: `SELECT person_id, anonymous_id, session_id, epoch_us(occurred_at), page_location, page_path, page_title,
		referrer_host FROM cl_page_views`,
	load.FctAttribution: `SELECT conversion_id, touchpoint_id, model, credit, revenue_credit, channel, campaign, term,
		conversion_type, epoch_us(occurred_at), epoch_us(touch_occurred_at), person_id, scope, touch_person_id FROM cl_attribution`,
}

// runPushed runs a Stream of opt with an Engine of cfg on ex (whose tables db holds)
// and the CRM folder crm, and returns every table's rows, sorted.
func runPushed(t *testing.T, ex Executor, cfg Config, opt transform.Options, crm string, db *sql.DB) map[string][][]string {
	rows, _, _ := runPushedStats(t, ex, cfg, opt, crm, db)
	return rows
}

// runPushedStats is runPushed with the run's statistics.
func runPushedStats(t *testing.T, ex Executor, cfg Config, opt transform.Options, crm string, db *sql.DB) (map[string][][]string, transform.Stats, int64) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	opt.Mem = mem
	c := crmTables(t, mem, crm)
	defer c.Release()
	eng := New(ex, cfg, Options{Mem: mem, Input: "ga4:bigquery://test"})
	s := newStream(opt, eng)
	require.NoError(t, eng.Start(context.Background(), s))
	out := finish(t, s, c)
	defer out.Release()
	return allRows(t, out, db), out.Stats, eng.Rejected
}

// allRows is every table of out, with the engine's rows of the tables it builds.
func allRows(t *testing.T, out *transform.Output, db *sql.DB) map[string][][]string {
	res := map[string][][]string{}
	for _, spec := range load.Tables {
		if spec.Name == load.RunLog || spec.Name == load.RejectedRows {
			continue
		}
		rows := outRows(t, out, spec.Name)
		if q, ok := sqlTables[spec.Name]; ok && db != nil {
			rows = append(rows, queryRows(t, db, q)...)
		}
		res[spec.Name] = sorted(rows)
	}
	return res
}

// parity runs the local engine and the Stream with the DuckDB rendering as its
// Pushdown on the export files glob (the days read) and crm (a HubSpot export folder,
// "" for none), and requires the same tables: every row of every table, ids the SQL
// derives (touchpoints', sessions') aside, credits within 1e-9.
func parity(t *testing.T, glob, crm string, rng, read extract.Range) {
	models := allModels(t)
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep session on campaign change %v", keep), func(t *testing.T) {
			ctx := context.Background()
			opt := sampleOptions(rng, models)
			opt.KeepSessionOnCampaignChange = keep

			// The local engine.
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			lopt := opt
			lopt.Mem = mem
			c := crmTables(t, mem, crm)
			defer c.Release()
			g := extract.NewCollector(mem)
			defer g.Release()
			require.NoError(t, ga4.New(ga4.Config{Path: glob, Mem: mem, Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}).Extract(ctx, g))
			events := g.Table(extract.TableEvents)
			s := transform.NewStream(lopt)
			require.NoError(t, s.Add(ctx, events))
			events.Release()
			want := finish(t, s, c)
			defer want.Release()
			wantRows, ws := allRows(t, want, nil), want.Stats

			// The SQL engine.
			db := openDuckDB(t)
			loadExport(t, db, glob)
			cfg := engineConfig(opt, rng, read)
			cfg.Dialect, cfg.Export = DuckDB, "export"
			got, gs, rejected := runPushedStats(t, &DB{DB: db, Config: &cfg}, cfg, opt, crm, db)
			assert.EqualValues(t, len(g.Rejections()), rejected, "the export's rows left out")
			assert.Equal(t, [7]int{ws.Events, ws.Sessions, ws.Touchpoints, ws.PageViews, ws.Conversions, ws.Journeys, ws.ConversionsWithoutTouch},
				[7]int{gs.Events, gs.Sessions, gs.Touchpoints, gs.PageViews, gs.Conversions, gs.Journeys, gs.ConversionsWithoutTouch},
				"events, sessions, touchpoints, page views, conversions, journeys, without touch")

			ltp, stp := wantRows[load.FctTouchpoint], got[load.FctTouchpoint]
			require.NotEmpty(t, ltp)
			t.Logf("touchpoints %d, page views %d, credits %d", len(ltp), len(wantRows[load.FctPageView]), len(wantRows[load.FctAttribution]))
			require.Equal(t, withoutIDs(ltp, 0, 3), withoutIDs(stp, 0, 3), "fct_touchpoint")
			require.Equal(t, samplePV(wantRows[load.FctPageView], sessionStarts(ltp)), samplePV(got[load.FctPageView], sessionStarts(stp)), "fct_page_view")
			// fct_attribution, with the touch named by its time and channel.
			requireClose(t, credits(wantRows[load.FctAttribution]), credits(got[load.FctAttribution]), load.FctAttribution)
			for name, rows := range wantRows {
				if _, ok := sqlTables[name]; !ok {
					requireClose(t, rows, got[name], name)
				}
			}
		})
	}
}

// outRows is table name of out as text rows.
func outRows(t *testing.T, out *transform.Output, name string) [][]string {
	t.Helper()
	tbl, err := out.Table(name)
	require.NoError(t, err)
	defer tbl.Release()
	return tableRows(tbl)
}

// credits is fct_attribution's rows without the touch's id (its time and channel
// name it), sorted.
func credits(rows [][]string) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = append(slices.Clone(r[:1]), r[2:]...)
	}
	return sorted(out)
}

func sorted(rows [][]string) [][]string {
	slices.SortFunc(rows, func(a, b []string) int { return slices.Compare(a, b) })
	return rows
}

// requireClose requires the same rows, numbers within 1e-9.
func requireClose(t *testing.T, want, got [][]string, name string) {
	t.Helper()
	require.Equal(t, len(want), len(got), "%s: rows", name)
	for i := range want {
		require.Equal(t, len(want[i]), len(got[i]), "%s row %d", name, i)
		for k := range want[i] {
			a, b := want[i][k], got[i][k]
			if a == b {
				continue
			}
			x, errX := strconv.ParseFloat(a, 64)
			y, errY := strconv.ParseFloat(b, 64)
			require.True(t, errX == nil && errY == nil && math.Abs(x-y) <= 1e-9*max(1, math.Abs(x)),
				"%s row %d column %d: want %s, got %s\nwant %v\ngot  %v", name, i, k, a, b, want[i], got[i])
		}
	}
}
