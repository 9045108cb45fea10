package synth

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	ga4channel "closedloop/transform/channel"
)

// touchRow is one parsed row of the touch log.
type touchRow struct {
	cookie, time, interaction, conversion, value, channel string
}

func parseTouchLog(t *testing.T, b []byte) []touchRow {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	require.Equal(t, strings.TrimSuffix(touchHeader, "\n"), lines[0])
	rows := make([]touchRow, 0, len(lines)-1)
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		require.Len(t, f, 6, l)
		rows = append(rows, touchRow{f[0], f[1], f[2], f[3], f[4], f[5]})
	}
	return rows
}

// TestTouchLog: the touch log tells the GA4 files' and HubSpot's story: an impression
// per session_start, on its cookie at its time, a conversion per won deal at its
// close worth its amount, sorted by cookie then time.
func TestTouchLog(t *testing.T) {
	cfg := Config{Seed: 11, People: 400, From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: 45}
	dir := t.TempDir()
	var log bytes.Buffer
	st, err := GenerateTo(context.Background(), cfg, Output{Dir: dir, Touches: &log})
	require.NoError(t, err)
	plain, err := Generate(cfg, t.TempDir())
	require.NoError(t, err)
	assert.Zero(t, plain.TouchRows)
	plain.TouchRows = st.TouchRows
	assert.Equal(t, plain, st, "the touch log changes nothing else")

	rows := parseTouchLog(t, log.Bytes())
	require.Len(t, rows, st.TouchRows)
	require.Equal(t, st.Sessions+st.DealsWon, st.TouchRows)
	cookies := map[string]bool{}
	impressions := map[string]int{} // cookie,time
	conversions := map[string]int{} // time,value
	var revenue float64
	for i, r := range rows {
		cookies[r.cookie] = true
		id, ok := extract.CookieID(r.cookie)
		assert.True(t, ok && id == r.cookie, r.cookie)
		assert.Contains(t, ga4channel.Channels, r.channel)
		_, err := extract.ParseTime(r.time)
		require.NoError(t, err)
		if i > 0 {
			p := rows[i-1]
			assert.True(t, p.cookie < r.cookie || p.cookie == r.cookie && p.time <= r.time, "row %d out of order: %v after %v", i+2, r, p)
		}
		switch r.interaction {
		case "impression":
			assert.Equal(t, "0", r.conversion)
			assert.Equal(t, "0.0", r.value)
			impressions[r.cookie+","+r.time]++
		case "conversion":
			assert.Equal(t, "1", r.conversion)
			assert.Contains(t, r.value, ".", "a decimal point, as the public file")
			v, err := strconv.ParseFloat(r.value, 64)
			require.NoError(t, err)
			revenue += v
			conversions[r.time+","+strconv.FormatFloat(v, 'f', 2, 64)]++
		default:
			t.Fatalf("interaction %q", r.interaction)
		}
	}
	assert.Len(t, cookies, st.Cookies)
	assert.InDelta(t, st.Revenue, revenue, 0.005)

	// Sessions: the GA4 files' session_start events.
	starts := map[string]int{}
	files, err := filepath.Glob(filepath.Join(dir, "ga4", "*.ndjson.gz"))
	require.NoError(t, err)
	for _, path := range files {
		f, err := os.Open(path)
		require.NoError(t, err)
		zr, err := gzip.NewReader(f)
		require.NoError(t, err)
		sc := bufio.NewScanner(zr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var ev struct {
				Name   string `json:"event_name"`
				At     string `json:"event_timestamp"`
				Cookie string `json:"user_pseudo_id"`
			}
			require.NoError(t, json.Unmarshal(sc.Bytes(), &ev))
			if ev.Name != "session_start" {
				continue
			}
			at, err := extract.ParseTime(ev.At)
			require.NoError(t, err)
			starts[ev.Cookie+","+at.Format(touchTime)]++
		}
		require.NoError(t, sc.Err())
		f.Close()
	}
	assert.Equal(t, starts, impressions)

	// Conversions: the won deals of deals.ndjson.
	won := map[string]int{}
	data, err := os.ReadFile(filepath.Join(dir, "hubspot", "deals.ndjson"))
	require.NoError(t, err)
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var d struct {
			Properties map[string]string `json:"properties"`
		}
		require.NoError(t, json.Unmarshal(line, &d))
		if d.Properties["dealstage"] != "closedwon" {
			continue
		}
		at, err := extract.ParseTime(d.Properties["closedate"])
		require.NoError(t, err)
		v, err := strconv.ParseFloat(d.Properties["amount"], 64)
		require.NoError(t, err)
		won[at.Format(touchTime)+","+strconv.FormatFloat(v, 'f', 2, 64)]++
	}
	require.NotEmpty(t, won)
	assert.Equal(t, won, conversions)
}

// TestTouchLogAlone: the touch log written alone is the same bytes, again and again,
// and the plan's Stats are those of Generate, less what only the files count.
func TestTouchLogAlone(t *testing.T) {
	cfg := Config{Seed: 3, People: 150, From: time.Date(2025, 12, 30, 0, 0, 0, 0, time.UTC), Days: 12}
	var both, alone, again bytes.Buffer
	full, err := GenerateTo(context.Background(), cfg, Output{Dir: t.TempDir(), Touches: &both})
	require.NoError(t, err)
	st, err := GenerateTo(context.Background(), cfg, Output{Touches: &alone})
	require.NoError(t, err)
	_, err = GenerateTo(context.Background(), cfg, Output{Touches: &again})
	require.NoError(t, err)
	require.Positive(t, alone.Len())
	assert.True(t, bytes.Equal(both.Bytes(), alone.Bytes()))
	assert.True(t, bytes.Equal(alone.Bytes(), again.Bytes()))
	assert.Zero(t, st.Events)
	assert.Zero(t, st.SpendRows)
	full.Events, full.Downloads, full.SpendRows, full.Spend = 0, 0, 0, 0
	assert.Equal(t, full, st)
}

func TestGenerateToCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var log bytes.Buffer
	_, err := GenerateTo(ctx, Config{Seed: 1, People: 50, From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: 5},
		Output{Dir: t.TempDir(), Touches: &log})
	require.ErrorIs(t, err, context.Canceled)
}

// TestLexKey: lexKey orders numbers as their text followed by '.', as client ids sort.
func TestLexKey(t *testing.T) {
	ns := []uint64{0, 1, 9, 10, 12, 119, 120, 1200, 1201, 13, 99, 100, 999_999_999, 1_000_000_000, 2_047_483_646, 100_000_000, 999_999_999_999}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		ns = append(ns, uint64(randCookie(r)), r.Uint64N(1_000_000))
	}
	byKey, byText := slices.Clone(ns), slices.Clone(ns)
	slices.SortStableFunc(byKey, func(a, b uint64) int { return cmp.Compare(lexKey(a), lexKey(b)) })
	slices.SortStableFunc(byText, func(a, b uint64) int {
		return strings.Compare(strconv.FormatUint(a, 10)+".", strconv.FormatUint(b, 10)+".")
	})
	assert.Equal(t, byText, byKey)
}
