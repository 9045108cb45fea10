package views_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/load"
	"closedloop/sql/viewtest"
)

// unclassified is the persona of a person without a matching rule, without a
// dim_person row, or of a row without a person.
const unclassified = "Unclassified"

// personaOf returns the persona of each person of the fixture's dim_person.
func personaOf(fixture map[string]viewtest.Rows) map[string]string {
	out := map[string]string{}
	for _, r := range fixture["dim_person"] {
		p, _ := r["persona"].(string)
		if p == "" {
			p = unclassified
		}
		out[r["person_id"].(string)] = p
	}
	return out
}

// onlyPersona is the fixture restricted to one persona's people: every row of a table
// with a person_id column whose person is of another persona is left out; tables
// without persons (fct_spend, fct_markov_removal_effect, ...) are kept whole.
func onlyPersona(fixture map[string]viewtest.Rows, persona string) map[string]viewtest.Rows {
	of := personaOf(fixture)
	out := map[string]viewtest.Rows{}
	for name, rows := range fixture {
		spec, _ := load.Lookup(name)
		if spec.Schema == nil || spec.Schema.FieldIndices("person_id") == nil {
			out[name] = rows
			continue
		}
		var kept viewtest.Rows
		for _, r := range rows {
			p := unclassified
			if id, ok := r["person_id"].(string); ok {
				if q, ok := of[id]; ok {
					p = q
				}
			}
			if p == persona {
				kept = append(kept, r)
			}
		}
		out[name] = kept
	}
	return out
}

// personasIn lists the personas a fixture's rows belong to, sorted.
func personasIn(fixture map[string]viewtest.Rows) []string {
	of := personaOf(fixture)
	seen := map[string]bool{}
	for _, p := range of {
		seen[p] = true
	}
	for name, rows := range fixture {
		spec, _ := load.Lookup(name)
		if spec.Schema == nil || spec.Schema.FieldIndices("person_id") == nil {
			continue
		}
		for _, r := range rows {
			id, _ := r["person_id"].(string)
			if _, ok := of[id]; !ok {
				seen[unclassified] = true
			}
		}
	}
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// checkByPersona checks the persona variant of a view (base + "_by_persona") against
// the view itself: its columns are persona followed by the view's columns, and for
// every persona of the fixture its rows of that persona are exactly what the view
// shows on a warehouse holding only that persona's people (see onlyPersona). cols is
// the list of columns compared (in both), order an ORDER BY clause that makes the
// order total. It returns the variant's rows per persona, for hand-checked asserts.
func checkByPersona(t *testing.T, base string, fixture map[string]viewtest.Rows, cols, order string) map[string][]string {
	t.Helper()
	variant := base + "_by_persona"
	personas := personasIn(fixture)
	require.GreaterOrEqual(t, len(personas), 2, "a persona fixture needs people of two personas at least")
	whole := viewtest.Load(t, fixture)
	got := map[string][]string{}
	for i, w := range whole {
		baseCols := viewColumns(t, w.DB, base)
		assert.Equal(t, append([]string{"persona STRING"}, baseCols...), viewColumns(t, w.DB, variant),
			"%s: %s must have persona then the columns of %s", w.Dialect, variant, base)
		for _, p := range viewtest.Query(t, w.DB, `SELECT DISTINCT persona FROM `+variant+` ORDER BY persona`) {
			if !slices.Contains(personas, p) {
				t.Errorf("%s: %s has persona %q, which no person of the fixture has", w.Dialect, variant, p)
			}
		}
		nonEmpty := 0
		for _, p := range personas {
			rows := viewtest.Query(t, w.DB, `SELECT `+cols+` FROM `+variant+` WHERE persona = $1 ORDER BY `+order, p)
			only := viewtest.Load(t, onlyPersona(fixture, p))
			require.Equal(t, w.Dialect, only[i].Dialect)
			want := viewtest.Query(t, only[i].DB, `SELECT `+cols+` FROM `+base+` ORDER BY `+order)
			assert.Equal(t, want, rows, "%s: %s for persona %q differs from %s on that persona's people", w.Dialect, variant, p, base)
			if len(rows) > 0 {
				nonEmpty++
			}
			if i == 0 {
				got[p] = rows
			}
		}
		assert.GreaterOrEqual(t, nonEmpty, 2, "%s: the fixture should give rows to two personas at least", variant)
	}
	return got
}
