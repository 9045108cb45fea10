// Package ga4 reads the Google Analytics 4 BigQuery export from files: one event per
// line as newline-delimited JSON (plain or gzipped), in the export schema exactly as
// BigQuery's JSON export writes it (events_YYYYMMDD tables).
//
// Every event becomes one row of extract.TableEvents. Campaign columns hold what the
// event itself states (collected_traffic_source, else the source/medium/campaign/term/
// content/gclid event params); the user-scoped traffic_source, which is the user's
// first touch and not this event's, is deliberately not read. Rows that cannot be used
// (invalid JSON, no timestamp or name, no user id at all) become rejections.
package ga4

import (
	"context"
	"fmt"

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
}

// Extractor reads GA4 export files into extract.TableEvents.
type Extractor struct {
	cfg Config
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
	return &Extractor{cfg: cfg}
}

// Name returns the source spec.
func (e *Extractor) Name() string { return e.cfg.Spec }

// Tables returns the one table the extractor writes, extract.TableEvents.
func (e *Extractor) Tables() []string { return []string{extract.TableEvents} }

// Extract reads every file of the glob, in sorted order, and writes its events to w.
// A glob without a match is an extract.ErrConfig error; an unreadable file is an
// error; a line that is not a usable event is a rejection.
func (e *Extractor) Extract(ctx context.Context, w extract.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	paths, err := glob(e.cfg.Spec, e.cfg.Path)
	if err != nil {
		return err
	}
	b := extract.NewBuilder(e.cfg.Mem, extract.TableEvents, w)
	defer b.Release()
	for _, path := range paths {
		if err := e.readFile(ctx, path, b, w); err != nil {
			return err
		}
	}
	if err := b.Flush(ctx); err != nil {
		return fmt.Errorf("ga4: %s: %w", e.cfg.Spec, err)
	}
	return nil
}
