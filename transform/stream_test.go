package transform

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/load"
	"closedloop/transform/attribution"
	"closedloop/transform/persona"
)

// withoutSessionIDs is events with every session_key null: sessions then come from
// the timeout, as for Segment or a flat log.
func withoutSessionIDs(mem memory.Allocator, events arrow.Table) arrow.Table {
	idx := events.Schema().FieldIndices("session_key")[0]
	null := array.MakeArrayOfNull(mem, arrow.BinaryTypes.String, int(events.NumRows()))
	defer null.Release()
	ch := arrow.NewChunked(arrow.BinaryTypes.String, []arrow.Array{null})
	defer ch.Release()
	col := arrow.NewColumn(events.Schema().Field(idx), ch)
	defer col.Release()
	cols := make([]arrow.Column, events.NumCols())
	for i := range cols {
		if i == idx {
			cols[i] = *col
		} else {
			cols[i] = *events.Column(i)
		}
	}
	return array.NewTable(events.Schema(), cols, events.NumRows())
}

// TestStreamInChunksIsOneWalk: the sample's events given to a Stream in chunks cut
// anywhere (sessions split between chunks, chunks in shuffled order, added from
// several goroutines at once, page views spilled to a file) give every table and
// every count of Build over all events at once; also with sessions by timeout only.
func TestStreamInChunksIsOneWalk(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := loadSample(t, mem)
	defer c.Release()
	sample := filepath.Join("..", "testdata", "sample")
	ctx := context.Background()
	rules, err := persona.Load(filepath.Join(sample, "personas.txt"))
	require.NoError(t, err)
	models, err := attribution.Lookup(attribution.Names(), attribution.DefaultParams)
	require.NoError(t, err)
	opt := Options{Mem: mem, Personas: rules, Models: models, Currency: "USD", KeepSessionOnCampaignChange: true,
		Range:    extract.Range{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)},
		Lookback: 90 * 24 * time.Hour, SessionTimeout: 30 * time.Minute, TouchEvents: []string{"generate_lead", "file_download"},
		MicroConversions: []string{"generate_lead"}, TempDir: t.TempDir()}
	crm := func() Inputs {
		return Inputs{Contacts: c.Table(extract.TableContacts), Deals: c.Table(extract.TableDeals),
			DealContacts: c.Table(extract.TableDealContacts), Spend: c.Table(extract.TableSpend), DealStages: c.Table(extract.TableDealStages)}
	}
	releaseIn := func(in Inputs) {
		for _, tb := range []arrow.Table{in.Contacts, in.Deals, in.DealContacts, in.Spend, in.DealStages} {
			tb.Release()
		}
	}
	all := c.Table(extract.TableEvents)
	defer all.Release()
	unkeyed := withoutSessionIDs(mem, all)
	defer unkeyed.Release()

	for _, tc := range []struct {
		name   string
		events arrow.Table
	}{{"session ids", all}, {"timeout", unkeyed}} {
		t.Run(tc.name, func(t *testing.T) {
			in := crm()
			in.Events = tc.events
			one, err := Build(ctx, in, opt)
			releaseIn(in)
			require.NoError(t, err)
			defer one.Release()
			require.Nil(t, one.Spilled)

			opt := opt
			opt.SpillBytes = 64 << 10
			// Credited in spans of persons too, each spilled or not: joined, one table.
			defer func(a int) { minAttributionSpan = a }(minAttributionSpan)
			minAttributionSpan = 100
			for _, size := range []int64{997, 4096} {
				n := tc.events.NumRows()
				var chunks []arrow.Table
				for from := int64(0); from < n; from += size {
					chunks = append(chunks, tableSlice(tc.events, from, min(n, from+size)))
				}
				rand.New(rand.NewPCG(uint64(size), 7)).Shuffle(len(chunks), func(i, j int) { chunks[i], chunks[j] = chunks[j], chunks[i] })
				s := NewStream(opt)
				var wg sync.WaitGroup
				errs := make([]error, 4)
				for g := range 4 {
					wg.Go(func() {
						for k := g; k < len(chunks); k += 4 {
							if err := s.Add(ctx, chunks[k]); err != nil {
								errs[g] = err
							}
						}
					})
				}
				wg.Wait()
				for _, ch := range chunks {
					ch.Release()
				}
				for _, err := range errs {
					require.NoError(t, err)
				}
				in := crm()
				streamed, err := s.Finish(ctx, in)
				releaseIn(in)
				require.NoError(t, err)

				require.Equal(t, one.Stats, streamed.Stats, "chunks of %d", size)
				for _, name := range []string{load.FctPageView, load.FctTouchpoint, load.FctAttribution} {
					require.NotNil(t, streamed.Spilled[name], "%s over spillBytes goes to a file", name)
				}
				for _, tb := range load.Tables {
					a := one.Tables[tb.Name]
					if a == nil {
						continue
					}
					b, err := streamed.Table(tb.Name)
					require.NoError(t, err)
					if tb.Name == load.FctPageView { // page views keep the order their chunks came in
						require.Equal(t, sortedRows(a), sortedRows(b), "%s, chunks of %d", tb.Name, size)
						b.Release()
						continue
					}
					ra, rb := rows(a), rows(b)
					b.Release()
					require.Len(t, rb, len(ra), "%s, chunks of %d", tb.Name, size)
					for i := range ra {
						require.Equal(t, ra[i], rb[i], "%s row %d, chunks of %d", tb.Name, i, size)
					}
				}
				require.Equal(t, rows(one.Aliases), rows(streamed.Aliases))
				streamed.Release()
			}
		})
	}
}

func sortedRows(t arrow.Table) []string {
	var out []string
	for _, r := range rows(t) {
		out = append(out, fmt.Sprint(r))
	}
	slices.Sort(out)
	return out
}

// tableSlice is rows i..j of t, sharing its buffers; the caller releases it.
func tableSlice(t arrow.Table, i, j int64) arrow.Table {
	cols := make([]arrow.Column, t.NumCols())
	for k := range cols {
		c := array.NewColumnSlice(t.Column(k), i, j)
		cols[k] = *c
		defer c.Release()
	}
	return array.NewTable(t.Schema(), cols, j-i)
}
