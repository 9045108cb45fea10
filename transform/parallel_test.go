package transform

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/extract/ga4"
	"closedloop/extract/hubspot"
	"closedloop/load"
	"closedloop/transform/attribution"
	"closedloop/transform/persona"
)

// TestWalkOnEveryCoreIsTheWalk: the sample (GA4 export, HubSpot, personas) built with the
// sessions walk cut into many parts on several cores, and its conversions credited in
// spans of persons on several cores, gives every table, row for row, and every count
// of one walk.
func TestWalkOnEveryCoreIsTheWalk(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := loadSample(t, mem)
	defer c.Release()
	sample := filepath.Join("..", "testdata", "sample")
	rules, err := persona.Load(filepath.Join(sample, "personas.txt"))
	require.NoError(t, err)
	models, err := attribution.Lookup(attribution.Names(), attribution.DefaultParams)
	require.NoError(t, err)
	run := func() *Output {
		in := Inputs{Events: c.Table(extract.TableEvents), Contacts: c.Table(extract.TableContacts), Deals: c.Table(extract.TableDeals),
			DealContacts: c.Table(extract.TableDealContacts), Spend: c.Table(extract.TableSpend), DealStages: c.Table(extract.TableDealStages)}
		defer func() {
			for _, tb := range []arrow.Table{in.Events, in.Contacts, in.Deals, in.DealContacts, in.Spend, in.DealStages} {
				tb.Release()
			}
		}()
		out, err := Build(context.Background(), in, Options{Mem: mem, Personas: rules, Models: models, Currency: "USD",
			Range:    extract.Range{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)},
			Lookback: 90 * 24 * time.Hour, SessionTimeout: 30 * time.Minute, TouchEvents: []string{"generate_lead", "file_download"}})
		require.NoError(t, err)
		return out
	}
	one := run()
	defer one.Release()

	defer func(n, a, w int) { minPart, minAttributionSpan, minTouchpointSpan = n, a, w }(minPart, minAttributionSpan, minTouchpointSpan)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(7))
	minPart = 100          // the sample's 17k events in 7 parts
	minAttributionSpan = 5 // its conversions credited in 7 spans of persons
	minTouchpointSpan = 50 // its touchpoints written in 7 spans of persons
	many := run()
	defer many.Release()

	require.Equal(t, one.Stats, many.Stats)
	same := func(name string, a, b arrow.Table) {
		ra, rb := rows(a), rows(b)
		require.Len(t, rb, len(ra), name)
		for i := range ra {
			if !reflect.DeepEqual(ra[i], rb[i]) {
				require.Equal(t, ra[i], rb[i], "%s row %d", name, i)
			}
		}
	}
	for _, tb := range load.Tables {
		if one.Tables[tb.Name] != nil {
			same(tb.Name, one.Tables[tb.Name], many.Tables[tb.Name])
		}
	}
	same("aliases", one.Aliases, many.Aliases)
}

// loadSample reads the bundled sample's GA4 export and HubSpot folder; the caller
// releases the Collector.
func loadSample(t *testing.T, mem memory.Allocator) *extract.Collector {
	t.Helper()
	c := extract.NewCollector(mem)
	sample := filepath.Join("..", "testdata", "sample")
	require.NoError(t, ga4.New(ga4.Config{Spec: "ga4:sample", Path: filepath.Join(sample, "ga4", "*.ndjson.gz"), Mem: mem}).Extract(context.Background(), c))
	require.NoError(t, hubspot.New(hubspot.Config{Spec: "hubspot:sample", Dir: filepath.Join(sample, "hubspot"), Mem: mem,
		CookieProperty: "ga_client_id", Currency: "USD"}).Extract(context.Background(), c))
	return c
}

// TestRuleBasedModelsReadOnlyConvertingPersons: with rule-based models only, the
// attribution step keeps the touches of persons who may convert (mayConvert); their
// credits are those the same models give beside the data-driven ones, which read
// every person's path.
func TestRuleBasedModelsReadOnlyConvertingPersons(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := loadSample(t, mem)
	defer c.Release()
	build := func(names []string) *Output {
		models, err := attribution.Lookup(names, attribution.DefaultParams)
		require.NoError(t, err)
		return buildSample(t, mem, sampleInputs(c), models)
	}
	rule := []string{"first_touch", "last_touch", "linear", "time_decay", "position_based"}
	few, all := build(rule), build(attribution.Names())
	defer few.Release()
	defer all.Release()
	ruleBased := map[string]bool{}
	for _, m := range rule {
		ruleBased[m] = true
	}
	var want []map[string]any
	for _, r := range rows(all.Tables[load.FctAttribution]) {
		if ruleBased[r["model"].(string)] {
			want = append(want, r)
		}
	}
	got := rows(few.Tables[load.FctAttribution])
	require.NotEmpty(t, got)
	require.Equal(t, len(want), len(got))
	key := func(r map[string]any) string { return fmt.Sprint(r["conversion_id"], r["model"], r["touchpoint_id"]) }
	sort.Slice(want, func(i, j int) bool { return key(want[i]) < key(want[j]) })
	sort.Slice(got, func(i, j int) bool { return key(got[i]) < key(got[j]) })
	require.Equal(t, want, got)
	require.Equal(t, all.Stats.Journeys, few.Stats.Journeys)
	require.Equal(t, all.Stats.ConversionsWithoutTouch, few.Stats.ConversionsWithoutTouch)
}

// TestInputColumnsAreTheInputs: the CRM tables cut to the columns the steps read
// (InputColumns, as a run's Collector keeps them) give every table of the whole ones.
func TestInputColumnsAreTheInputs(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := loadSample(t, mem)
	defer c.Release()
	models, err := attribution.Lookup(attribution.Names(), attribution.DefaultParams)
	require.NoError(t, err)
	build := func(slim bool) *Output {
		in := sampleInputs(c)
		if slim {
			for name, dst := range map[string]*arrow.Table{extract.TableContacts: &in.Contacts, extract.TableDeals: &in.Deals,
				extract.TableDealContacts: &in.DealContacts, extract.TableDealStages: &in.DealStages} {
				full := *dst
				*dst = project(t, name, full)
				require.Less(t, (*dst).NumCols(), full.NumCols(), name)
				full.Release()
			}
		}
		return buildSample(t, mem, in, models)
	}
	whole, slim := build(false), build(true)
	defer whole.Release()
	defer slim.Release()
	require.Equal(t, whole.Stats, slim.Stats)
	for _, tb := range load.Tables {
		if whole.Tables[tb.Name] != nil {
			require.Equal(t, rows(whole.Tables[tb.Name]), rows(slim.Tables[tb.Name]), tb.Name)
		}
	}
}

// project is table t of input name with only InputColumns(name), through a Collector
// that keeps only those.
func project(t *testing.T, name string, tbl arrow.Table) arrow.Table {
	c := extract.NewCollector(memory.DefaultAllocator)
	defer c.Release()
	require.NoError(t, c.Keep(name, InputColumns(name)))
	tr := array.NewTableReader(tbl, 0)
	defer tr.Release()
	for tr.Next() {
		require.NoError(t, c.Write(context.Background(), name, tr.RecordBatch()))
	}
	out, err := c.Take(name)
	require.NoError(t, err)
	return out
}

// buildSample builds in (whose tables it releases) over the sample's two months with
// models and no personas.
func buildSample(t *testing.T, mem memory.Allocator, in Inputs, models []attribution.Model) *Output {
	defer func() {
		for _, tb := range []arrow.Table{in.Events, in.Contacts, in.Deals, in.DealContacts, in.Spend, in.DealStages} {
			tb.Release()
		}
	}()
	out, err := Build(context.Background(), in, Options{Mem: mem, Models: models, Currency: "USD",
		Range:    extract.Range{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)},
		Lookback: 90 * 24 * time.Hour, SessionTimeout: 30 * time.Minute})
	require.NoError(t, err)
	return out
}

// sampleInputs are the Collector's tables as a run's Inputs; the caller releases them
// (buildSample does).
func sampleInputs(c *extract.Collector) Inputs {
	return Inputs{Events: c.Table(extract.TableEvents), Contacts: c.Table(extract.TableContacts), Deals: c.Table(extract.TableDeals),
		DealContacts: c.Table(extract.TableDealContacts), Spend: c.Table(extract.TableSpend), DealStages: c.Table(extract.TableDealStages)}
}
