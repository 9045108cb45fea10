package segment

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
	// Spec is the source spec as the user wrote it ("segment:events/*.json.gz"): the
	// extractor's Name and the input column of every row and rejection. Empty means
	// "segment:" + Path.
	Spec string
	// Path is the file, or a glob of files, to read (the spec's LOCATION).
	Path string
	// Mem allocates the Arrow batches; nil means memory.DefaultAllocator.
	Mem memory.Allocator
	// Now is when the run started: an event after it plus extract.ClockSkew is
	// rejected. Zero means the time New is called.
	Now time.Time
}

// Stats counts what one Extract did with the events it read. They reconcile:
// Read = Events + PageViews + Identifies + Rejected + Skipped + Duplicates.
type Stats struct {
	Read       int // events read: one per non-blank line, but one per element of a readable batch line
	Events     int // rows of kind event (track)
	PageViews  int // rows of kind page_view (page, screen)
	Identifies int // rows of kind identify (identify, alias)
	Rejected   int // rejections written
	Skipped    int // group calls
	Duplicates int // events dropped for a messageId already read
}

// Rows returns the rows written to extract.TableEvents.
func (s Stats) Rows() int { return s.Events + s.PageViews + s.Identifies }

// Extractor reads Segment / RudderStack event files into extract.TableEvents.
type Extractor struct {
	cfg Config

	mu    sync.Mutex
	stats Stats
}

var _ extract.Extractor = (*Extractor)(nil)

// New returns an Extractor for cfg. Nothing is opened before Extract.
func New(cfg Config) *Extractor {
	if cfg.Spec == "" {
		cfg.Spec = "segment:" + cfg.Path
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

// Stats returns the counts of the last Extract, as far as it got.
func (e *Extractor) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// Skipped returns how many group calls the last Extract skipped.
func (e *Extractor) Skipped() int { return e.Stats().Skipped }

// Duplicates returns how many events the last Extract dropped as repeats of a
// messageId it had already read.
func (e *Extractor) Duplicates() int { return e.Stats().Duplicates }

// Extract reads every file of the glob, in sorted order, and writes its events to w.
// A glob without a match or a file name that is not UTF-8 is an extract.ErrConfig
// error; an unreadable file is an error; an event that cannot be used is a rejection.
func (e *Extractor) Extract(ctx context.Context, w extract.Writer) error {
	r := &reader{spec: e.cfg.Spec, w: w, seen: map[id]struct{}{}, lim: newLimits(e.cfg.Now)}
	defer func() {
		e.mu.Lock()
		e.stats = r.stats
		e.mu.Unlock()
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	if extract.BadText("spec", e.cfg.Spec) != "" {
		return fmt.Errorf("%w: segment: the source spec %q is not UTF-8 text", extract.ErrConfig, e.cfg.Spec)
	}
	paths, err := extract.Glob(e.cfg.Spec, e.cfg.Path)
	if err != nil {
		return err
	}
	extract.PlanFiles(ctx, paths...)
	r.b = extract.NewBuilder(e.cfg.Mem, extract.TableEvents, w)
	defer r.b.Release()
	for _, path := range paths {
		if extract.BadText("file name", path) != "" {
			return fmt.Errorf("%w: segment: the file name %q is not UTF-8: rename the file (its name is every row's location)", extract.ErrConfig, path)
		}
		if err := r.readFile(ctx, path); err != nil {
			return err
		}
	}
	if err := r.b.Flush(ctx); err != nil {
		return fmt.Errorf("segment: %s: %w", e.cfg.Spec, err)
	}
	return nil
}
