// Package progress tells how a run goes: each source's rows and bytes read (with their
// rate, and the time left where the total is known), each stage's time as it ends, and
// a summary of the rows loaded, the rows rejected and the seconds of every stage.
//
// A Reporter shows them on a terminal (NewTerminal: bars drawn with mpb, log lines
// printed above them) or writes them to a log (NewLog: a line per source and stage
// finished, and the summary; nothing at all with a nil logger). Either way it keeps
// every stage's time (Stages, Seconds) for the run's own record.
//
// Who calls what: the run makes one Reporter, calls Source once per source as it
// starts, the Source's AddRows per batch written and Done when it ends; Stage as each
// other stage ends (or Start and the function it returns); then Finish once with the
// summary. Close stops a display that Finish never reached. Every method is safe for
// concurrent use; a Source's counters are atomic adds, cheap enough for every batch.
package progress

import (
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Reporter receives a run's progress and shows it through its view.
type Reporter struct {
	now  func() time.Time
	view view

	mu      sync.Mutex
	sources []*Source
	stages  []Stage
	done    bool
}

// view shows what a Reporter hears: a terminal display or a log.
type view interface {
	sourceStarted(s *Source)
	sourceDone(s *Source, c Counts, attrs []any)
	stageDone(st Stage)
	finish(sum Summary, stages []Stage) // nil sum: Close without a summary
	writer() io.Writer
}

// Stage is a part of a run and the wall time it took.
type Stage struct {
	Name     string
	Duration time.Duration
}

// Summary is what a run ends with.
type Summary struct {
	// Tables are the rows loaded per table.
	Tables map[string]int64
	// Rejected is the rows rejected.
	Rejected int
	// Err is the run's error; nil for a run that succeeded.
	Err error
}

// Counts are a source's figures so far.
type Counts struct {
	Rows  int64 // rows written
	Bytes int64 // bytes read from files (as on disk) or API answers
	Total int64 // bytes of the files the source reads; 0: unknown (APIs)
	Pages int64 // API answers
	// Elapsed is the time since the source started, or its whole time once done.
	Elapsed time.Duration
}

// Rate is the bytes a second read so far, or the rows a second where no bytes were
// counted; 0 before any time passed.
func (c Counts) Rate() float64 {
	s := c.Elapsed.Seconds()
	if s <= 0 {
		return 0
	}
	if c.Bytes > 0 {
		return float64(c.Bytes) / s
	}
	return float64(c.Rows) / s
}

// ETA is the time left at the rate so far; ok is false when the total is unknown or
// nothing was read yet.
func (c Counts) ETA() (d time.Duration, ok bool) {
	if c.Total <= 0 || c.Bytes <= 0 || c.Elapsed <= 0 {
		return 0, false
	}
	left := max(0, c.Total-c.Bytes)
	return time.Duration(float64(left) / float64(c.Bytes) * float64(c.Elapsed)), true
}

// Fraction is the share of the total read, at most 1; ok is false when the total is
// unknown.
func (c Counts) Fraction() (f float64, ok bool) {
	if c.Total <= 0 {
		return 0, false
	}
	return math.Min(1, float64(c.Bytes)/float64(c.Total)), true
}

func newReporter(v view, now func() time.Time) *Reporter {
	if now == nil {
		now = time.Now
	}
	return &Reporter{view: v, now: now}
}

// Source starts the count of source name (as the run names it: its spec).
func (r *Reporter) Source(name string) *Source {
	s := &Source{Name: name, r: r, start: r.now()}
	r.mu.Lock()
	r.sources = append(r.sources, s)
	done := r.done
	r.mu.Unlock()
	if !done {
		r.view.sourceStarted(s)
	}
	return s
}

// Stage records stage name, which took d, and shows it.
func (r *Reporter) Stage(name string, d time.Duration) {
	st := Stage{Name: name, Duration: d}
	r.mu.Lock()
	r.stages = append(r.stages, st)
	done := r.done
	r.mu.Unlock()
	if !done {
		r.view.stageDone(st)
	}
}

// Start starts stage name; the function it returns ends it (once).
func (r *Reporter) Start(name string) (end func()) {
	t0 := r.now()
	var once sync.Once
	return func() { once.Do(func() { r.Stage(name, r.now().Sub(t0)) }) }
}

// Stages returns the stages ended so far, in the order they ended; a source's is
// "read:NAME".
func (r *Reporter) Stages() []Stage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Stage(nil), r.stages...)
}

// Seconds returns each stage's seconds, rounded to the millisecond (a name ended
// more than once: the sum).
func (r *Reporter) Seconds() map[string]float64 { return stageSeconds(r.Stages()) }

// Writer is where log lines go so that they do not cut through the display: above
// the bars while they are drawn, else straight to the output. A log Reporter's is
// io.Discard (its logger has its own).
func (r *Reporter) Writer() io.Writer { return r.view.writer() }

// Finish shows the summary and ends the display; later calls do nothing.
func (r *Reporter) Finish(sum Summary) { r.end(&sum) }

// Close ends the display without a summary, unless Finish did already.
func (r *Reporter) Close() { r.end(nil) }

func (r *Reporter) end(sum *Summary) {
	r.mu.Lock()
	if r.done {
		r.mu.Unlock()
		return
	}
	r.done = true
	stages := append([]Stage(nil), r.stages...)
	r.mu.Unlock()
	var s Summary
	if sum != nil {
		s = *sum
		if s.Tables == nil {
			s.Tables = map[string]int64{}
		}
	}
	r.view.finish(s, stages)
}

// Source counts what one source reads. It implements extract.Meter (Plan, Read,
// Page): give it to the source's context with extract.WithMeter.
type Source struct {
	// Name is the source's name as the run gives it.
	Name string

	r                         *Reporter
	start                     time.Time
	rows, bytes, total, pages atomic.Int64
	ended                     atomic.Int64 // nanoseconds the source took, once done; 0 before
}

// AddRows counts n rows written (per batch, not per row).
func (s *Source) AddRows(n int64) { s.rows.Add(n) }

// Plan adds n bytes to the total the source will read.
func (s *Source) Plan(n int64) { s.total.Add(n) }

// Read counts n bytes read.
func (s *Source) Read(n int64) { s.bytes.Add(n) }

// Page counts an API answer of n bytes.
func (s *Source) Page(n int64) {
	s.pages.Add(1)
	s.bytes.Add(n)
}

// Counts returns the source's figures so far.
func (s *Source) Counts() Counts {
	c := Counts{Rows: s.rows.Load(), Bytes: s.bytes.Load(), Total: s.total.Load(), Pages: s.pages.Load()}
	if e := s.ended.Load(); e > 0 {
		c.Elapsed = time.Duration(e)
	} else {
		c.Elapsed = s.r.now().Sub(s.start)
	}
	return c
}

// Done ends the source: its stage "read:NAME" and its line, with attrs (key, value
// pairs, as slog takes them) added to the log's. Later calls do nothing.
func (s *Source) Done(attrs ...any) {
	d := max(1, s.r.now().Sub(s.start)) // a positive time marks it ended
	if !s.ended.CompareAndSwap(0, int64(d)) {
		return
	}
	st := Stage{Name: "read:" + s.Name, Duration: d}
	r := s.r
	r.mu.Lock()
	r.stages = append(r.stages, st)
	done := r.done
	r.mu.Unlock()
	if !done {
		r.view.sourceDone(s, s.Counts(), attrs)
	}
}
