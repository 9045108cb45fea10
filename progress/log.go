package progress

import (
	"io"
	"log/slog"
	"math"
	"time"
)

// NewLog returns a Reporter that draws nothing: it logs an Info line per source
// ("source read": rows, bytes, pages of an API, seconds) and per other stage ("stage
// finished") as each ends, and the summary ("run summary": rows per table, rows
// rejected, seconds per stage). A nil log writes nothing at all.
func NewLog(log *slog.Logger) *Reporter {
	return newReporter(&logView{log: log}, nil)
}

type logView struct{ log *slog.Logger }

func (v *logView) sourceStarted(*Source) {}

func (v *logView) sourceDone(s *Source, c Counts, attrs []any) {
	if v.log == nil {
		return
	}
	a := []any{"source", s.Name, "rows", c.Rows, "bytes", c.Bytes}
	if c.Pages > 0 {
		a = append(a, "pages", c.Pages)
	}
	a = append(a, "seconds", seconds(c.Elapsed))
	v.log.Info("source read", append(a, attrs...)...)
}

func (v *logView) stageDone(st Stage) {
	if v.log != nil {
		v.log.Info("stage finished", "stage", st.Name, "seconds", seconds(st.Duration))
	}
}

func (v *logView) finish(sum Summary, stages []Stage) {
	if v.log == nil || sum.Tables == nil {
		return
	}
	status := "success"
	if sum.Err != nil {
		status = "failed"
	}
	v.log.Info("run summary", "status", status, "rows", sum.Tables, "rejected", sum.Rejected, "stage_seconds", stageSeconds(stages))
}

func (v *logView) writer() io.Writer { return io.Discard }

// seconds is d in seconds, rounded to the millisecond.
func seconds(d time.Duration) float64 {
	return math.Round(d.Seconds()*1000) / 1000
}

// stageSeconds is each stage's seconds (rounded to the millisecond); a name ended more
// than once has the sum.
func stageSeconds(stages []Stage) map[string]float64 {
	sum := map[string]time.Duration{}
	for _, st := range stages {
		sum[st.Name] += st.Duration
	}
	out := make(map[string]float64, len(sum))
	for k, d := range sum {
		out[k] = seconds(d)
	}
	return out
}
