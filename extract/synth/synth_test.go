package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/extract/ga4"
	"closedloop/extract/hubspot"
	"closedloop/extract/spend"
)

var update = flag.Bool("update", false, "regenerate the committed sample, testdata/sample")

// sampleDir is the committed sample, relative to this package.
const sampleDir = "../../testdata/sample"

// generated are the folders Generate writes; the sample holds other files too
// (SOURCE.md, the demo's personas.txt).
var generated = []string{"ga4", "hubspot", "spend"}

// files reads every file Generate writes under dir, keyed by its slash path relative
// to dir.
func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, sub := range generated {
		err := filepath.WalkDir(filepath.Join(dir, sub), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			rel, _ := filepath.Rel(dir, path)
			out[filepath.ToSlash(rel)] = b
			return err
		})
		require.NoError(t, err)
	}
	return out
}

// TestSampleUpToDate keeps testdata/sample equal to what Generate writes for Sample;
// after a change to the generator, run `go test ./extract/synth -run Sample -update`.
func TestSampleUpToDate(t *testing.T) {
	if *update {
		for _, sub := range generated {
			require.NoError(t, os.RemoveAll(filepath.Join(sampleDir, sub)))
		}
		st, err := Generate(Sample, sampleDir)
		require.NoError(t, err)
		t.Logf("regenerated %s: %+v", sampleDir, st)
	}
	dir := t.TempDir()
	_, err := Generate(Sample, dir)
	require.NoError(t, err)
	want, got := files(t, dir), files(t, sampleDir)
	require.Equal(t, len(want), len(got), "files in %s; run with -update", sampleDir)
	for name, b := range want {
		if !bytes.Equal(b, got[name]) {
			t.Errorf("%s/%s is stale; run `go test ./extract/synth -run Sample -update`", sampleDir, name)
		}
	}
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Seed: 3, People: 120, From: time.Date(2025, 12, 30, 15, 0, 0, 0, time.UTC), Days: 9}
	a, b := t.TempDir(), t.TempDir()
	sa, err := Generate(cfg, a)
	require.NoError(t, err)
	sb, err := Generate(cfg, b)
	require.NoError(t, err)
	assert.Equal(t, sa, sb)
	assert.Equal(t, files(t, a), files(t, b))

	cfg.Seed = 4
	c := t.TempDir()
	_, err = Generate(cfg, c)
	require.NoError(t, err)
	assert.NotEqual(t, files(t, a)["hubspot/contacts.ndjson"], files(t, c)["hubspot/contacts.ndjson"])
	// Only the UTC date of From counts: the period starts at midnight of 2025-12-30.
	assert.Contains(t, files(t, a), "ga4/events_20251230.ndjson.gz")
	assert.Contains(t, files(t, a), "ga4/events_20260107.ndjson.gz")
	assert.NotContains(t, files(t, a), "ga4/events_20260108.ndjson.gz")
}

// TestReadBack reads a generated data set with the real extractors: every line is
// accepted, and the counts match the Stats and the funnel's shape.
func TestReadBack(t *testing.T) {
	// 45 days: deals take 3 to 7 weeks from the form to close, so a shorter period
	// closes too few of them to be sure of a customer.
	cfg := Config{Seed: 11, People: 400, From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: 45}
	dir := t.TempDir()
	st, err := Generate(cfg, dir)
	require.NoError(t, err)

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	col := extract.NewCollector(mem)
	defer col.Release()
	ctx := context.Background()
	require.NoError(t, ga4.New(ga4.Config{Path: filepath.Join(dir, "ga4", "*.ndjson.gz"), Mem: mem}).Extract(ctx, col))
	hs := hubspot.New(hubspot.Config{Dir: filepath.Join(dir, "hubspot"), Mem: mem, CookieProperty: "ga_client_id", Currency: "USD"})
	require.NoError(t, hs.Extract(ctx, col))
	require.NoError(t, spend.New(spend.Config{Path: filepath.Join(dir, "spend", "spend.csv"), Mem: mem, Currency: "USD"}).Extract(ctx, col))
	require.Empty(t, col.Rejections())

	assert.Equal(t, int64(st.Events), rows(col, extract.TableEvents))
	assert.Equal(t, int64(st.Contacts), rows(col, extract.TableContacts))
	assert.Equal(t, int64(st.Deals), rows(col, extract.TableDeals))
	assert.Equal(t, int64(st.DealContacts), rows(col, extract.TableDealContacts))
	assert.Equal(t, int64(st.SpendRows), rows(col, extract.TableSpend))

	// The story holds: a real funnel, two-device people, paid traffic with cost.
	assert.Greater(t, st.Cookies, st.People)
	assert.Positive(t, st.LinkedPeople)
	assert.Less(t, st.Contacts, st.People)
	assert.True(t, st.Contacts > st.MQLs && st.MQLs > st.SQLs && st.SQLs > st.Opportunities && st.Opportunities > st.Customers && st.Customers > 0, "%+v", st)
	assert.Equal(t, st.Deals, st.DealsWon+st.DealsLost+st.DealsOpen)
	assert.Equal(t, st.Customers, st.DealsWon)
	assert.Positive(t, st.Revenue)
	assert.Positive(t, st.Spend)

	// Every file_download carries the file's URL in link_url, whatever its page.
	tbl := col.Table(extract.TableEvents)
	defer tbl.Release()
	downloads := 0
	for i, name := range column(t, tbl, "event_name") {
		if name != "file_download" {
			continue
		}
		downloads++
		link := column(t, tbl, "link_url")[i]
		assert.Contains(t, []string{host + "/assets/security-whitepaper.pdf", host + "/assets/pricing-guide.pdf"}, link)
	}
	assert.Equal(t, st.Downloads, downloads)
	assert.Positive(t, downloads)
}

// column returns a string column of tbl, "" for null.
func column(t *testing.T, tbl arrow.Table, name string) []string {
	t.Helper()
	idx := tbl.Schema().FieldIndices(name)
	require.Len(t, idx, 1, name)
	var out []string
	for _, chunk := range tbl.Column(idx[0]).Data().Chunks() {
		a := chunk.(*array.String)
		for i := 0; i < a.Len(); i++ {
			out = append(out, a.Value(i))
		}
	}
	return out
}

// TestPersonaStory: the personas reconcile with the totals and tell the lead-quality
// story on the sample: developers bring the most leads, enterprise IT buyers the best
// lead-to-customer rate and the largest deals, students never buy.
func TestPersonaStory(t *testing.T) {
	st, err := Generate(Sample, t.TempDir())
	require.NoError(t, err)
	var sum PersonaStats
	for _, p := range st.Personas {
		sum.People += p.People
		sum.Contacts += p.Contacts
		sum.MQLs += p.MQLs
		sum.Customers += p.Customers
		sum.Revenue += p.Revenue
	}
	// Committee members are people and contacts of no persona.
	assert.Positive(t, st.Committee)
	assert.Equal(t, st.People, sum.People+st.Committee)
	assert.Equal(t, st.Contacts, sum.Contacts+st.Committee)
	assert.Equal(t, st.MQLs, sum.MQLs)
	assert.Equal(t, st.Customers, sum.Customers)
	assert.InDelta(t, st.Revenue, sum.Revenue, 0.01)

	ent, dev, smb, stu, oth := st.Personas[psEnterprise], st.Personas[psDeveloper], st.Personas[psSmallBusiness], st.Personas[psStudent], st.Personas[psOther]
	assert.Equal(t, "Enterprise IT buyer", ent.Persona)
	rate := func(p PersonaStats) float64 { return float64(p.Customers) / float64(p.Contacts) }
	perDeal := func(p PersonaStats) float64 { return p.Revenue / float64(p.Customers) }
	for _, p := range []PersonaStats{dev, smb, stu, oth} {
		assert.Greater(t, dev.Contacts, p.Contacts-1, "developers bring the most leads: %+v", st.Personas)
		assert.Less(t, ent.Contacts, p.Contacts, "enterprise IT buyers are few: %+v", st.Personas)
		assert.Greater(t, rate(ent), rate(p), "enterprise converts best: %+v", st.Personas)
	}
	assert.Greater(t, perDeal(ent), perDeal(oth))
	assert.Greater(t, perDeal(oth), perDeal(smb))
	assert.Less(t, rate(dev), rate(smb))
	assert.Zero(t, stu.Customers)
	assert.Less(t, stu.MQLs*10, stu.Contacts, "students almost never become MQLs")
	assert.Greater(t, ent.Revenue, st.Revenue/2, "a few enterprise deals are most of the revenue")
}

// TestContactFirmographics reads the sample's contacts as HubSpot returns them: every
// one has the firmographic properties, set to HubSpot's values or null, with a few
// messy job titles; people without a company sign up with a free-mail address.
func TestContactFirmographics(t *testing.T) {
	dir := t.TempDir()
	_, err := Generate(Sample, dir)
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(dir, "hubspot", "contacts.ndjson"))
	require.NoError(t, err)

	titles, folded := map[string]bool{}, map[string]bool{} // as written; lower-case
	for _, p := range profiles {
		for _, w := range p.titles {
			titles[w.v], folded[strings.ToLower(w.v)] = true, true
		}
	}
	for _, ts := range committeeTitles {
		for _, v := range ts {
			titles[v], folded[strings.ToLower(v)] = true, true
		}
	}
	in := func(list []string, v string) bool { return slices.Contains(list, v) }
	var n, noTitle, emptyTitle, messyTitle, noCountry, noCompany int
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var c struct {
			Properties map[string]*string `json:"properties"`
		}
		require.NoError(t, json.Unmarshal(line, &c))
		p := c.Properties
		for _, k := range []string{"jobtitle", "company", "industry", "numemployees", "country"} {
			require.Contains(t, p, k, "every contact has the property, null or not")
		}
		n++
		switch title := p["jobtitle"]; {
		case title == nil:
			noTitle++
		case *title == "":
			emptyTitle++
		default:
			assert.True(t, folded[strings.ToLower(strings.TrimSpace(*title))], *title)
			if !titles[*title] {
				messyTitle++
			}
		}
		if p["country"] == nil {
			noCountry++
		} else {
			assert.True(t, in(countries, *p["country"]), *p["country"])
		}
		if p["company"] == nil {
			noCompany++
			assert.Nil(t, p["numemployees"])
			assert.Nil(t, p["industry"])
			_, domain, _ := strings.Cut(strings.ToLower(strings.TrimSpace(*p["email"])), "@")
			assert.True(t, in(freeMail, domain), *p["email"])
			continue
		}
		require.NotNil(t, p["numemployees"])
		assert.True(t, in(employeeRanges[:], *p["numemployees"]), *p["numemployees"])
		require.NotNil(t, p["industry"])
		assert.True(t, in(industries, *p["industry"]), *p["industry"])
	}
	assert.Positive(t, noTitle)
	assert.Positive(t, emptyTitle)
	assert.Positive(t, messyTitle)
	assert.Positive(t, noCountry)
	assert.Positive(t, noCompany)
	assert.Less(t, noTitle+emptyTitle+messyTitle, n/4, "a few messy titles, not many")
}

// rows counts the rows collected for table.
func rows(col *extract.Collector, table string) int64 {
	tbl := col.Table(table)
	defer tbl.Release()
	return tbl.NumRows()
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no people": {Seed: 1, People: 0, From: time.Now(), Days: 1},
		"no days":   {Seed: 1, People: 10, From: time.Now(), Days: 0},
		"no from":   {Seed: 1, People: 10, Days: 1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Generate(cfg, t.TempDir())
			require.Error(t, err)
			assert.Contains(t, err.Error(), "synth: bad config")
		})
	}
}
