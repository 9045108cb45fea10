package transform

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/load"
)

// TestColumnsWritten: every column of every warehouse table Build writes is resolved by
// name once, so a reordered or extended schema cannot shift or leave out a value.
func TestColumnsWritten(t *testing.T) {
	for _, tb := range load.Tables {
		if tb.Mode == load.Append { // run_log, rejected_rows: the runner writes those
			continue
		}
		want := make([]int, tb.Schema.NumFields())
		for i := range want {
			want[i] = i
		}
		require.Equal(t, want, slices.Sorted(slices.Values(written[tb.Name])), tb.Name)
	}
	require.Panics(t, func() { load.Col(load.FctTouchpoint, "touch_point_id") })
	require.Panics(t, func() { load.Col("fct_touchpoints", "touchpoint_id") })
}

// TestBuildCanceled: a canceled run returns the context's error and holds no memory.
func TestBuildCanceled(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	f := fixture{c, mem}
	f.events(t, ev{at: at(0, "9h"), kind: "page_view", name: "page_view", anon: "A", session: "1", url: "https://x.io/"})
	f.contact(t, "101", "ann@x.io", "A", at(0, "10h"), at(0, "10h"))
	in := Inputs{Events: c.Table(extract.TableEvents), Contacts: c.Table(extract.TableContacts), Deals: c.Table(extract.TableDeals),
		DealContacts: c.Table(extract.TableDealContacts), Spend: c.Table(extract.TableSpend)}
	defer func() {
		for _, tb := range []interface{ Release() }{in.Events, in.Contacts, in.Deals, in.DealContacts, in.Spend} {
			tb.Release()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out, err := Build(ctx, in, Options{Mem: mem, Range: extract.Range{From: day0, To: day0.AddDate(0, 0, 2)},
		SessionTimeout: 30 * time.Minute, Currency: "USD"})
	require.ErrorIs(t, err, context.Canceled)
	require.Nil(t, out)
}

// TestHasherIsHashParts: the reusable hasher gives hashParts's ids.
func TestHasherIsHashParts(t *testing.T) {
	var h hasher
	for _, parts := range [][]string{{}, {""}, {"touch", "", "1767225600000000", "click", "Paid Search"}, {"a", "b\x00c"}} {
		require.Equal(t, hashParts(parts...), h.hash(parts...), "%q", parts)
	}
	h.start("touch")
	h.add("")
	h.addInt(1767225600000000)
	h.add("click")
	h.add("Paid Search")
	require.Equal(t, hashParts("touch", "", "1767225600000000", "click", "Paid Search"), h.sum())
	h.start("a")
	h.addInt(-5)
	require.Equal(t, hashParts("a", "-5"), h.sum())
}
