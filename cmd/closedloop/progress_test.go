package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"

	"closedloop/load/duckdb"
	"closedloop/transform/attribution"
)

// reexecMain makes the test binary run main (TestMain): a closedloop binary without a
// build of its own.
const reexecMain = "CLOSEDLOOP_TEST_REEXEC_MAIN"

// closedloopCommand is closedloop with args, as a process of its own.
func closedloopCommand(t *testing.T, args ...string) *exec.Cmd {
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.CommandContext(t.Context(), exe, args...)
	cmd.Env = append(os.Environ(), reexecMain+"=1")
	return cmd
}

// onTerminal runs cmd with its stderr on a pseudo-terminal of 140 columns and returns
// what it wrote there and to stdout.
func onTerminal(t *testing.T, cmd *exec.Cmd) (stdout, terminal string) {
	ptmx, tty, err := pty.Open()
	require.NoError(t, err)
	defer ptmx.Close()
	require.NoError(t, pty.Setsize(ptmx, &pty.Winsize{Rows: 50, Cols: 140}))
	var out, screen bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, tty
	require.NoError(t, cmd.Start())
	tty.Close() // the child holds it: reading ends (EIO) when the child is gone
	read := make(chan struct{})
	go func() {
		defer close(read)
		io.Copy(&screen, ptmx)
	}()
	err = cmd.Wait()
	<-read
	require.NoError(t, err, "%s", screen.String())
	return out.String(), screen.String()
}

// sampleRun is closedloop run over the bundled sample's files into wh.
func sampleRun(wh string) []string {
	sample := filepath.Join("..", "..", "testdata", "sample")
	return []string{"run", "--analytics", "ga4:" + filepath.Join(sample, "ga4", "*.ndjson.gz"),
		"--crm", "hubspot:" + filepath.Join(sample, "hubspot"), "--spend", "spend:" + filepath.Join(sample, "spend", "*.csv"),
		"--from", "2026-01-01", "--to", "2026-03-02", "--full-refresh", "--warehouse", "duckdb:" + wh}
}

// stagesWanted are stages every run over the sample ends: each source read, the
// transform's steps, every model, every table loaded before run_log.
func stagesWanted(sources []string) []string {
	want := []string{"identity", "sessions", "page_views", "conversions", "journeys", "attribution", "persons", "spend",
		"deal_stages", "load:fct_touchpoint", "load:fct_attribution", "load:dim_person"}
	for _, s := range sources {
		want = append(want, "read:"+s)
	}
	for _, m := range attribution.Names() {
		want = append(want, "model:"+m)
	}
	return want
}

// TestProgressOnATerminal runs closedloop run over the sample twice, its stderr on a
// pseudo-terminal and on a pipe: on the terminal, each source's line with its rows,
// bytes and rate, a line per stage, the summary table; on the pipe, no display at all
// but JSON log lines with the same figures. Each run's run_log.stage_seconds holds
// every stage. Then the demo on a terminal shows the same display.
func TestProgressOnATerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs closedloop three times")
	}
	sources := []string{"ga4:" + filepath.Join("..", "..", "testdata", "sample", "ga4", "*.ndjson.gz"),
		"hubspot:" + filepath.Join("..", "..", "testdata", "sample", "hubspot"),
		"spend:" + filepath.Join("..", "..", "testdata", "sample", "spend", "*.csv")}
	dir := t.TempDir()

	// The terminal.
	stdout, screen := onTerminal(t, closedloopCommand(t, sampleRun(filepath.Join(dir, "tty.duckdb"))...))
	require.Regexp(t, `^run r_\S+: \d+ touchpoints, \d+ conversions, \d+ persons, 0 rows rejected -> duckdb:`, stdout)
	require.Equal(t, 1, strings.Count(stdout, "\n"), "stdout keeps its one line")
	termRows := map[string]int64{}
	for _, src := range sources {
		m := regexp.MustCompile(`✓ read ` + regexp.QuoteMeta(src) + `: ([\d,]+) rows, [\d.]+ [KMG]?i?B in [\d.]+s \([\d.]+ [KMG]?i?B/s\)`).FindStringSubmatch(screen)
		require.NotNil(t, m, "no line of %s on the terminal:\n%s", src, screen)
		n, err := strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
		require.NoError(t, err)
		termRows[src] = n
	}
	for _, st := range stagesWanted(nil) {
		require.Regexp(t, `✓ `+regexp.QuoteMeta(st)+` +\d+\.\d{3}s`, screen)
	}
	summary := screen[strings.LastIndex(screen, "✓ run finished in "):]
	for _, re := range []string{`table +rows`, `fct_touchpoint +[\d,]+`, `rows rejected +0`, `stage +seconds`, `model:markov +\d+\.\d{3}`} {
		require.Regexp(t, `(?m)^\s*`+re+`\s*$`, summary)
	}
	require.Contains(t, screen, "level=INFO msg=\"run starting\"", "the text log prints above the bars")
	requireStageSeconds(t, filepath.Join(dir, "tty.duckdb"), sources)

	// A pipe.
	cmd := closedloopCommand(t, sampleRun(filepath.Join(dir, "pipe.duckdb"))...)
	var out, errw bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errw
	require.NoError(t, cmd.Run(), errw.String())
	logged := errw.String()
	for _, no := range []string{"\r", "\x1b", "█", "░", "✓", "⠋", "run finished in"} {
		require.NotContains(t, logged, no, "a display on a pipe")
	}
	pipeRows := map[string]int64{}
	stages := map[string]bool{}
	var summaryLine map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(logged), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "not a JSON line: %q", line)
		switch m["message"] {
		case "source read":
			require.Positive(t, m["bytes"], line)
			require.GreaterOrEqual(t, m["seconds"], 0.0, line)
			pipeRows[m["source"].(string)] = int64(m["rows"].(float64))
		case "stage finished":
			require.GreaterOrEqual(t, m["seconds"], 0.0, line)
			stages[m["stage"].(string)] = true
		case "run summary":
			summaryLine = m
		}
	}
	require.Equal(t, termRows, pipeRows, "the log's rows are the terminal's")
	for _, st := range stagesWanted(nil) {
		require.True(t, stages[st], "no log line of stage %s", st)
	}
	require.NotNil(t, summaryLine, "no run summary in the log")
	require.Equal(t, "success", summaryLine["status"])
	require.Equal(t, 0.0, summaryLine["rejected"])
	require.Positive(t, summaryLine["rows"].(map[string]any)["fct_touchpoint"])
	for _, st := range stagesWanted(sources) {
		require.Contains(t, summaryLine["stage_seconds"], st)
	}
	requireStageSeconds(t, filepath.Join(dir, "pipe.duckdb"), sources)

	// The demo, on a terminal.
	stdout, screen = onTerminal(t, closedloopCommand(t, "demo", "--warehouse", "duckdb:"+filepath.Join(dir, "demo.duckdb")))
	require.Contains(t, stdout, "closedloop demo: the sample")
	require.Regexp(t, `✓ read ga4:sample/ga4/\*\.ndjson\.gz: [\d,]+ rows, [\d.]+ [KMG]?i?B in `, screen)
	require.Regexp(t, `✓ model:shapley +\d+\.\d{3}s`, screen)
	require.Contains(t, screen, "✓ run finished in ")
}

// requireStageSeconds checks wh's run_log.stage_seconds: a JSON object holding every
// stage a run over the sample ends, none negative.
func requireStageSeconds(t *testing.T, wh string, sources []string) {
	t.Helper()
	db, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer db.Close()
	var text string
	require.NoError(t, db.QueryRow(`SELECT stage_seconds FROM run_log`).Scan(&text))
	var secs map[string]float64
	require.NoError(t, json.Unmarshal([]byte(text), &secs), text)
	for _, st := range stagesWanted(sources) {
		require.Contains(t, secs, st, text)
	}
	for st, s := range secs {
		require.GreaterOrEqual(t, s, 0.0, st)
	}
}
