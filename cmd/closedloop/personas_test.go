package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/load/duckdb"
	"closedloop/transform/persona"
)

// TestDemoPersonas runs the sample's persona rules (testdata/sample/personas.txt) on
// the sample: every persona they name has people, leads and a row in v_lead_quality,
// and the sample's story holds: enterprise IT buyers turn leads into customers far
// more often than developers, and students never buy.
func TestDemoPersonas(t *testing.T) {
	wh := filepath.Join(t.TempDir(), "demo.duckdb")
	code, out, stderr := runMain(t, "demo", "--warehouse", "duckdb:"+wh)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "Lead quality by channel")
	rules, err := persona.Load("../../testdata/sample/personas.txt")
	require.NoError(t, err)

	db, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer db.Close()
	rate := map[string]float64{}
	for _, p := range rules.Personas() {
		assert.Positive(t, query(t, db, `SELECT count(*) FROM dim_person WHERE persona = '`+p+`'`), "people of %s", p)
		leads := query(t, db, `SELECT count(*) FROM v_funnel WHERE breakdown = 'persona' AND segment = '`+p+`' AND stage = 'lead' AND people > 0`)
		assert.Equal(t, 1, leads, "leads of %s", p)
		var l, c float64
		require.NoError(t, db.QueryRow(`SELECT SUM(leads), SUM(customers) FROM v_lead_quality
			WHERE model = 'linear' AND scope = 'person' AND breakdown = 'channel' AND persona = ?`, p).Scan(&l, &c))
		require.Positive(t, l, p)
		rate[p] = c / l
	}
	assert.Greater(t, rate["Enterprise IT buyer"], 4*rate["Developer"], "%v", rate)
	assert.Zero(t, rate["Student or job seeker"], "%v", rate)
	// The leads of v_lead_quality are v_funnel's: every lead is credited once per model, scope and breakdown.
	assert.Equal(t, query(t, db, `SELECT people FROM v_funnel WHERE breakdown = 'all' AND stage = 'lead'`),
		query(t, db, `SELECT CAST(round(SUM(leads)) AS INTEGER) FROM v_lead_quality WHERE model = 'markov' AND scope = 'person' AND breakdown = 'keyword'`))
}
