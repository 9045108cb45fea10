package main

import (
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"closedloop/extract/synth"
)

// genUsage is the help of `closedloop gen`.
const genUsage = `closedloop gen (--out DIR | --touches FILE | both) [--people N] [--days D] [--from DATE] [--seed S]:
generate a synthetic data set at any scale: the visitors of a B2B software company's site,
their HubSpot contacts and deals, and its ad spend, simulated over a period by the
generator of the demo's sample (extract/synth). The same flags give the same bytes.

  --out DIR       GA4 export files (DIR/ga4/events_YYYYMMDD.ndjson.gz), a HubSpot export
                  folder (DIR/hubspot) and ad spend (DIR/spend/spend.csv); gen prints the
                  closedloop run command that loads them
  --touches FILE  a touch log cookie,time,interaction,conversion,conversion_value,channel
                  (the public "Multi-Touch Attribution" layout; FILE.gz is gzipped) of the
                  same simulation: one impression per GA4 session, on its cookie and GA4
                  channel; one conversion per won deal, worth the deal's amount, on the
                  buyer's last session before the close

Give --out, --touches or both: each writes only what it names. --touches alone is the
quick way to a large touch log, as no GA4 event is drawn. Memory grows with people and
sessions (at its peak about 0.5 KB a person), not with events or rows.
`

// Bounds of gen's flags: synth's own (people index in a 28-bit session key, ten years).
const (
	genMaxPeople = 1 << 28
	genMaxDays   = 3660
)

// gen is `closedloop gen`.
func gen(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("gen", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprint(stderr, genUsage, "\nFlags:\n")
		fl.PrintDefaults()
	}
	out := fl.String("out", "", "write the GA4 export files, HubSpot export folder and ad spend under `DIR`")
	touchLog := fl.String("touches", "", "write a touch log of the same simulation to `FILE` (.gz: gzipped)")
	people := fl.Int("people", 1000, "simulated people, each with one or two devices (GA4 cookies)")
	days := fl.Int("days", 61, "length of the period in days")
	from := fl.String("from", "2026-01-01", "first day of the period, YYYY-MM-DD (UTC)")
	seed := fl.Uint64("seed", 1, "seed of every random choice")
	if err := fl.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "closedloop gen: "+format+"\n", a...)
		return 2
	}
	if fl.NArg() > 0 {
		return usageErr("unexpected argument %q (flags only; see closedloop gen --help)", fl.Arg(0))
	}
	if *out == "" && *touchLog == "" {
		return usageErr("--out DIR (GA4, HubSpot and spend files) or --touches FILE (a touch log), or both, is required")
	}
	if *people < 1 || *people > genMaxPeople {
		return usageErr("--people: want 1..%d, got %d", genMaxPeople, *people)
	}
	if *days < 1 || *days > genMaxDays {
		return usageErr("--days: want 1..%d, got %d", genMaxDays, *days)
	}
	start, err := time.Parse(time.DateOnly, strings.TrimSpace(*from))
	if err != nil {
		return usageErr("--from: want a day as YYYY-MM-DD, got %q", *from)
	}
	var dir, touchPath string
	if *out != "" {
		if dir, err = filepath.Abs(*out); err != nil {
			return fail(stderr, err)
		}
		if st, err := os.Stat(dir); err == nil && !st.IsDir() {
			return usageErr("--out: %s is a file, want a folder (created when missing)", dir)
		}
	}
	if *touchLog != "" {
		if touchPath, err = filepath.Abs(*touchLog); err != nil {
			return fail(stderr, err)
		}
		if st, err := os.Stat(touchPath); err == nil && st.IsDir() {
			return usageErr("--touches: %s is a folder, want a file name", touchPath)
		}
	}

	cfg := synth.Config{Seed: *seed, People: *people, From: start, Days: *days}
	var tf *touchFile
	if touchPath != "" {
		if tf, err = createTouchFile(touchPath); err != nil {
			return fail(stderr, err)
		}
	}
	o := synth.Output{Dir: dir}
	if tf != nil {
		o.Touches = tf.w
	}
	began := time.Now()
	st, err := synth.GenerateTo(ctx, cfg, o)
	if tf != nil {
		err = tf.finish(err)
	}
	if err != nil {
		return fail(stderr, fmt.Errorf("gen: %w", err))
	}
	printGen(stdout, cfg, st, dir, touchPath, time.Since(began))
	return 0
}

// printGen prints what gen wrote and the commands that read it.
func printGen(w io.Writer, cfg synth.Config, st synth.Stats, dir, touchPath string, took time.Duration) {
	last := cfg.From.AddDate(0, 0, cfg.Days-1).Format(time.DateOnly)
	first := cfg.From.Format(time.DateOnly)
	fmt.Fprintf(w, "closedloop gen: seed %d, %s..%s (%d days), in %.1fs\n", cfg.Seed, first, last, cfg.Days, took.Seconds())
	row := func(name string, v any, note string) {
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("  %-11s %-14v %s", name, v, note), " "))
	}
	notWritten := "(no --out: not written)"
	row("people", st.People, "")
	row("cookies", st.Cookies, "")
	row("sessions", st.Sessions, "")
	if dir != "" {
		row("events", st.Events, "in "+filepath.Join(dir, "ga4"))
	} else {
		row("events", "-", notWritten)
	}
	row("contacts", st.Contacts, "")
	row("deals won", st.DealsWon, "")
	row("revenue", fmt.Sprintf("%.2f", st.Revenue), "USD, of the won deals")
	if dir != "" {
		row("spend rows", st.SpendRows, fmt.Sprintf("%.2f USD", st.Spend))
	} else {
		row("spend rows", "-", notWritten)
	}
	if touchPath != "" {
		row("touch rows", st.TouchRows, "in "+touchPath)
	}
	period := []string{"--from", first, "--to", last}
	if dir != "" {
		fmt.Fprintf(w, "\nThis loads %s (add --warehouse; closedloop help run lists the flags):\n\n", dir)
		args := append([]string{
			"--analytics", "ga4:" + filepath.Join(dir, "ga4", "*.ndjson.gz"),
			"--crm", "hubspot:" + filepath.Join(dir, "hubspot"),
			"--spend", "spend:" + filepath.Join(dir, "spend", "*.csv"),
		}, period...)
		fmt.Fprintf(w, "  closedloop run %s\n", quoteArgs(args))
	}
	if touchPath != "" {
		fmt.Fprintf(w, "\nThis attributes the touch log's conversions (or load it with closedloop run --analytics touches:FILE):\n\n")
		fmt.Fprintf(w, "  closedloop attribute %s\n", quoteArgs([]string{"--input", "touches:" + touchPath}))
	}
}

// quoteArgs joins args for a POSIX shell.
func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

// touchFile is the touch log being written: a temporary file beside its final name,
// renamed on success, so that a failed or interrupted gen leaves no half log.
type touchFile struct {
	f    *os.File
	zw   *gzip.Writer // nil for a plain file
	w    io.Writer    // what synth writes to: zw or f
	path string
}

// touchGzipLevel is fixed: the bytes of a gzip stream depend on it. BestSpeed, as
// for synth's GA4 files.
const touchGzipLevel = gzip.BestSpeed

// createTouchFile opens the temporary file of the touch log path.
func createTouchFile(path string) (*touchFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("gen: --touches: %w", err)
	}
	// CreateTemp makes the file private (0600); the log is data like any other.
	if err := f.Chmod(0o644); err != nil {
		return nil, errors.Join(fmt.Errorf("gen: --touches: %w", err), f.Close(), os.Remove(f.Name()))
	}
	tf := &touchFile{f: f, w: f, path: path}
	if strings.HasSuffix(path, ".gz") {
		// A zero header (no name, no time) keeps the bytes the same run after run.
		tf.zw, _ = gzip.NewWriterLevel(f, touchGzipLevel)
		tf.w = tf.zw
	}
	return tf, nil
}

// finish closes the file and renames it into place when err is nil; otherwise it
// removes it and returns err.
func (tf *touchFile) finish(err error) error {
	if err == nil && tf.zw != nil {
		err = tf.zw.Close()
	}
	if cerr := tf.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tf.f.Name(), tf.path)
	}
	if err != nil {
		return errors.Join(err, ignoreMissing(os.Remove(tf.f.Name())))
	}
	return nil
}

// ignoreMissing drops the error of removing what is not there.
func ignoreMissing(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
