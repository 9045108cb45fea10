package normalize

import (
	"encoding/csv"
	"os"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/transform/channel"
)

// Escapes that decode to bytes no warehouse stores are kept as written.
func TestBadEscapesKept(t *testing.T) {
	got := Classify(Input{PageLocation: "https://x.io/caf%E9?utm_source=news%00letter&utm_medium=email&utm_campaign=caf%E9", Referrer: "https://%E9.example/"})
	require.Equal(t, Traffic{Source: "news%00letter", Medium: "email", Campaign: "caf%E9", LandingPath: "/caf%E9", Explicit: true}, got)
	require.Equal(t, "/caf%E9", Path("https://x.io/caf%E9"))
	require.Equal(t, "/café", Path("https://x.io/caf%C3%A9"), "valid UTF-8 is decoded")
	require.Equal(t, "", Host("https://%E9.example/"))
}

// trafficStrings are the text fields of a Traffic.
func trafficStrings(tr Traffic) map[string]string {
	out := map[string]string{}
	v := reflect.ValueOf(tr)
	for i := 0; i < v.NumField(); i++ {
		if s, ok := v.Field(i).Interface().(string); ok {
			out[v.Type().Field(i).Name] = s
		}
	}
	return out
}

func FuzzClassify(f *testing.F) {
	for _, c := range classifyCases {
		f.Add(c.in.PageLocation, c.in.Referrer, c.in.UTMSource, c.in.UTMMedium, c.in.UTMCampaign, c.in.GCLID)
	}
	if rf, err := os.Open("testdata/example_segment_pages.csv"); err == nil {
		rows, err := csv.NewReader(rf).ReadAll()
		rf.Close()
		require.NoError(f, err)
		for _, r := range rows[1:] {
			f.Add(r[6], r[10], r[11], r[12], r[13], "")
		}
	}
	f.Add("https://x.io/caf%E9?utm_campaign=%00&gclid=%ff", "https://%E9%80.example/?q=%C3", "", "", "", "")
	f.Fuzz(func(t *testing.T, page, ref, src, med, camp, gclid string) {
		in := Input{PageLocation: page, Referrer: ref, UTMSource: src, UTMMedium: med, UTMCampaign: camp, GCLID: gclid}
		tr := Classify(in)
		_ = channel.Default(tr.Touch())
		_, _ = Path(page), Host(ref)
		for _, s := range []string{page, ref, src, med, camp, gclid} {
			if extract.BadText("", s) != "" {
				return // bad input may give bad output: the extractors refuse it first
			}
		}
		for name, s := range trafficStrings(tr) {
			require.Empty(t, extract.BadText(name, s), "%q from %+v", s, in)
		}
		require.Empty(t, extract.BadText("path", Path(page)), "%q", page)
		require.Empty(t, extract.BadText("host", Host(ref)), "%q", ref)
	})
}
