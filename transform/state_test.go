package transform

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/extract/ga4"
	"closedloop/load"
	"closedloop/transform/attribution"
)

// feedState gives s what a warehouse holding out's tables would (load.StateReader):
// its identifiers and edges, its touchpoints and event conversions before since, its
// persons' last seen.
func feedState(t *testing.T, s *Stream, out *Output, since time.Time) {
	us := since.UnixMicro()
	for _, r := range rows(out.Tables[load.BridgeIdentity]) {
		first := int64(0)
		if v, ok := r["first_seen_at"].(time.Time); ok {
			first = v.UnixMicro()
		}
		require.NoError(t, s.Identifier(r["identifier_type"].(string), r["identifier"].(string), first, r["person_id"].(string)))
	}
	for _, r := range rows(out.Tables[load.IdentityEdge]) {
		at := int64(0)
		if v, ok := r["observed_at"].(time.Time); ok {
			at = v.UnixMicro()
		}
		require.NoError(t, s.Edge(r["identifier_type"].(string), r["identifier"].(string), r["other_type"].(string),
			r["other_identifier"].(string), r["kind"].(string), at))
	}
	str := func(v any) string {
		if v == nil {
			return ""
		}
		return v.(string)
	}
	for _, r := range rows(out.Tables[load.FctTouchpoint]) {
		if at := r["occurred_at"].(time.Time).UnixMicro(); at < us {
			require.NoError(t, s.Touchpoint(r["touchpoint_id"].(string), r["person_id"].(string), str(r["anonymous_id"]), at,
				r["channel"].(string), str(r["campaign"]), str(r["term"])))
		}
	}
	for _, r := range rows(out.Tables[load.FctConversion]) {
		at := r["occurred_at"].(time.Time).UnixMicro()
		if at >= us || slices.Contains(Milestones, r["conversion_type"].(string)) {
			continue
		}
		rev := math.NaN()
		if v, ok := r["revenue"].(float64); ok {
			rev = v
		}
		require.NoError(t, s.Conversion(r["conversion_id"].(string), r["person_id"].(string), at, r["conversion_type"].(string), rev, str(r["currency"])))
	}
	for _, r := range rows(out.Tables[load.DimPerson]) {
		if v, ok := r["last_seen_at"].(time.Time); ok {
			require.NoError(t, s.Person(r["person_id"].(string), v.UnixMicro()))
		}
	}
}

// TestIncrementalIsTheFullRun: a run over the sample's first 40 days, then an
// incremental run over the rest that reads back only the first run's tables (and
// every event, the ones before its window only adding identifiers), gives the rows
// of the later days, the persons, identifiers and edges of one full run, every model.
func TestIncrementalIsTheFullRun(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := loadSample(t, mem)
	defer c.Release()
	sample := filepath.Join("..", "testdata", "sample")
	ctx := context.Background()
	models, err := attribution.Lookup(attribution.Names(), attribution.DefaultParams)
	require.NoError(t, err)
	day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	opt := Options{Mem: mem, Models: models, Currency: "USD", KeepSessionOnCampaignChange: true,
		Lookback: 90 * 24 * time.Hour, SessionTimeout: 30 * time.Minute, TouchEvents: []string{"generate_lead", "file_download"},
		MicroConversions: []string{"generate_lead"}}
	// The first run reads the GA4 files of its days only, as it would on its night.
	early := extract.NewCollector(mem)
	defer early.Release()
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join(sample, "ga4", "*.ndjson.gz"))
	require.NoError(t, err)
	for _, f := range files {
		if filepath.Base(f) < "events_20260210" {
			src, err := os.ReadFile(f)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(f)), src, 0o644))
		}
	}
	require.NoError(t, ga4.New(ga4.Config{Spec: "ga4:sample", Path: filepath.Join(dir, "*.ndjson.gz"), Mem: mem}).Extract(ctx, early))
	build := func(opt Options, from, to time.Time, state func(*Stream)) *Output {
		opt.Range = extract.Range{From: from, To: to}
		s := NewStream(opt)
		if state != nil {
			state(s)
		}
		src := c
		if to.Before(day(41)) {
			src = early
		}
		events := src.Table(extract.TableEvents)
		require.NoError(t, s.Add(ctx, events))
		events.Release()
		in := Inputs{Contacts: c.Table(extract.TableContacts), Deals: c.Table(extract.TableDeals),
			DealContacts: c.Table(extract.TableDealContacts), Spend: c.Table(extract.TableSpend), DealStages: c.Table(extract.TableDealStages)}
		out, err := s.Finish(ctx, in)
		for _, tb := range []arrow.Table{in.Contacts, in.Deals, in.DealContacts, in.Spend, in.DealStages} {
			tb.Release()
		}
		require.NoError(t, err)
		return out
	}
	end := day(1).AddDate(0, 0, 60)
	full := build(opt, day(1), end, nil)
	defer full.Release()
	first := build(opt, day(1), day(40), nil)
	defer first.Release()
	since := day(41)
	inc := opt
	inc.Since = since
	next := build(inc, since, end, func(s *Stream) { feedState(t, s, first, since) })
	defer next.Release()
	require.Positive(t, next.Stats.EventRows.Earlier)
	// Persons identified after day 40 merge cookies and contacts the first run held
	// apart: their older conversions are credited again.
	require.Greater(t, next.Stats.Persons, first.Stats.Persons)
	require.False(t, next.Stats.AttributionFrom.IsZero())
	require.True(t, next.Stats.AttributionFrom.Before(since))

	for _, tb := range load.Tables {
		a := full.Tables[tb.Name]
		if a == nil {
			continue
		}
		want := rows(a)
		if tb.Mode == load.ReplaceRange {
			from := since
			if f := next.Stats.AttributionFrom; tb.Name == load.FctAttribution && !f.IsZero() {
				from = f // identity merges reached back: those days' credits are written again
			}
			want = slices.DeleteFunc(want, func(r map[string]any) bool {
				v := r[tb.DateColumn]
				if d, ok := v.(time.Time); ok {
					return d.Before(from)
				}
				return false
			})
		}
		got := rows(next.Tables[tb.Name])
		require.Equal(t, len(want), len(got), "%s rows", tb.Name)
		if tb.Name == load.FctPageView {
			continue
		}
		for i := range want {
			require.Equal(t, want[i], got[i], "%s row %d", tb.Name, i)
		}
	}
}
