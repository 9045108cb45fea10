package spend

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
	"closedloop/extract/tables"
)

// Config configures the extractor.
type Config struct {
	// Spec is the source spec as the user wrote it ("spend:exports/*.csv"): the
	// extractor's Name and the input column of every row and rejection. Empty means
	// "spend:" + Path.
	Spec string
	// Path is the file, or a glob of files, to read (the spec's LOCATION), when
	// Source is nil.
	Path string
	// Source, when set, is a warehouse dataset or schema whose spend tables are read
	// instead of files (see "Tables" in the package doc). The caller opened it and
	// closes it after Extract.
	Source tables.Source
	// Range, when its To is set, is the run's days: the rows of a table on other days
	// are not read (the filter is pushed down to the warehouse). Files are read whole;
	// the transform keeps the run's days of both.
	Range extract.Range
	// Currency is the reporting currency (ISO 4217, e.g. "EUR"): costs in another
	// currency are converted to it with Rates, and it is the currency of files without
	// a currency column and of rows whose currency cell is empty. Empty means no
	// conversion (each row keeps its own currency), and makes files without a currency
	// column, and Rates, configuration errors.
	Currency string
	// Mem allocates the Arrow batches; nil means memory.DefaultAllocator.
	Mem memory.Allocator
	// CampaignMap is an optional CSV file platform,campaign_id,campaign_name,utm_campaign
	// that turns the ad platforms' campaigns into the utm_campaign values of the site's
	// touches (see the package doc). Empty means the campaign is the platform's
	// campaign name as is.
	CampaignMap string
	// Rates is an optional CSV file date,currency,rate of exchange rates to Currency:
	// rate units of Currency per 1 unit of currency on date, or on any day when date
	// is empty (see the package doc). Empty means a cost in another currency than
	// Currency is rejected.
	Rates string
	// Now is when the run started: days after it (plus extract.ClockSkew) are
	// implausible. Zero means the time New is called.
	Now time.Time
}

// Extractor reads spend CSV files, or a warehouse's spend tables, into extract.TableSpend. It is used for one Extract
// at a time.
type Extractor struct {
	cfg     Config
	skipped atomic.Int64
	deleted atomic.Int64

	// Loaded by Extract from Config.CampaignMap and Config.Rates.
	campaigns campaignMap
	rates     rates
}

var _ extract.Extractor = (*Extractor)(nil)

// New returns an Extractor for cfg. Nothing is opened, and cfg is not checked,
// before Extract.
func New(cfg Config) *Extractor {
	switch {
	case cfg.Spec == "" && cfg.Source != nil:
		cfg.Spec = "spend:" + cfg.Source.Spec()
	case cfg.Spec == "":
		cfg.Spec = "spend:" + cfg.Path
	}
	if cfg.Mem == nil {
		cfg.Mem = memory.DefaultAllocator
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	cfg.Currency = strings.ToUpper(strings.TrimSpace(cfg.Currency))
	cfg.CampaignMap, cfg.Rates = strings.TrimSpace(cfg.CampaignMap), strings.TrimSpace(cfg.Rates)
	return &Extractor{cfg: cfg}
}

// Name returns the source spec.
func (e *Extractor) Name() string { return e.cfg.Spec }

// Tables returns the one table the extractor writes, extract.TableSpend.
func (e *Extractor) Tables() []string { return []string{extract.TableSpend} }

// Skipped returns how many total and summary rows the last Extract skipped. Such
// rows are neither written nor rejected; the count is how the run can report them.
func (e *Extractor) Skipped() int { return int(e.skipped.Load()) }

// Deleted returns how many rows of a table the last Extract skipped because Fivetran
// marked them deleted (_fivetran_deleted): neither written nor rejected, only counted.
func (e *Extractor) Deleted() int { return int(e.deleted.Load()) }

// Extract reads Config.CampaignMap and Config.Rates, then every file of the glob, in
// sorted order, and writes its rows to w. A bad Config.Currency, a bad mapping or
// rates file, a glob without a match, or a file whose header is no known layout's or
// lacks a required column is an extract.ErrConfig error; an unreadable file is an
// error; a bad row is a rejection.
func (e *Extractor) Extract(ctx context.Context, w extract.Writer) error {
	e.skipped.Store(0)
	e.deleted.Store(0)
	if err := ctx.Err(); err != nil {
		return err
	}
	c := e.cfg.Currency
	switch {
	case c != "" && !isCurrency(c):
		return fmt.Errorf("%w: %s: reporting currency %q is not a 3-letter ISO 4217 code such as EUR or USD", extract.ErrConfig, e.cfg.Spec, c)
	case c == "" && e.cfg.Rates != "":
		return fmt.Errorf("%w: %s: a rates file (%s) is configured but no reporting currency to convert to: configure the currency", extract.ErrConfig, e.cfg.Spec, e.cfg.Rates)
	}
	e.campaigns, e.rates = campaignMap{}, rates{reporting: c}
	var err error
	if e.cfg.CampaignMap != "" {
		if e.campaigns, err = loadCampaignMap(e.cfg.CampaignMap); err != nil {
			return err
		}
	}
	if e.cfg.Rates != "" {
		if e.rates, err = loadRates(e.cfg.Rates, c); err != nil {
			return err
		}
	}
	if e.cfg.Source != nil {
		b := extract.NewBuilder(e.cfg.Mem, extract.TableSpend, w)
		defer b.Release()
		if err := e.readTables(ctx, b, w); err != nil {
			return err
		}
		if err := b.Flush(ctx); err != nil {
			return fmt.Errorf("spend: %s: %w", e.cfg.Spec, err)
		}
		return nil
	}
	paths, err := extract.Glob(e.cfg.Spec, e.cfg.Path)
	if err != nil {
		return err
	}
	extract.PlanFiles(ctx, paths...)
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
