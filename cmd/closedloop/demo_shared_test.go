package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// TestMain removes the demo warehouse the tests share (sharedDemo). With reexecMain
// set, the test binary is closedloop itself (closedloopCommand).
func TestMain(m *testing.M) {
	if os.Getenv(reexecMain) != "" {
		main()
		os.Exit(0)
	}
	// The package's small input files hold rows that are bad on purpose (one in 18 of
	// testdata/touches.csv), more than the default CLOSEDLOOP_MAX_REJECT_RATIO allows;
	// TestTooManyRejectedRowsFailTheRun runs with the default.
	os.Setenv("CLOSEDLOOP_MAX_REJECT_RATIO", "0.3")
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// shared is the demo run into a DuckDB file once for the tests that only read it.
var shared struct {
	once         sync.Once
	dir, wh, out string
	err          error
}

// sharedDemo returns the DuckDB file of a demo run and what the demo printed; the
// first call runs it, later calls of the test binary reuse it. Tests must not write
// to it.
func sharedDemo(t *testing.T) (wh, stdout string) {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "closedloop-demo-test-")
		if shared.err != nil {
			return
		}
		shared.wh = filepath.Join(shared.dir, "demo.duckdb")
		var out, errw bytes.Buffer
		if code := Main(context.Background(), []string{"demo", "--warehouse", "duckdb:" + shared.wh}, &out, &errw); code != 0 {
			shared.err = fmt.Errorf("demo exited %d: %s", code, errw.String())
		}
		shared.out = out.String()
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.wh, shared.out
}

// reportBody is the demo's report without the lines that name the warehouse: the
// first (where the sample is), and the report.html line and the Next: hint at the end.
func reportBody(t *testing.T, out string) string {
	t.Helper()
	lines := strings.Split(out, "\n")
	end := len(lines)
	for i, l := range lines {
		if strings.HasPrefix(l, "Next: ") || strings.HasPrefix(l, demoReportLine) {
			end = i
			break
		}
	}
	if len(lines) < 2 || end == len(lines) {
		t.Fatalf("not a demo report:\n%s", out)
	}
	return strings.Join(lines[1:end], "\n")
}

var columnGap = regexp.MustCompile(`\s{2,}`)

// revenueTable parses the report's "Revenue of won deals by channel" table: cells by
// channel and column header, as printed.
func revenueTable(t *testing.T, out string) map[string]map[string]string {
	t.Helper()
	lines := strings.Split(out, "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "Revenue of won deals by channel") {
			start = i + 1
			break
		}
	}
	if start < 0 || start >= len(lines) {
		t.Fatalf("no revenue table in the report:\n%s", out)
	}
	header := columnGap.Split(strings.TrimSpace(lines[start]), -1)
	table := map[string]map[string]string{}
	for _, l := range lines[start+1:] {
		if strings.TrimSpace(l) == "" {
			break
		}
		cells := columnGap.Split(strings.TrimSpace(l), -1)
		if len(cells) != len(header) {
			t.Fatalf("revenue table row %q has %d cells, the header %d", l, len(cells), len(header))
		}
		row := map[string]string{}
		for i, c := range cells[1:] {
			row[header[i+1]] = c
		}
		table[cells[0]] = row
	}
	return table
}
