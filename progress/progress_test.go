package progress

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// clock is a fake clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer is a bytes.Buffer that the display's goroutine may write while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCounts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		c        Counts
		rate     float64
		eta      time.Duration
		etaOK    bool
		fraction float64
		fracOK   bool
	}{
		{name: "file, a quarter read", c: Counts{Rows: 10, Bytes: 250, Total: 1000, Elapsed: time.Second},
			rate: 250, eta: 3 * time.Second, etaOK: true, fraction: 0.25, fracOK: true},
		{name: "API: pages, no total", c: Counts{Rows: 100, Bytes: 5000, Pages: 3, Elapsed: 2 * time.Second}, rate: 2500},
		{name: "rows only (BigQuery)", c: Counts{Rows: 300, Elapsed: 3 * time.Second}, rate: 100},
		{name: "nothing yet", c: Counts{Total: 1000}, fracOK: true},
		{name: "past the total (a file read twice)", c: Counts{Bytes: 1200, Total: 1000, Elapsed: time.Second},
			rate: 1200, etaOK: true, fraction: 1, fracOK: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.InDelta(t, tc.rate, tc.c.Rate(), 1e-9)
			eta, ok := tc.c.ETA()
			require.Equal(t, tc.etaOK, ok)
			require.Equal(t, tc.eta, eta)
			f, ok := tc.c.Fraction()
			require.Equal(t, tc.fracOK, ok)
			require.InDelta(t, tc.fraction, f, 1e-9)
		})
	}
}

// TestSourceCountsFromManyGoroutines: the counters add up whatever goroutines add.
func TestSourceCountsFromManyGoroutines(t *testing.T) {
	r := NewLog(nil)
	s := r.Source("ga4:x")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				s.AddRows(3)
				s.Read(7)
				s.Plan(1)
			}
		})
	}
	wg.Wait()
	c := s.Counts()
	require.Equal(t, int64(8*3000), c.Rows)
	require.Equal(t, int64(8*7000), c.Bytes)
	require.Equal(t, int64(8000), c.Total)
}

// TestLogReporter: a line per source and stage as it ends, the summary, with the
// figures the Reporter keeps (Seconds); nothing after Finish.
func TestLogReporter(t *testing.T) {
	var buf bytes.Buffer
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := newReporter(&logView{log: slog.New(slog.NewJSONHandler(&buf, nil))}, clk.now)
	s := r.Source("ga4:events_*.ndjson.gz")
	s.Plan(1000)
	for range 3 {
		s.AddRows(10)
		s.Read(400)
	}
	clk.add(2500 * time.Millisecond)
	s.Done("skipped", 2)
	s.Done() // once
	api := r.Source("hubspot:api")
	api.Page(100)
	api.Page(50)
	api.AddRows(20)
	clk.add(time.Second)
	api.Done()
	end := r.Start("load:fct_touchpoint")
	r.Stage("identity", 1500*time.Millisecond)
	clk.add(250 * time.Millisecond)
	end()
	end()
	require.Equal(t, map[string]float64{"read:ga4:events_*.ndjson.gz": 2.5, "read:hubspot:api": 1, "identity": 1.5, "load:fct_touchpoint": 0.25}, r.Seconds())
	r.Finish(Summary{Tables: map[string]int64{"fct_touchpoint": 12}, Rejected: 1})
	r.Stage("after", time.Second)
	r.Finish(Summary{})
	r.Close()
	require.Equal(t, io.Discard, r.Writer())

	var lines []map[string]any
	for l := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		delete(m, "time")
		delete(m, "level")
		lines = append(lines, m)
	}
	require.Equal(t, []map[string]any{
		{"msg": "source read", "source": "ga4:events_*.ndjson.gz", "rows": 30.0, "bytes": 1200.0, "seconds": 2.5, "skipped": 2.0},
		{"msg": "source read", "source": "hubspot:api", "rows": 20.0, "bytes": 150.0, "pages": 2.0, "seconds": 1.0},
		{"msg": "stage finished", "stage": "identity", "seconds": 1.5},
		{"msg": "stage finished", "stage": "load:fct_touchpoint", "seconds": 0.25},
		{"msg": "run summary", "status": "success", "rows": map[string]any{"fct_touchpoint": 12.0}, "rejected": 1.0,
			"stage_seconds": map[string]any{"read:ga4:events_*.ndjson.gz": 2.5, "read:hubspot:api": 1.0, "identity": 1.5, "load:fct_touchpoint": 0.25}},
	}, lines)
}

// TestLogReporterFailedRun: a failed run's summary says so; Close alone logs none.
func TestLogReporterFailedRun(t *testing.T) {
	var buf bytes.Buffer
	r := NewLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	r.Stage("identity", time.Millisecond)
	r.Finish(Summary{Err: errors.New("boom")})
	require.Contains(t, buf.String(), `"msg":"run summary","status":"failed"`)

	buf.Reset()
	r = NewLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	r.Close()
	require.Empty(t, buf.String())
}

// TestNopReporterWritesNothing: NewLog(nil) keeps the stages and writes nowhere.
func TestNopReporterWritesNothing(t *testing.T) {
	r := NewLog(nil)
	s := r.Source("touches:x.csv")
	s.AddRows(5)
	s.Done()
	r.Stage("sessions", time.Second)
	n, err := r.Writer().Write([]byte("a log line\n"))
	require.NoError(t, err)
	require.Equal(t, 11, n)
	r.Finish(Summary{Tables: map[string]int64{"t": 1}})
	require.Len(t, r.Stages(), 2)
	require.Equal(t, 1.0, r.Seconds()["sessions"])
}

// TestTerminalDraws draws into a buffer: a source's bar with its share, bytes, rows,
// rate and time left; log lines above it; a line per source and stage ended; the
// summary table at the end.
func TestTerminalDraws(t *testing.T) {
	out := &syncBuffer{}
	r := NewTerminal(TerminalConfig{Out: out, Width: 160, Refresh: 5 * time.Millisecond})
	s := r.Source("ga4:/exports/events_*.ndjson.gz")
	s.Plan(4 << 20)
	s.Read(1 << 20)
	s.AddRows(12345)
	api := r.Source("hubspot:api")
	api.Page(2048)
	api.AddRows(10)
	fmt.Fprintln(r.Writer(), `level=INFO msg="a log line"`)
	require.Eventually(t, func() bool {
		o := out.String()
		return strings.Contains(o, " 25%") && strings.Contains(o, "1.0 MiB/4.0 MiB") && strings.Contains(o, "12,345 rows") &&
			strings.Contains(o, "ETA ") && strings.Contains(o, "1 page ") && strings.Contains(o, glyphFull+glyphEmpty) &&
			strings.Contains(o, `msg="a log line"`)
	}, 5*time.Second, 5*time.Millisecond, "%q", out.String())
	s.Read(3 << 20)
	s.Done()
	api.Done()
	r.Stage("identity", 1234*time.Millisecond)
	r.Stage("model:markov", 20*time.Millisecond)
	r.Finish(Summary{Tables: map[string]int64{"fct_touchpoint": 1200, "dim_person": 7}, Rejected: 3})
	fmt.Fprintln(r.Writer(), "after the display")

	o := out.String()
	require.Contains(t, o, glyphDone+" read ga4:/exports/events_*.ndjson.gz: 12,345 rows, 4.0 MiB in ")
	require.Contains(t, o, glyphDone+" read hubspot:api: 10 rows, 2.0 KiB, 1 page in ")
	require.Regexp(t, glyphDone+` identity +1\.234s`, o)
	require.Regexp(t, glyphDone+` model:markov +0\.020s`, o)
	summary := o[strings.LastIndex(o, glyphDone+" run finished in "):]
	require.Regexp(t, `(?m)^table +rows$`, summary)
	require.Regexp(t, `(?m)^  fct_touchpoint +1,200$`, summary)
	require.Regexp(t, `(?m)^rows rejected +3$`, summary)
	require.Regexp(t, `(?m)^ +identity +1\.234$`, summary)
	require.Regexp(t, `(?m)^  read:hubspot:api +[0-9.]+$`, summary)
	require.True(t, strings.HasSuffix(o, "after the display\n"), "%q", o[len(o)-min(200, len(o)):])
}
