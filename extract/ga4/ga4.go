package ga4

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
)

// Config configures the extractor.
type Config struct {
	// Spec is the source spec as the user wrote it ("ga4:exports/*.ndjson.gz"): the
	// extractor's Name and the input column of every row and rejection. Empty means
	// "ga4:" + Path.
	Spec string
	// Path is the file, or a glob of files, to read (the spec's LOCATION).
	Path string
	// Mem allocates the Arrow batches; nil means memory.DefaultAllocator.
	Mem memory.Allocator
	// Log receives a line per intraday file skipped for its day's daily table and a
	// summary of the exact duplicates dropped; nil means no log.
	Log *slog.Logger
	// Since, when set, skips the files whose names carry a day before it (an
	// incremental run reads the days it needs); files without a day are read.
	Since time.Time
	// Range, when set, is the days (UTC) that must each have a file: a day of it
	// without one is a rejection located at the glob and the day. Unchecked when no
	// file of the glob names a day.
	Range extract.Range
	// Now is when the run started: an event after it plus extract.ClockSkew is
	// rejected. Zero means the time New is called.
	Now time.Time
}

// Extractor reads GA4 export files into extract.TableEvents.
type Extractor struct {
	cfg Config

	mu    sync.Mutex
	stats Stats
}

var _ extract.Extractor = (*Extractor)(nil)

// New returns an Extractor for cfg. Nothing is opened before Extract.
func New(cfg Config) *Extractor {
	if cfg.Spec == "" {
		cfg.Spec = "ga4:" + cfg.Path
	}
	if cfg.Mem == nil {
		cfg.Mem = memory.DefaultAllocator
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	return &Extractor{cfg: cfg}
}

// Stats returns the counts of the last Extract, as far as it got. Rejected includes
// the days of Config.Range without a file.
func (e *Extractor) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// Name returns the source spec.
func (e *Extractor) Name() string { return e.cfg.Spec }

// Tables returns the one table the extractor writes, extract.TableEvents.
func (e *Extractor) Tables() []string { return []string{extract.TableEvents} }

// Extract reads every file of the glob, in order of the day in their names, then in
// sorted order, NDJSON and Parquet alike, and writes their events to w as one Decoder
// would (exact duplicates dropped among the files of a day). A glob without a match
// or a file name that is not UTF-8 is an extract.ErrConfig error; an unreadable file,
// an empty one, an NDJSON file without a single JSON object (a binary, a JSON array),
// or a Parquet file without the export's required columns, is an error naming the
// file and what it looks like; a row that is not a usable event is a rejection, and
// so is a day of Config.Range without a file.
func (e *Extractor) Extract(ctx context.Context, w extract.Writer) error {
	e.mu.Lock()
	e.stats = Stats{}
	e.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if extract.BadText("spec", e.cfg.Spec) != "" {
		return fmt.Errorf("%w: ga4: the source spec %q is not UTF-8 text", extract.ErrConfig, e.cfg.Spec)
	}
	paths, err := extract.Glob(e.cfg.Spec, e.cfg.Path)
	if err != nil {
		return err
	}
	for _, p := range paths {
		if extract.BadText("file name", p) != "" {
			return fmt.Errorf("%w: ga4: the file name %q is not UTF-8: rename the file (its name is every row's location)", extract.ErrConfig, p)
		}
	}
	missing := missingFiles(e.cfg.Path, paths, e.cfg.Range)
	if !e.cfg.Since.IsZero() {
		since := e.cfg.Since.UTC().Format("20060102")
		kept := paths[:0]
		for _, p := range paths {
			if d := fileDay(p); d == "" || d >= since {
				kept = append(kept, p)
			}
		}
		paths = kept
	}
	paths, skip := dailyOverIntraday(paths)
	for _, s := range skip {
		e.cfg.Log.Info("ga4: intraday table skipped: the daily table of its day is read instead",
			"source", e.cfg.Spec, "file", s.path, "daily", s.daily)
	}
	// A day's files (its shards, a copy) one after the other: exact duplicates are
	// dropped among them, and the rows seen of a day are forgotten at the next.
	slices.SortStableFunc(paths, func(a, b string) int { return strings.Compare(fileDay(a), fileDay(b)) })
	extract.PlanFiles(ctx, paths...)
	st, err := readAll(ctx, e.cfg.Spec, e.cfg.Mem, e.cfg.Now, paths, w)
	e.mu.Lock()
	e.stats = st
	e.mu.Unlock()
	if err != nil {
		return err
	}
	if err := rejectMissing(ctx, w, e.cfg.Spec, e.cfg.Log, missing); err != nil {
		return err
	}
	e.mu.Lock()
	e.stats.Rejected += int64(len(missing))
	e.mu.Unlock()
	if st.Duplicates > 0 {
		e.cfg.Log.Info("ga4: exact duplicate rows dropped (each is in rejected_rows)",
			"source", e.cfg.Spec, "duplicates", st.Duplicates, "events", st.Events)
	}
	return nil
}

// isParquet tells a Parquet file by its name (.parquet) or its magic bytes (PAR1),
// since sharded exports may carry no extension.
func isParquet(path string) (bool, error) {
	if strings.HasSuffix(strings.ToLower(path), ".parquet") {
		return true, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("ga4: %w", err)
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return false, fmt.Errorf("ga4: %s: %w", path, err)
	}
	return string(magic[:]) == "PAR1", nil
}
