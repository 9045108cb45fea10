package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract/hubspot"
	"closedloop/extract/tables/tablestest"
	"closedloop/load/duckdb"
	"closedloop/sql/report"
)

// sampleReport is the report the demo prints (report.Terminal) of the DuckDB
// warehouse wh, with a fixed header.
func sampleReport(t *testing.T, wh string) string {
	t.Helper()
	db, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer db.Close()
	r, err := report.Build(context.Background(), db, report.Options{Warehouse: "the sample", Now: sampleTo})
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, r.Only(report.Terminal...).Print(&b))
	return b.String()
}

// TestSampleFromTables: the demo's sample with its CRM and ad spend read from tables in
// DuckDB and in PostgreSQL instead of files gives the demo's report and warehouse: the
// HubSpot export converted to Fivetran's tables (hubspot.WriteFivetran) in one schema,
// testdata/sample/spend/spend.csv loaded as table spend in another. run_log names the
// table sources, and closedloop check lists their tables.
func TestSampleFromTables(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the sample twice")
	}
	demoWH, _ := sharedDemo(t)
	want := sampleReport(t, demoWH)
	demo, err := duckdb.OpenReadOnly(demoWH)
	require.NoError(t, err)
	defer demo.Close()

	spendDir := t.TempDir()
	b, err := os.ReadFile("../../testdata/sample/spend/spend.csv")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(spendDir, "spend.csv"), b, 0o644))

	crmDir := t.TempDir()
	require.NoError(t, hubspot.WriteFivetran(context.Background(), "../../testdata/sample/hubspot", crmDir))

	for _, tt := range []struct {
		kind string
		crm  bool // the CRM from tables too, else the sample's export folder
	}{{"duckdb", false}, {"postgres", false}, {"duckdb", true}, {"postgres", true}} {
		name := tt.kind + "/spend"
		if tt.crm {
			name = tt.kind + "/spend+hubspot"
		}
		t.Run(name, func(t *testing.T) {
			kind := tt.kind
			db := tablestest.LoadCSVFolder(t, kind, spendDir)
			crm := tablestest.LoadCSVFolder(t, kind, crmDir, "property_ga_client_id")
			base := t.TempDir()
			require.NoError(t, unpackSample(filepath.Join(base, "sample")))
			wh := filepath.Join(t.TempDir(), "tables.duckdb")
			cfg, err := demoConfig(base, "sample", "duckdb:"+wh)
			require.NoError(t, err)
			cfg.Spend = "spend:" + db.Location
			if tt.crm {
				cfg.CRM = "hubspot:" + crm.Location
			}
			require.NoError(t, cfg.validate())

			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			res, err := runJob(context.Background(), cfg, memory.NewGoAllocator(), log)
			require.NoError(t, err)
			require.Zero(t, res.Rejected)

			require.Equal(t, want, sampleReport(t, wh), "the report")
			ran, err := duckdb.OpenReadOnly(wh)
			require.NoError(t, err)
			defer ran.Close()
			for _, q := range []string{
				`SELECT count(*), round(sum(revenue), 2) FROM fct_conversion`,
				`SELECT count(*), round(sum(revenue_credit), 2) FROM fct_attribution`,
				`SELECT count(*), round(sum(cost), 2) FROM fct_spend`,
				`SELECT count(DISTINCT campaign), count(DISTINCT channel) FROM fct_spend`,
				`SELECT count(*), count(DISTINCT persona) FROM dim_person`,
			} {
				require.Equal(t, pair(t, demo, q), pair(t, ran, q), q)
			}
			var inputs string
			require.NoError(t, ran.QueryRow(`SELECT CAST(inputs AS VARCHAR) FROM run_log`).Scan(&inputs))
			require.Contains(t, inputs, "spend:"+strings.SplitN(db.Location, "?", 2)[0])
			if tt.crm {
				require.Contains(t, inputs, "hubspot:"+strings.SplitN(crm.Location, "?", 2)[0])
			}

			items := runChecks(context.Background(), cfg, log)
			for _, it := range items {
				if strings.HasPrefix(it.item, "source ") {
					require.Equal(t, statusOK, it.status, "%s: %s", it.item, it.detail)
				}
				if strings.HasPrefix(it.item, "source spend:") {
					require.Equal(t, "spend tables: spend (generic layout)", it.detail)
				}
			}
		})
	}
}

// TestTableSourceConfig: a malformed table location is a configuration error (exit
// 2) before anything connects; a missing table is one naming it, when the run and
// check open the source.
func TestTableSourceConfig(t *testing.T) {
	for _, tt := range []struct{ spend, want string }{
		{"spend:bigquery://my-project", "want bigquery://PROJECT/DATASET"},
		{"spend:duckdb:?schema=x", "want duckdb:PATH?schema=S"},
		{"spend:postgres://db.example/marketing?schema=", "empty schema"},
	} {
		code, _, stderr := runMain(t, "check", "--analytics", "touches:testdata/touches.csv", "--spend", tt.spend)
		require.Equal(t, 2, code, stderr)
		require.Contains(t, stderr, tt.want)
		require.Contains(t, stderr, "CLOSEDLOOP_SPEND")
	}

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "campaign_stats.csv"), []byte("id,date,cost_micros\n1,2026-01-05,1\n"), 0o644))
	db := tablestest.LoadCSVFolder(t, "duckdb", dir)
	wh := filepath.Join(t.TempDir(), "wh.duckdb")
	args := []string{"--analytics", "touches:testdata/touches.csv", "--spend", "spend:" + db.Location, "--warehouse", "duckdb:" + wh,
		"--from", "2026-01-01", "--to", "2026-01-31"}
	code, _, stderr := runMain(t, append([]string{"run"}, args...)...)
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "table campaign_history, which holds the campaign names, is missing")
	code, out, _ := runMain(t, append([]string{"check"}, args...)...)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "FAIL  source spend:duckdb:")
	require.Contains(t, out, "campaign_history")
}
