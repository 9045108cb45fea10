package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"closedloop/load/redact"
	"closedloop/sql/report"
)

// reportUsage is closedloop help report.
const reportUsage = `closedloop report [--warehouse W] [--out report.html] [--model M]
                  [--from YYYY-MM-DD --to YYYY-MM-DD] [--format html|table]:
reads the warehouse's views and writes the report: revenue and ROI by channel under every
attribution model side by side, campaign ROI, the funnel and the pages people leave from,
the channel paths of buyers, keywords, social networks, content, lead quality by persona,
the deal pipeline, and the health of the last runs.

--format html (the default) writes one self-contained HTML file with charts (--out,
default report.html; it loads nothing from a network); --format table prints the same
sections to the terminal. --model picks the model of the single-model sections (default
linear); --from and --to keep the conversions and spend of those days in the sections whose
view has a day. The warehouse is --warehouse, else CLOSEDLOOP_WAREHOUSE, else
duckdb:closedloop.duckdb: duckdb:PATH (opened read-only: a run writing it meanwhile is
fine), postgres:DSN or parquet:DIR. BigQuery is not supported yet.

Exit codes: 0 success, 1 failed to read or write, 2 bad flags or warehouse.
`

// reportCmd is closedloop report.
func reportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fmt.Fprint(stdout, reportUsage)
			return 0
		}
	}
	fl := flag.NewFlagSet("report", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() { fmt.Fprint(stderr, reportUsage) }
	warehouse := fl.String("warehouse", "", "warehouse to read: duckdb:PATH, postgres:DSN or parquet:DIR (default CLOSEDLOOP_WAREHOUSE, else duckdb:closedloop.duckdb)")
	out := fl.String("out", "report.html", "HTML file to write (--format html)")
	model := fl.String("model", report.DefaultModel, "attribution model of the single-model sections")
	fromS := fl.String("from", "", "first conversion (and spend) day, YYYY-MM-DD")
	toS := fl.String("to", "", "last conversion (and spend) day, YYYY-MM-DD")
	format := fl.String("format", "html", "html (a file with charts) or table (the terminal)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() > 0 {
		return fail(stderr, fmt.Errorf("%w: report: unexpected argument %q (closedloop help report lists the flags)", errUsage, fl.Arg(0)))
	}
	opt, err := reportOptions(*model, *fromS, *toS, *format)
	if err != nil {
		return fail(stderr, err)
	}
	wh := *warehouse
	if wh == "" {
		wh = cmp.Or(os.Getenv("CLOSEDLOOP_WAREHOUSE"), "duckdb:closedloop.duckdb")
	}
	rd, err := openReportReader(ctx, wh)
	if err != nil {
		return fail(stderr, err)
	}
	defer rd.db.Close()
	opt.Warehouse = rd.where
	r, err := report.Build(ctx, rd.db, opt)
	if err != nil {
		return fail(stderr, reportError(wh, err))
	}
	if *format == "table" {
		r.PrintHeader(stdout)
		if err := r.Print(stdout); err != nil {
			return fail(stderr, err)
		}
		return 0
	}
	size, err := writeReport(*out, r)
	if err != nil {
		return fail(stderr, err)
	}
	abs, _ := filepath.Abs(*out)
	fmt.Fprintf(stdout, "closedloop report: %s (%d KB, %d sections; period %s; model %s) from %s\n",
		abs, (size+1023)/1024, len(r.Sections), r.Period(), r.Model, rd.where)
	return 0
}

// reportOptions checks the flags that need no warehouse.
func reportOptions(model, from, to, format string) (report.Options, error) {
	opt := report.Options{Model: model, Now: time.Now()}
	if format != "html" && format != "table" {
		return opt, fmt.Errorf("%w: report: --format: want html or table, got %q", errUsage, format)
	}
	day := func(flag, s string) (time.Time, error) {
		if s == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return t, fmt.Errorf("%w: report: --%s: want a day as YYYY-MM-DD, got %q", errUsage, flag, s)
		}
		return t, nil
	}
	var err error
	if opt.From, err = day("from", from); err != nil {
		return opt, err
	}
	if opt.To, err = day("to", to); err != nil {
		return opt, err
	}
	if !opt.From.IsZero() && !opt.To.IsZero() && opt.From.After(opt.To) {
		return opt, fmt.Errorf("%w: report: --from %s is after --to %s: give a from day on or before the to day", errUsage, from, to)
	}
	return opt, nil
}

// openReportReader opens the warehouse spec for reading, after checking that it is
// one the report reads and that it is there.
func openReportReader(ctx context.Context, spec string) (*demoReader, error) {
	if err := checkWarehouse(spec); err != nil {
		return nil, bad("Warehouse", "%v", err)
	}
	kind, loc, _ := strings.Cut(spec, ":")
	switch kind {
	case "bigquery":
		return nil, fmt.Errorf("%w: report: reading a BigQuery warehouse is not supported yet: query its views in the BigQuery console, "+
			"or in Looker (closedloop lookml); closedloop report reads duckdb:PATH, postgres:DSN and parquet:DIR", errUsage)
	case "duckdb", "parquet":
		if _, err := os.Stat(loc); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: report: the warehouse %s does not exist: run closedloop demo or closedloop run first, "+
				"or give the warehouse with --warehouse (or CLOSEDLOOP_WAREHOUSE)", errUsage, spec)
		} else if err != nil {
			return nil, fmt.Errorf("%w: report: %v", errUsage, err)
		}
	}
	return openDemoReader(ctx, Config{Warehouse: spec})
}

// reportError says what to do about an error of report.Build.
func reportError(spec string, err error) error {
	switch {
	case errors.Is(err, report.ErrUnknownModel):
		return fmt.Errorf("%w: --model: %w", errUsage, err)
	case errors.Is(err, report.ErrNotAWarehouse):
		return fmt.Errorf("%w: %s: %w", errUsage, redact.Spec(spec), err)
	case strings.Contains(err.Error(), "Could not set lock on file"), strings.Contains(err.Error(), "Conflicting lock"):
		// closedloop runs never open the live file for writing (they build PATH.next and
		// rename it): another program does.
		return fmt.Errorf("report: another program has %s open for writing, which DuckDB lets no reader share "+
			"(closedloop runs never do: they write a copy and rename it): close it, or open it read-only there "+
			"(duckdb -readonly), and run closedloop report again: %w", redact.Spec(spec), err)
	}
	return err
}

// writeReport writes r's HTML to path through a temporary file beside it, so that a
// browser never reads half a report, and returns its size.
func writeReport(path string, r *report.Report) (int, error) {
	var buf bytes.Buffer
	if err := r.HTML(&buf); err != nil {
		return 0, err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".report-*.html")
	if err != nil {
		return 0, fmt.Errorf("%w: report: --out: %v", errUsage, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("report: write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("report: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("report: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, fmt.Errorf("report: write %s: %w", path, err)
	}
	return buf.Len(), nil
}

// demoReportLine starts the demo's line that says where its HTML report is.
const demoReportLine = "The report with charts (closedloop report writes it again): "

// demoReportPath is where the demo writes its HTML report: beside a DuckDB warehouse
// file, else in the current directory.
func demoReportPath(warehouse string) string {
	kind, loc, _ := strings.Cut(warehouse, ":")
	if kind == "duckdb" {
		loc, _ = filepath.Abs(loc)
		return filepath.Join(filepath.Dir(loc), "report.html")
	}
	abs, _ := filepath.Abs("report.html")
	return abs
}
