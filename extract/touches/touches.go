// Package touches reads a flat touch log: a CSV file (or glob of files, plain or
// gzipped) in the layout of the public "Multi-Touch Attribution" dataset,
//
//	cookie,time,interaction,conversion,conversion_value,channel
//	00000FkCnDfDDf0iC97iC703B,2018-07-03T13:02:11Z,impression,0,0.0,Instagram
//
// Every row is a touch on its channel (extract.KindTouch, no sessionization); a row
// whose interaction is "conversion", or whose conversion flag is set, is also a
// conversion worth conversion_value. Columns are found by header name in any order;
// cookie, time and channel are required.
package touches

import (
	"context"

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
}

// Extractor reads a touch log into extract.TableEvents.
type Extractor struct {
	cfg Config
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
	return &Extractor{cfg: cfg}
}

// Name returns the source spec.
func (e *Extractor) Name() string { return e.cfg.Spec }

// Tables returns the one table the extractor writes, extract.TableEvents.
func (e *Extractor) Tables() []string { return []string{extract.TableEvents} }

// Extract reads every file of the glob, in sorted order, and writes its rows to w.
// A glob without a match or a file whose header lacks a required column is an
// extract.ErrConfig error; an unreadable file is an error; a bad row is a rejection.
func (e *Extractor) Extract(ctx context.Context, w extract.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	paths, err := extract.Glob(e.cfg.Spec, e.cfg.Path)
	if err != nil {
		return err
	}
	for _, path := range paths {
		if err := e.readFile(ctx, path, w); err != nil {
			return err
		}
	}
	return nil
}
