package ga4

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
	"closedloop/extract/ga4/bqstorage"
)

// BigQueryConfig configures a BigQueryExtractor.
type BigQueryConfig struct {
	// Spec is the source spec as the user wrote it ("ga4:bigquery://acme/analytics_1"):
	// the extractor's Name and the input column of every row and rejection. Empty
	// means "ga4:" + Location.
	Spec string
	// Location is the spec's LOCATION,
	// bigquery://PROJECT/DATASET[?intraday=true&tz=Europe/Amsterdam&billing_project=P]
	// (bqstorage.ParseLocation).
	Location string
	// Range is the days to read, one export table per day of the property's time
	// zone. A run passes its own days widened by the journeys' lookback.
	Range extract.Range
	// Mem allocates the Arrow batches; nil means memory.DefaultAllocator.
	Mem memory.Allocator
	// Log receives stream retries, columns an older table lacks, days without a
	// table and a summary of the exact duplicates dropped; nil means no log.
	Log *slog.Logger
	// Now is when the run started: an event after it plus extract.ClockSkew is
	// rejected. Zero means the time NewBigQuery is called.
	Now time.Time
	// Endpoint (host:port of the Storage Read API) and RESTEndpoint (the BigQuery
	// API's base URL, ending in /bigquery/v2/) are for emulators and tests only: a
	// set endpoint is used in plaintext without credentials. Empty means Google's,
	// with Application Default Credentials.
	Endpoint, RESTEndpoint string
}

// BigQueryExtractor reads a GA4 BigQuery export dataset into extract.TableEvents
// through the BigQuery Storage Read API (package bqstorage), with the same Decoder,
// hence the same rows and rejections, as the file Extractor. Unlike a file, a table
// is read only for the range: the server drops rows whose event_timestamp falls
// outside it (rows without one still come, to be rejected). A row is located as its
// table, read stream and row in the stream, counted from 1:
// "bigquery://acme/analytics_1/events_20260105 stream 0:row 1235". Streams split a
// table differently in every read session, so a location holds for its run only.
type BigQueryExtractor struct {
	cfg BigQueryConfig

	mu    sync.Mutex
	stats Stats
}

var _ extract.Extractor = (*BigQueryExtractor)(nil)

// NewBigQuery returns a BigQueryExtractor for cfg. Nothing is parsed or opened before
// Extract.
func NewBigQuery(cfg BigQueryConfig) *BigQueryExtractor {
	if cfg.Spec == "" {
		cfg.Spec = "ga4:" + cfg.Location
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
	return &BigQueryExtractor{cfg: cfg}
}

// Name returns the source spec.
func (e *BigQueryExtractor) Name() string { return e.cfg.Spec }

// Tables returns the one table the extractor writes, extract.TableEvents.
func (e *BigQueryExtractor) Tables() []string { return []string{extract.TableEvents} }

// Stats returns the counts of the last Extract, as far as it got. Rejected includes
// the days without an export table.
func (e *BigQueryExtractor) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// Duplicates returns how many exact duplicate rows the last Extract dropped (each
// one also a rejection).
func (e *BigQueryExtractor) Duplicates() int { return int(e.Stats().Duplicates) }

// Extract reads the export tables of the range and writes their events to w through
// one Decoder. A day without a table is a rejection located at the table it lacks
// (bigquery://PROJECT/DATASET/events_YYYYMMDD): its events are not in the run. A bad
// location, no range, missing credentials, a dataset or table not found and refused
// permissions are extract.ErrConfig errors naming the fix; a row that is not a
// usable event is a rejection.
func (e *BigQueryExtractor) Extract(ctx context.Context, w extract.Writer) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	bc, err := bqstorage.ParseLocation(e.cfg.Location)
	if err != nil {
		return err
	}
	if e.cfg.Range.From.IsZero() || e.cfg.Range.To.IsZero() {
		return fmt.Errorf("%w: %s: no date range to read", extract.ErrConfig, e.cfg.Spec)
	}
	bc.Columns = Columns()
	bc.Mem, bc.Log = e.cfg.Mem, e.cfg.Log
	bc.Endpoint, bc.RESTEndpoint = e.cfg.Endpoint, e.cfg.RESTEndpoint
	client, err := bqstorage.New(ctx, bc)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := client.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("ga4: %s: closing the BigQuery clients: %w", e.cfg.Spec, cerr)
		}
	}()

	d := NewDecoder(e.cfg.Spec, e.cfg.Mem, w)
	d.Now = e.cfg.Now
	defer d.Release()
	var missingDays int64
	defer func() {
		st := d.Stats()
		st.Rejected += missingDays
		e.mu.Lock()
		e.stats = st
		e.mu.Unlock()
	}()

	missing, err := client.ReadRange(ctx, e.cfg.Range, func(b bqstorage.Batch) error {
		return d.DecodeRecord(ctx, b.Record, b.Table.String()+" stream "+strconv.Itoa(b.Stream), b.Offset+1)
	})
	if err != nil {
		return err
	}
	if err := rejectMissing(ctx, w, e.cfg.Spec, e.cfg.Log, missing); err != nil {
		return err
	}
	missingDays = int64(len(missing))
	if err := d.Flush(ctx); err != nil {
		return fmt.Errorf("ga4: %s: %w", e.cfg.Spec, err)
	}
	if st := d.Stats(); st.Duplicates > 0 {
		e.cfg.Log.Info("ga4: exact duplicate rows dropped (each is in rejected_rows)",
			"source", e.cfg.Spec, "duplicates", st.Duplicates, "events", st.Events)
	}
	return nil
}
