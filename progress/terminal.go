package progress

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// TerminalConfig configures NewTerminal.
type TerminalConfig struct {
	// Out is the terminal (the run's stderr).
	Out io.Writer
	// Width is the display's width when Out is not a terminal (a test's buffer); a
	// terminal's own width is used otherwise. 0: 100.
	Width int
	// Refresh is how often the bars are drawn again; 0: every 150 ms.
	Refresh time.Duration
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Glyphs of the display: the bar's fill, what is left of it, a finished line's mark
// and a source of unknown size's spinner.
const (
	glyphFull  = "█"
	glyphEmpty = "░"
	glyphDone  = "✓"
	glyphFail  = "✗"
)

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// NewTerminal returns a Reporter that draws on a terminal: a bar per source being
// read (rows, bytes, rate, percentage and time left when its size is known, pages of
// an API), a line per source and stage as it ends, a status line (time so far, the
// last stage ended), and the summary table once the run ends. Log lines must go
// through Reporter.Writer to print above the bars.
func NewTerminal(cfg TerminalConfig) *Reporter {
	if cfg.Refresh <= 0 {
		cfg.Refresh = 150 * time.Millisecond
	}
	if cfg.Width <= 0 {
		cfg.Width = 100
	}
	t := &terminal{out: cfg.Out, refresh: make(chan any), stop: make(chan struct{}), stopped: make(chan struct{}),
		bars: map[*Source]*mpb.Bar{}}
	r := newReporter(t, cfg.Now)
	t.r = r
	t.started = r.now()
	// Refreshed by hand (the ticker below, and once more at the end) so that the last
	// log lines and bar states are drawn before the container stops: mpb's own
	// ticker may not tick again between a write and Wait.
	t.p = mpb.New(mpb.WithOutput(cfg.Out), mpb.WithWidth(cfg.Width), mpb.WithManualRefresh(t.refresh))
	t.w = &displayWriter{p: t.p, out: cfg.Out}
	t.status = t.p.New(0, mpb.NopStyle(), mpb.BarRemoveOnComplete(), mpb.BarPriority(1<<30),
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return t.statusLine() })))
	go t.tick(cfg.Refresh)
	return r
}

// terminal is the view of NewTerminal.
type terminal struct {
	r       *Reporter
	p       *mpb.Progress
	out     io.Writer
	w       *displayWriter
	status  *mpb.Bar
	started time.Time

	refresh       chan any
	stop, stopped chan struct{}

	mu        sync.Mutex
	bars      map[*Source]*mpb.Bar
	lastStage string
	read      int // sources done
}

func (t *terminal) tick(every time.Duration) {
	defer close(t.stopped)
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tk.C:
			select {
			case t.refresh <- struct{}{}:
			case <-t.stop:
				return
			}
		}
	}
}

func (t *terminal) sourceStarted(s *Source) {
	f := &fill{s: s}
	b, err := t.p.Add(0, f, mpb.BarRemoveOnComplete(),
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return "  " + shorten(s.Name, 44) }, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return " " + describe(s.Counts()) })))
	if err != nil { // the display ended
		return
	}
	t.mu.Lock()
	t.bars[s] = b
	t.mu.Unlock()
}

func (t *terminal) sourceDone(s *Source, c Counts, _ []any) {
	t.mu.Lock()
	b := t.bars[s]
	delete(t.bars, s)
	t.read++
	t.mu.Unlock()
	line := fmt.Sprintf("%s read %s: %s rows", glyphDone, s.Name, thousands(c.Rows))
	if c.Bytes > 0 {
		line += ", " + bytesText(float64(c.Bytes))
	}
	if c.Pages > 0 {
		line += ", " + pagesText(c.Pages)
	}
	line += fmt.Sprintf(" in %s (%s)\n", durationText(c.Elapsed), rateText(c))
	t.w.Write([]byte(line))
	if b != nil {
		b.SetTotal(-1, true)
	}
}

func (t *terminal) stageDone(st Stage) {
	t.mu.Lock()
	t.lastStage = st.Name
	t.mu.Unlock()
	t.w.Write([]byte(fmt.Sprintf("%s %-32s %9.3fs\n", glyphDone, st.Name, st.Duration.Seconds())))
}

func (t *terminal) statusLine() string {
	t.mu.Lock()
	last, running, read := t.lastStage, len(t.bars), t.read
	t.mu.Unlock()
	line := fmt.Sprintf("  %s so far", durationText(t.r.now().Sub(t.started)))
	if running > 0 || read > 0 {
		line += fmt.Sprintf(", %d sources read, %d reading", read, running)
	}
	if last != "" {
		line += ", last done: " + last
	}
	return line
}

func (t *terminal) finish(sum Summary, stages []Stage) {
	close(t.stop)
	<-t.stopped
	t.mu.Lock()
	for s, b := range t.bars {
		b.Abort(true)
		delete(t.bars, s)
	}
	t.mu.Unlock()
	select { // the last log lines, above the bars (unless a failed draw stopped the container)
	case t.refresh <- struct{}{}:
	case <-time.After(time.Second):
	}
	t.status.SetTotal(-1, true)
	t.p.Wait()
	t.w.detach()
	if sum.Tables != nil {
		writeSummary(t.out, sum, stages, t.r.now().Sub(t.started))
	}
}

func (t *terminal) writer() io.Writer { return t.w }

// writeSummary writes the summary table: rows per table loaded, rows rejected, seconds
// per stage in the order they ended.
func writeSummary(w io.Writer, sum Summary, stages []Stage, took time.Duration) {
	status := glyphDone + " run finished"
	if sum.Err != nil {
		status = glyphFail + " run failed"
	}
	type row struct{ name, value string }
	var rows []row
	if len(sum.Tables) > 0 {
		rows = append(rows, row{"table", "rows"})
		names := make([]string, 0, len(sum.Tables))
		for n := range sum.Tables {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			rows = append(rows, row{"  " + n, thousands(sum.Tables[n])})
		}
	}
	rows = append(rows, row{"rows rejected", thousands(int64(sum.Rejected))}, row{"stage", "seconds"})
	secs := stageSeconds(stages)
	seen := map[string]bool{}
	for _, st := range stages {
		if !seen[st.Name] {
			seen[st.Name] = true
			rows = append(rows, row{"  " + st.Name, fmt.Sprintf("%.3f", secs[st.Name])})
		}
	}
	nw, vw := 0, 0
	for _, r := range rows {
		nw, vw = max(nw, utf8.RuneCountInString(r.name)), max(vw, len(r.value))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s in %s\n", status, durationText(took))
	for _, r := range rows {
		fmt.Fprintf(&b, "%-*s  %*s\n", nw, r.name, vw, r.value)
	}
	io.WriteString(w, b.String())
}

// displayWriter writes log lines above the bars while the container draws them, and
// straight to the output once it is done.
type displayWriter struct {
	mu       sync.Mutex
	p        *mpb.Progress
	out      io.Writer
	detached bool
}

func (w *displayWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.detached {
		n, err := w.p.Write(b)
		var done mpb.ErrDone[*mpb.Progress]
		if !errors.As(err, &done) {
			return n, err
		}
		w.detached = true
	}
	return w.out.Write(b)
}

func (w *displayWriter) detach() {
	w.mu.Lock()
	w.detached = true
	w.mu.Unlock()
}

// fill draws a source's bar: its share read when its size is known, else a spinner.
// mpb calls Fill from the bar's own goroutine, one call at a time.
type fill struct {
	s     *Source
	frame int
}

// barWidth is the most cells a bar takes: the figures beside it matter more.
const barWidth = 24

func (f *fill) Fill(w io.Writer, st decor.Statistics) error {
	width := min(barWidth, st.AvailableWidth)
	if width < 3 {
		return nil
	}
	if frac, ok := f.s.Counts().Fraction(); ok {
		n := int(frac * float64(width-2))
		_, err := io.WriteString(w, "["+strings.Repeat(glyphFull, n)+strings.Repeat(glyphEmpty, width-2-n)+"]")
		return err
	}
	f.frame++
	_, err := io.WriteString(w, spinner[f.frame%len(spinner)])
	return err
}

// describe is a source's figures beside its bar.
func describe(c Counts) string {
	var parts []string
	if frac, ok := c.Fraction(); ok {
		parts = append(parts, fmt.Sprintf("%3.0f%%", 100*frac), bytesText(float64(c.Bytes))+"/"+bytesText(float64(c.Total)))
	} else if c.Bytes > 0 {
		parts = append(parts, bytesText(float64(c.Bytes)))
	}
	if c.Pages > 0 {
		parts = append(parts, pagesText(c.Pages))
	}
	parts = append(parts, thousands(c.Rows)+" rows", rateText(c))
	if eta, ok := c.ETA(); ok {
		parts = append(parts, "ETA "+durationText(eta))
	}
	return strings.Join(parts, "  ")
}

func pagesText(n int64) string {
	if n == 1 {
		return "1 page"
	}
	return thousands(n) + " pages"
}

func rateText(c Counts) string {
	if c.Bytes > 0 {
		return bytesText(c.Rate()) + "/s"
	}
	return thousands(int64(c.Rate())) + " rows/s"
}

func bytesText(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

func durationText(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// thousands writes n with commas between groups of three digits.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// shorten keeps the last n characters of s (a glob's file part says most).
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return "…" + string(r[len(r)-n+1:])
}
