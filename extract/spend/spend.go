// Package spend reads daily ad spend from CSV files (a file or a glob, plain or
// gzipped), one row per day and campaign:
//
//	date,source,medium,campaign,cost,clicks,impressions,currency
//	2026-01-05,google,cpc,brand_search,152.37,311,10422,EUR
//
// Columns are found by header name, in any order and any case. date, source, medium,
// campaign and cost are required; term, channel, clicks, impressions and currency may
// be left out (a file without currency is in Config.Currency). Rows go to
// extract.TableSpend; rows that cannot be used become rejections.
package spend

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
)

// Config configures the extractor.
type Config struct {
	// Spec is the source spec as the user wrote it ("spend:exports/*.csv"): the
	// extractor's Name and the input column of every row and rejection. Empty means
	// "spend:" + Path.
	Spec string
	// Path is the file, or a glob of files, to read (the spec's LOCATION).
	Path string
	// Currency is the reporting currency (ISO 4217, e.g. "EUR") of files without a
	// currency column, and of rows whose currency cell is empty. Empty means such
	// files are a configuration error.
	Currency string
	// Mem allocates the Arrow batches; nil means memory.DefaultAllocator.
	Mem memory.Allocator
}

// Extractor reads spend CSV files into extract.TableSpend.
type Extractor struct {
	cfg Config
}

var _ extract.Extractor = (*Extractor)(nil)

// New returns an Extractor for cfg. Nothing is opened, and cfg is not checked,
// before Extract.
func New(cfg Config) *Extractor {
	if cfg.Spec == "" {
		cfg.Spec = "spend:" + cfg.Path
	}
	if cfg.Mem == nil {
		cfg.Mem = memory.DefaultAllocator
	}
	cfg.Currency = strings.ToUpper(strings.TrimSpace(cfg.Currency))
	return &Extractor{cfg: cfg}
}

// Name returns the source spec.
func (e *Extractor) Name() string { return e.cfg.Spec }

// Tables returns the one table the extractor writes, extract.TableSpend.
func (e *Extractor) Tables() []string { return []string{extract.TableSpend} }

// Extract reads every file of the glob, in sorted order, and writes its rows to w.
// A bad Config.Currency, a glob without a match, or a file whose header lacks a
// required column is an extract.ErrConfig error; an unreadable file is an error; a
// bad row is a rejection.
func (e *Extractor) Extract(ctx context.Context, w extract.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c := e.cfg.Currency; c != "" && !isCurrency(c) {
		return fmt.Errorf("%w: %s: reporting currency %q is not a 3-letter ISO 4217 code such as EUR or USD", extract.ErrConfig, e.cfg.Spec, c)
	}
	paths, err := glob(e.cfg.Spec, e.cfg.Path)
	if err != nil {
		return err
	}
	b := extract.NewBuilder(e.cfg.Mem, extract.TableSpend, w)
	defer b.Release()
	for _, path := range paths {
		if err := e.readFile(ctx, path, b, w); err != nil {
			return err
		}
	}
	if err := b.Flush(ctx); err != nil {
		return fmt.Errorf("spend: %s: %w", e.cfg.Spec, err)
	}
	return nil
}
