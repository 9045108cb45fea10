package loadtest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Checker is a check of what closedloop generates, run by a tools/<name>/check.js
// installed from npm: ZetaSQL for the BigQuery views, lookml-parser for the LookML.
type Checker struct {
	Name    string        // what the check is, for the skip message ("ZetaSQL")
	Dir     string        // the tool's folder, e.g. ../../tools/zetasql from a package's tests
	Package string        // the npm package check.js needs, as its node_modules path
	Require string        // the variable that makes a missing tool a failure (CI sets it to 1)
	Node    string        // the Node.js versions it runs on, for the install hint (">= 18")
	Timeout time.Duration // how long check.js may take
}

// Run runs check.js with args and stdin and returns what it printed. Without node or
// the package installed it skips t, or fails it when c.Require is "1".
func (c Checker) Run(t testing.TB, stdin []byte, args ...string) []byte {
	t.Helper()
	dir, err := filepath.Abs(c.Dir)
	require.NoError(t, err)
	missing := func(what string) {
		msg := c.Name + " check not run: " + what + "; install it with `npm ci --prefix tools/" + filepath.Base(dir) + "` (node " + c.Node + ")"
		if os.Getenv(c.Require) == "1" {
			t.Fatal(msg + ", which " + c.Require + "=1 requires")
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", c.Package, "package.json")); err != nil {
		missing(dir + "/node_modules has no " + c.Package)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join(dir, "check.js")}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "check.js: %s", stderr.String())
	return stdout.Bytes()
}
