package sqlengine

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	_ "github.com/duckdb/duckdb-go/v2"
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
	all := extract.Range{From: day("2026-01-01"), To: day("2026-03-02")}
	parity(t, glob, filepath.Join("..", "..", "testdata", "sample", "hubspot"), all, all)
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

// parity runs the local engine and the Stream with the DuckDB rendering as its
// Pushdown on the export files glob (the days read) and crm (a HubSpot export folder,
// "" for none), and requires the same tables: every row of every table, ids the SQL
// derives (touchpoints', sessions') aside, credits within 1e-9.
func parity(t *testing.T, glob, crm string, rng, read extract.Range) {
	models, err := attribution.Lookup(attribution.Names(), attribution.DefaultParams)
	require.NoError(t, err)
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep session on campaign change %v", keep), func(t *testing.T) {
			ctx := context.Background()
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			opt := transform.Options{Mem: mem, Range: rng, Lookback: 90 * 24 * time.Hour, SessionTimeout: 30 * time.Minute,
				TouchEvents: []string{"generate_lead", "file_download"}, MicroConversions: []string{"file_download"},
				KeepSessionOnCampaignChange: keep, Models: models, Currency: "USD"}

			// The CRM, read once for both.
			c := extract.NewCollector(mem)
			defer c.Release()
			if crm != "" {
				require.NoError(t, hubspot.New(hubspot.Config{Dir: crm, Mem: mem, CookieProperty: "ga_client_id", Currency: "USD",
					Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}).Extract(ctx, c))
			}
			inputs := func() transform.Inputs {
				return transform.Inputs{Contacts: c.Table(extract.TableContacts), Deals: c.Table(extract.TableDeals),
					DealContacts: c.Table(extract.TableDealContacts), Spend: c.Table(extract.TableSpend)}
			}
			release := func(in transform.Inputs) {
				for _, tbl := range []arrow.Table{in.Contacts, in.Deals, in.DealContacts, in.Spend} {
					tbl.Release()
				}
			}
			crmEvents := c.Table(extract.TableEvents)
			defer crmEvents.Release()

			// The local engine.
			g := extract.NewCollector(mem)
			defer g.Release()
			require.NoError(t, ga4.New(ga4.Config{Path: glob, Mem: mem, Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}).Extract(ctx, g))
			events := g.Table(extract.TableEvents)
			s := transform.NewStream(opt)
			require.NoError(t, s.Add(ctx, events))
			events.Release()
			require.NoError(t, s.Add(ctx, crmEvents))
			in := inputs()
			want, err := s.Finish(ctx, in)
			release(in)
			require.NoError(t, err)
			defer want.Release()

			// The SQL engine.
			db := openDuckDB(t)
			loadExport(t, db, glob)
			cfg := Config{Dialect: DuckDB, Export: "export", Range: rng, Read: read, SessionTimeout: opt.SessionTimeout,
				TouchEvents: opt.TouchEvents, KeepSessionOnCampaignChange: keep, MicroConversions: opt.MicroConversions,
				Lookback: opt.Lookback}
			eng := New(&DB{DB: db, Config: &cfg}, cfg, Options{Mem: mem, Input: "ga4:bigquery://test"})
			popt := opt
			popt.Pushdown = eng
			ps := transform.NewStream(popt)
			require.NoError(t, eng.Start(ctx, ps))
			require.NoError(t, ps.Add(ctx, crmEvents))
			in = inputs()
			got, err := ps.Finish(ctx, in)
			release(in)
			require.NoError(t, err)
			defer got.Release()

			ltp, lpv := outRows(t, want, load.FctTouchpoint), outRows(t, want, load.FctPageView)
			stp := append(outRows(t, got, load.FctTouchpoint), queryRows(t, db, `SELECT touchpoint_id, person_id, anonymous_id, session_id,
				epoch_us(occurred_at), channel, source, medium, campaign, term, content, landing_page, referrer_host, event_name FROM cl_touchpoints`)...)
			spv := append(outRows(t, got, load.FctPageView), queryRows(t, db, `SELECT person_id, anonymous_id, session_id, epoch_us(occurred_at),
				page_location, page_path, page_title, referrer_host FROM cl_page_views`)...)
			require.NotEmpty(t, ltp)
			t.Logf("touchpoints %d, page views %d; e.g. %v", len(ltp), len(lpv), ltp[len(ltp)/2])
			require.Equal(t, withoutIDs(ltp, 0, 3), withoutIDs(stp, 0, 3), "fct_touchpoint")
			require.Equal(t, samplePV(lpv, sessionStarts(ltp)), samplePV(spv, sessionStarts(stp)), "fct_page_view")

			// fct_attribution, with the touch named by its time and channel.
			la := outRows(t, want, load.FctAttribution)
			sa := append(outRows(t, got, load.FctAttribution), queryRows(t, db, `SELECT conversion_id, touchpoint_id, model, credit,
				revenue_credit, channel, campaign, term, conversion_type, epoch_us(occurred_at), epoch_us(touch_occurred_at), person_id
				FROM cl_attribution`)...)
			t.Logf("credits %d", len(la))
			requireClose(t, credits(la), credits(sa), "fct_attribution")

			for _, name := range []string{load.DimPerson, load.BridgeIdentity, load.IdentityEdge, load.IdentityConflicts, load.FctConversion,
				load.FctMarkovRemovalEffect, load.FctSpend, load.FctDealStage} {
				requireClose(t, sorted(outRows(t, want, name)), sorted(outRows(t, got, name)), name)
			}
			ws, gs := want.Stats, got.Stats
			require.Equal(t, [4]int{ws.Sessions, ws.Touchpoints, ws.PageViews, ws.Journeys},
				[4]int{gs.Sessions, gs.Touchpoints, gs.PageViews, gs.Journeys}, "sessions, touchpoints, page views, journeys")
			require.Equal(t, ws.ConversionsWithoutTouch, gs.ConversionsWithoutTouch)
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
