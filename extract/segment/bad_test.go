package segment

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/extract/extracttest"
)

var runStart = time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)

// runAt extracts the lines as one file with the run started at now, through a
// extracttest.Writer, and checks that the counts reconcile.
func runAt(t *testing.T, now time.Time, lines ...string) (string, []map[string]any, []extract.Rejection) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.ndjson")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644))
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	e := New(Config{Spec: "segment:" + path, Path: path, Mem: mem, Now: now})
	require.NoError(t, e.Extract(context.Background(), &extracttest.Writer{T: t, Next: c}))
	tbl := c.Table(extract.TableEvents)
	defer tbl.Release()
	got, rej, st := rows(t, tbl), c.Rejections(), e.Stats()
	require.Equal(t, st.Read, st.Rows()+st.Rejected+st.Skipped+st.Duplicates, "counts reconcile: %+v", st)
	require.Equal(t, st.Rows(), len(got))
	require.Equal(t, st.Rejected, len(rej))
	return path, got, rej
}

// TestBadBytes: a Latin-1 byte or an escaped NUL in a value is a rejection at its
// line; the other events load.
func TestBadBytes(t *testing.T) {
	const ts = `"timestamp":"2026-01-05T09:00:00Z"`
	path, got, rej := runAt(t, runStart,
		`{"type":"page",`+ts+`,"anonymousId":"a1","context":{"page":{"title":"Caf\u00e9"}}}`,
		`{"type":"page",`+ts+`,"anonymousId":"a1","context":{"page":{"title":"caf`+"\xe9"+`"}}}`,
		`{"type":"track","event":"x",`+ts+`,"anonymousId":"a\u00002"}`,
		`{"batch":[{"type":"track","event":"ok",`+ts+`,"userId":"u"},{"type":"track","event":"x",`+ts+`,"userId":"u","context":{"campaign":{"name":"`+"\xff"+`"}}}]}`,
		`{"type":"identify",`+ts+`,"userId":"u2","traits":{"email":"b\u0000@example.com"}}`,
	)
	require.Len(t, got, 2)
	require.Equal(t, "Café", got[0]["page_title"])
	require.Equal(t, "ok", got[1]["event_name"])
	want := []struct{ loc, reason string }{
		{":2", "context.page.title is not valid UTF-8 (byte 0xe9 at offset 3): re-export the file as UTF-8"},
		{":3", "anonymousId holds a NUL byte at offset 1"},
		{":4#1", "context.campaign.name is not valid UTF-8 (byte 0xff at offset 0)"},
		{":5", "traits.email holds a NUL byte at offset 1"},
	}
	require.Len(t, rej, len(want))
	for i, w := range want {
		require.Equal(t, path+w.loc, rej[i].Location)
		require.Equal(t, w.reason, rej[i].Reason[:len(w.reason)])
	}
}

// TestPlausible: times and values outside extract's limits are rejections.
func TestPlausible(t *testing.T) {
	track := func(ts, props string) string {
		return `{"type":"track","event":"Order Completed","timestamp":"` + ts + `","anonymousId":"a"` + props + `}`
	}
	tests := []struct {
		name, line string
		reason     string // a rejection when set
		value      any
	}{
		{"in range", track("2026-12-05T05:00:00Z", `,"properties":{"revenue":12.5}`), "", 12.5},
		{"clock skew", track("2026-12-06T05:00:00Z", ""), "", nil},
		{"empty value", track("2026-01-05T00:00:00Z", `,"properties":{"revenue":"","total":null}`), "", nil},
		{"future", track("9999-12-31T00:00:00Z", ""), "timestamp 9999-12-31T00:00:00Z is after the run's start (2026-12-05T06:00:00Z)", nil},
		{"epoch", track("1970-01-01T00:00:00Z", ""), "timestamp 1970-01-01T00:00:00Z is before 2000-01-01", nil},
		{"1999", track("1999-12-31T23:59:59Z", ""), "before 2000-01-01", nil},
		{"negative value", track("2026-01-05T00:00:00Z", `,"properties":{"value":-3}`), "properties.value is negative (-3)", nil},
		{"huge revenue", track("2026-01-05T00:00:00Z", `,"properties":{"revenue":"1e13"}`), "properties.revenue is 1e+13, above the plausible 1e+12", nil},
		{"huge total", track("2026-01-05T00:00:00Z", `,"properties":{"total":1e300}`), "properties.total is 1e+300, above the plausible", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, got, rej := runAt(t, runStart, tt.line)
			if tt.reason == "" {
				require.Empty(t, rej)
				require.Len(t, got, 1)
				require.Equal(t, tt.value, got[0]["conversion_value"])
				return
			}
			require.Empty(t, got)
			require.Len(t, rej, 1)
			require.Equal(t, path+":1", rej[0].Location)
			require.Contains(t, rej[0].Reason, tt.reason)
		})
	}
}

// TestNowDefault: a Config without Now takes the time of New.
func TestNowDefault(t *testing.T) {
	before := time.Now()
	e := New(Config{Path: "x.ndjson"})
	require.False(t, e.cfg.Now.Before(before))
	require.False(t, e.cfg.Now.After(time.Now()))
}

// badCorpus are event lines holding text no warehouse stores, in every field read.
func badCorpus() []string {
	paths := []string{"event", "name", "anonymousId", "userId", "messageId", "timestamp",
		"context.campaign.source", "context.campaign.medium", "context.campaign.name", "context.campaign.term",
		"context.campaign.content", "context.page.url", "context.page.title", "context.page.referrer",
		"context.referrer", "context.referrer.url", "context.referrer.link", "context.traits.email", "context.sessionId",
		"properties.url", "properties.title", "properties.referrer", "properties.revenue", "properties.currency",
		"properties.email", "properties.link_url", "properties.file_url", "traits.email"}
	var out []string
	for _, bad := range []string{"caf\xe9", `a\u0000b`, "\xff", "\xed\xa0\x80", "\xc3"} {
		for _, p := range paths {
			for _, typ := range []string{"track", "page", "identify"} {
				obj := map[string]string{"type": typ, "event": "x", "timestamp": "2026-01-05T09:00:00Z", "anonymousId": "a"}
				obj[p] = bad
				out = append(out, render(obj))
			}
		}
	}
	return out
}

// render writes a flat map of dotted paths to strings as a JSON object; the values
// go in as they are (escapes included).
func render(obj map[string]string) string {
	tree := map[string]any{}
	for k, v := range obj {
		node := tree
		parts := strings.Split(k, ".")
		for _, p := range parts[:len(parts)-1] {
			next, ok := node[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[p] = next
			}
			node = next
		}
		node[parts[len(parts)-1]] = v
	}
	var b strings.Builder
	var write func(m map[string]any)
	write = func(m map[string]any) {
		b.WriteByte('{')
		first := true
		for k, v := range m {
			if !first {
				b.WriteByte(',')
			}
			first = false
			fmt.Fprintf(&b, "%q:", k)
			switch v := v.(type) {
			case string:
				b.WriteString(`"` + v + `"`)
			case map[string]any:
				write(v)
			}
		}
		b.WriteByte('}')
	}
	write(tree)
	return b.String()
}

// TestNoBadTextReachesWriter feeds the bad corpus to the extractor: every batch holds
// storable strings only, every line is read.
func TestNoBadTextReachesWriter(t *testing.T) {
	lines := badCorpus()
	_, got, rej := runAt(t, runStart, lines...)
	require.Equal(t, len(lines), len(got)+len(rej))
	require.NotEmpty(t, rej)
	for _, l := range lines {
		checkLine(t, []byte(l))
	}
}

// checkLine maps one line as the extractor does and checks what comes out: every
// string storable, every rejection located and explained, every event read counted
// once as a row, a rejection, a skipped call or a duplicate.
func checkLine(t *testing.T, line []byte) {
	if len(bytes.TrimSpace(line)) == 0 || bytes.IndexByte(line, '\n') >= 0 {
		return // the line splitter's business
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	w := &extracttest.Writer{T: t, Next: c}
	r := &reader{spec: "segment:f", w: w, seen: map[id]struct{}{}, lim: newLimits(runStart)}
	r.b = extract.NewBuilder(mem, extract.TableEvents, w)
	defer r.b.Release()
	r.locBuf = append(r.locBuf[:0], "f:1"...)
	ctx := context.Background()
	require.NoError(t, r.line(ctx, line))
	require.NoError(t, r.b.Flush(ctx))
	st := r.stats
	require.Positive(t, st.Read)
	require.Equal(t, st.Read, st.Rows()+st.Rejected+st.Skipped+st.Duplicates, "%+v", st)
	require.EqualValues(t, st.Rows(), c.Rows("segment:f", extract.TableEvents))
	require.Len(t, c.Rejections(), st.Rejected)
}
