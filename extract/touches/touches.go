// Package touches reads a flat touch log: a CSV file (or glob of files, plain or
// gzipped) in the layout of the public "Multi-Touch Attribution" dataset,
//
//	cookie,time,interaction,conversion,conversion_value,channel
//	00000FkCnDfDDf0iC97iC703B,2018-07-03T13:02:11Z,impression,0,0.0,Instagram
//
// Every row is a touch on its channel (extract.KindTouch, no sessionization); a row
// whose interaction is "conversion", or whose conversion flag is set, is also a
// conversion worth conversion_value. Columns are found by header name in any order;
// cookie, time and channel are required. A row is a rejection when a value breaks
// extract's limits: cookie, interaction or channel not UTF-8 or holding a NUL, a time
// before 2000 or after the run's start (Config.Now) plus a day, a conversion_value
// that is negative, NaN, infinite or above extract.MaxRevenue (empty is null).
package touches

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
)

// Config configures the extractor.
type Config struct {
	// Spec is the source spec as the user wrote it ("touches:data/log.csv"): the
	// extractor's Name and the input column of every row and rejection. Empty means
	// "touches:" + Path.
	Spec string
	// Path is the file, or a glob of files, to read (the spec's LOCATION).
	Path string
	// Mem allocates the Arrow batches; nil means memory.DefaultAllocator.
	Mem memory.Allocator
	// Now is when the run started: a touch after it plus extract.ClockSkew is
	// rejected. Zero means the time New is called.
	Now time.Time
}

// Stats counts what one Extract did: every record after a header is a row or a
// rejection.
type Stats struct {
	Files    int   // files read
	Rows     int64 // rows written to extract.TableEvents
	Rejected int64 // rejections written
}

// Extractor reads a touch log into extract.TableEvents.
type Extractor struct {
	cfg Config

	mu    sync.Mutex
	stats Stats
}

var _ extract.Extractor = (*Extractor)(nil)

// New returns an Extractor for cfg. Nothing is opened before Extract.
func New(cfg Config) *Extractor {
	if cfg.Spec == "" {
		cfg.Spec = "touches:" + cfg.Path
	}
	if cfg.Mem == nil {
		cfg.Mem = memory.DefaultAllocator
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	return &Extractor{cfg: cfg}
}

// Name returns the source spec.
func (e *Extractor) Name() string { return e.cfg.Spec }

// Tables returns the one table the extractor writes, extract.TableEvents.
func (e *Extractor) Tables() []string { return []string{extract.TableEvents} }

// Stats returns the counts of the last Extract, as far as it got. A file holding its
// header alone is read without error: Rows and Rejected stay 0.
func (e *Extractor) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// Extract reads every file of the glob, in sorted order, and writes its rows to w.
// A glob without a match, a file name that is not UTF-8 or a file whose header lacks
// a required column is an extract.ErrConfig error; an unreadable file is an error; a
// bad row is a rejection.
func (e *Extractor) Extract(ctx context.Context, w extract.Writer) error {
	e.mu.Lock()
	e.stats = Stats{}
	e.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if extract.BadText("spec", e.cfg.Spec) != "" {
		return fmt.Errorf("%w: touches: the source spec %q is not UTF-8 text", extract.ErrConfig, e.cfg.Spec)
	}
	paths, err := extract.Glob(e.cfg.Spec, e.cfg.Path)
	if err != nil {
		return err
	}
	extract.PlanFiles(ctx, paths...)
	for _, path := range paths {
		if extract.BadText("file name", path) != "" {
			return fmt.Errorf("%w: touches: the file name %q is not UTF-8: rename the file (its name is every row's location)", extract.ErrConfig, path)
		}
		if err := e.readFile(ctx, path, w); err != nil {
			return err
		}
	}
	return nil
}

// count adds a block's counts to the stats.
func (e *Extractor) count(files int, rows, rejected int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats.Files += files
	e.stats.Rows += rows
	e.stats.Rejected += rejected
}
