package transform

import (
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/transform/attribution"
)

// TestStagesAreTold: Options.Stage hears each step once, journeys, and each model of
// the run as model:NAME, with times that are not negative; the tables are the same as
// without it.
func TestStagesAreTold(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	f := fixture{c, mem}
	f.events(t,
		ev{at: at(-5, "1h"), kind: "touch", name: "impression", anon: "A", channel: "Before"},
		ev{at: at(1, "1h"), kind: "touch", name: "conversion", anon: "A", channel: "Same", conv: true, value: 2},
		ev{at: at(3, "1h"), kind: "touch", name: "impression", anon: "B", channel: "Other"},
		ev{at: at(4, "1h"), kind: "touch", name: "conversion", anon: "B", channel: "Again", conv: true, value: 3},
	)
	var mu sync.Mutex
	told := map[string]int{}
	out := build(t, mem, c, day0, day0.AddDate(0, 0, 9), func(o *Options) {
		o.Stage = func(name string, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			require.GreaterOrEqual(t, d, time.Duration(0), name)
			told[name]++
		}
	})
	defer out.Release()
	plain := build(t, mem, c, day0, day0.AddDate(0, 0, 9))
	defer plain.Release()
	require.Equal(t, rows(plain.Tables["fct_attribution"]), rows(out.Tables["fct_attribution"]))

	want := map[string]int{"identity": 1, "sessions": 1, "page views": 1, "conversions": 1, "journeys": 1, "attribution": 1,
		"persons": 1, "spend": 1, "deal stages": 1}
	for _, m := range attribution.Names() {
		want["model:"+m] = 1
	}
	require.Equal(t, want, told)
}
