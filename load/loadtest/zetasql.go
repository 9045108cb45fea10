package loadtest

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ZColumn is a column of a ZetaSQL catalog table, its type a BigQuery type name
// (ARRAY<...> and STRUCT<...> too): tools/zetasql/check.js's input.
type ZColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// ZTable is a table of a ZetaSQL catalog.
type ZTable struct {
	Name    string    `json:"name"`
	Columns []ZColumn `json:"columns"`
}

// ZStatement is a statement check.js analyzes.
type ZStatement struct {
	Name string `json:"name"`
	SQL  string `json:"sql"`
}

// ZResult is check.js's verdict on one statement.
type ZResult struct {
	Name    string    `json:"name"`
	OK      bool      `json:"ok"`
	Kind    string    `json:"kind"`
	Error   string    `json:"error"`
	Columns []ZColumn `json:"columns"`
}

// ZetaSQL runs tools/zetasql/check.js (root: the repository's, relative to the test's
// package) on input (its JSON document, whose "statements" are statements) and returns
// a result per statement, in order. It skips without node or the npm package, unless
// CLOSEDLOOP_REQUIRE_ZETASQL=1.
func ZetaSQL(t *testing.T, root string, input map[string]any, statements []ZStatement) []ZResult {
	t.Helper()
	input["statements"] = statements
	in, err := json.Marshal(input)
	require.NoError(t, err)
	printed := Checker{Name: "ZetaSQL", Dir: filepath.Join(root, "tools", "zetasql"), Package: "@fivetrandevelopers/zetasql",
		Require: "CLOSEDLOOP_REQUIRE_ZETASQL", Node: ">= 18", Timeout: 2 * time.Minute}.Run(t, in)
	var out struct {
		Results []ZResult `json:"results"`
	}
	require.NoError(t, json.Unmarshal(printed, &out), "check.js printed %q", printed)
	require.Len(t, out.Results, len(statements))
	return out.Results
}
