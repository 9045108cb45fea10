// Command closedloop is the nightly job that ties marketing touches to CRM outcomes:
// it extracts analytics events, CRM records and ad spend, stitches identities,
// attributes conversions and revenue to touches under several models, and loads fact
// tables and SQL views into a warehouse (an embedded DuckDB file by default).
//
// Usage:
//
//	closedloop run [flags]     the nightly job (configuration: closedloop help run)
//	closedloop check [flags]   run's settings checked: every source and the warehouse opened, nothing written
//	closedloop demo            the job on the bundled sample, into ./closedloop.duckdb
//	closedloop attribute       the models on a paths: or touches: input, no warehouse
//	closedloop report          the report of a warehouse: an HTML file with charts, or a table
//	closedloop lookml --out D  LookML for every table and view
//	closedloop gen --out D     synthetic GA4, HubSpot and spend files (and a touch log) at any scale
//	closedloop version
//	closedloop help [command]
//
// Exit codes: 0 success, 1 failed run, 2 bad configuration or usage.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"syscall"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
	"closedloop/load/redact"
	"closedloop/progress"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if os.Getenv("GOGC") == "" {
		// The run's live heap is its people and sessions, and it allocates a batch of
		// events after another: collecting at half the live heap, not all of it,
		// holds a fifth less memory at the same speed (bench/run, 2.15M events).
		debug.SetGCPercent(50)
	}
	if path := os.Getenv("CLOSEDLOOP_CPUPROFILE"); path != "" { // for developers: go tool pprof
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if code != 0 {
		pprof.StopCPUProfile()
		os.Exit(code)
	}
}

// Main runs one command and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	cmd, rest := args[0], args[1:]
	if (cmd == "run" || cmd == "demo" || cmd == "check") && slices.ContainsFunc(rest, func(a string) bool { return a == "-h" || a == "--help" || a == "-help" }) {
		return help([]string{cmd}, stdout, stderr)
	}
	switch cmd {
	case "run":
		cfg, err := loadConfig("run", rest, stderr)
		if err != nil {
			return fail(stderr, err)
		}
		if cfg.DryRun {
			log := newLogger(cfg, stderr)
			if err := dryRun(ctx, cfg, stdout, log); err != nil {
				log.Error("dry run failed", "error", err.Error())
				return fail(stderr, err)
			}
			return 0
		}
		rep, log := startProgress(cfg, stderr)
		res, err := runJobWith(ctx, cfg, memory.NewGoAllocator(), log, rep)
		if err != nil {
			log.Error("run failed", "error", err.Error())
			return fail(stderr, err)
		}
		fmt.Fprintf(stdout, "run %s: %d touchpoints, %d conversions, %d persons, %d rows rejected -> %s\n",
			res.RunID, res.Stats.Touchpoints, res.Stats.Conversions, res.Stats.Persons, res.Rejected, redact.Spec(cfg.Warehouse))
		return 0
	case "check":
		return checkCmd(ctx, rest, stdout, stderr)
	case "demo":
		return demo(ctx, rest, stdout, stderr)
	case "attribute":
		return attribute(ctx, rest, stdout, stderr)
	case "lookml":
		return lookmlCmd(ctx, rest, stdout, stderr)
	case "report":
		return reportCmd(ctx, rest, stdout, stderr)
	case "dbt":
		return dbtCmd(ctx, rest, stdout, stderr)
	case "gen":
		return gen(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "closedloop", version)
		return 0
	case "help", "-h", "--help", "-help":
		return help(rest, stdout, stderr)
	}
	fmt.Fprintf(stderr, "closedloop: unknown command %q\n\n", cmd)
	usage(stderr)
	return 2
}

// fail prints err and returns its exit code: 2 for configuration, 1 otherwise.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "closedloop:", redact.String(err.Error()))
	if errors.Is(err, extract.ErrConfig) {
		return 2
	}
	return 1
}

func usage(w io.Writer) {
	fmt.Fprint(w, `closedloop ties every deal back to the marketing touches that produced it.

Commands:
  run       the nightly job: extract, stitch identities, attribute, load the warehouse
  check     run's settings checked before a first run: sources and warehouse opened, nothing written
  demo      the job on the bundled sample data, into ./closedloop.duckdb, with a report
  attribute the models on aggregated paths or a touch log, no warehouse: closedloop attribute --input paths:Data.csv
  report    the report of a warehouse, an HTML file with charts: closedloop report --out report.html
  lookml    LookML views, model and explores for Looker: closedloop lookml --out DIR
  dbt       dbt sources.yml (every table and view, tests, freshness) and exposures.yml: closedloop dbt --out DIR
  gen       synthetic GA4, HubSpot and spend files and a touch log at any scale: closedloop gen --out DIR --people N
  version   print the version
  help      help on a command: closedloop help run

`)
}

func help(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stdout)
		return 0
	}
	switch args[0] {
	case "run":
		fmt.Fprint(stdout, `closedloop run [flags]: the nightly job.

Each setting is an environment variable and a flag (the flag wins). Sources are
KIND:LOCATION specs, several separated by commas.

`)
		printSettings(stdout)
		fmt.Fprint(stdout, `
Example:
  closedloop run --analytics 'touches:attribution data.csv' --from 2018-07-01 --to 2018-07-31 \
    --warehouse duckdb:out.duckdb

Exit codes: 0 success, 1 failed run (the warehouse is left as it was), 2 bad configuration.
`)
	case "check":
		fmt.Fprint(stdout, `closedloop check [flags]: checks closedloop run's settings (the same variables and
flags: closedloop help run) without running it and without writing anything:
  - the configuration, as run validates it;
  - each source: a glob's files (how many, their size, and for GA4 the days they hold
    against the range), a folder's required files, an API token (one authenticated
    request), a GA4 BigQuery export's tables (listed, no row read);
  - the warehouse: writable (no file or directory is created) and its writer lock free
    (DuckDB, Parquet: who holds it; PostgreSQL: CREATE on the schema and the run lock;
    BigQuery: the dataset and its location).
One line per item: ok, warn or FAIL, the item, and for a failure what to do.

Example:
  closedloop check --analytics 'ga4:/exports/events_*.ndjson.gz' --crm hubspot:api \
    --warehouse duckdb:/data/closedloop.duckdb

Exit codes: 0 every item ok (warnings allowed), 1 an item failed, 2 bad configuration.
`)
	case "demo":
		fmt.Fprint(stdout, `closedloop demo [--warehouse duckdb:PATH | postgres:DSN | parquet:DIR] [--channel-rules FILE]
                [--personas FILE] [--force]:
runs the job on the sample that travels inside the binary (a synthetic B2B company: GA4
export files, HubSpot exports, ad spend; 2026-01-01..2026-03-02) into ./closedloop.duckdb
or the warehouse given, prints a short report read from it, and writes the full report with
charts to report.html (beside a DuckDB file, else in the current directory; see closedloop
help report).

The demo refuses a warehouse that holds other data than its own (its run_log names other
sources: ./closedloop.duckdb is also closedloop run's default) unless --force is given.

closedloop demo --write-sample DIR [--warehouse W]: writes the sample's files into DIR and
prints the closedloop run command that loads them as the demo does, into any warehouse
(bigquery:PROJECT.DATASET too).
`)
	case "attribute":
		return attribute(context.Background(), []string{"--help"}, stdout, stdout)
	case "gen":
		return gen(context.Background(), []string{"--help"}, stdout, stdout)
	case "report":
		fmt.Fprint(stdout, reportUsage)
	case "dbt":
		fmt.Fprint(stdout, dbtUsage)
	case "version":
		fmt.Fprintln(stdout, "closedloop version: print the version.")
	default:
		fmt.Fprintf(stderr, "closedloop: no help for %q\n", args[0])
		return 2
	}
	return 0
}

// redactAttr removes credentials from a log attribute's string or error value.
func redactAttr(a slog.Attr) slog.Attr {
	switch v := a.Value.Resolve(); v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(redact.String(v.String()))
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			a.Value = slog.StringValue(redact.String(err.Error()))
		}
	}
	return a
}

// newLogger logs JSON for log collectors (Cloud Logging reads severity and message)
// unless stderr is a terminal.
func newLogger(cfg Config, stderr io.Writer) *slog.Logger {
	return newLoggerTo(cfg, stderr, isTerminal(stderr))
}

// isTerminal tells whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// newLoggerTo is newLogger writing to w, text when tty says stderr is a terminal.
func newLoggerTo(cfg Config, w io.Writer, tty bool) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.LogFormat
	if format == "auto" {
		format = "json"
		if tty {
			format = "text"
		}
	}
	// No credential reaches the log, whoever wrote the line: every string value
	// (messages, specs, errors) is redacted.
	opts.ReplaceAttr = func(_ []string, a slog.Attr) slog.Attr { return redactAttr(a) }
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		a = redactAttr(a)
		if len(groups) == 0 {
			switch a.Key {
			case slog.LevelKey:
				a.Key = "severity"
			case slog.MessageKey:
				a.Key = "message"
			}
		}
		return a
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// startProgress returns the run's progress display and the logger that writes beside
// it: a terminal display on stderr when cfg.Progress is always, or auto and stderr is
// a terminal (log lines then print above its bars); else no display (nil: the run
// logs the figures) and newLogger's logger.
func startProgress(cfg Config, stderr io.Writer) (*progress.Reporter, *slog.Logger) {
	tty := isTerminal(stderr)
	if cfg.Progress == "never" || (cfg.Progress == "auto" && !tty) {
		return nil, newLoggerTo(cfg, stderr, tty)
	}
	rep := progress.NewTerminal(progress.TerminalConfig{Out: stderr})
	return rep, newLoggerTo(cfg, rep.Writer(), tty)
}
