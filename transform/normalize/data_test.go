package normalize

import (
	"encoding/csv"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/transform/channel"
)

// A real Segment pages row: its explicit campaign columns win over its Google referrer.
func TestSegmentPagesRow(t *testing.T) {
	f, err := os.Open("testdata/example_segment_pages.csv")
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2)
	col := map[string]string{}
	for i, name := range rows[0] {
		col[name] = rows[1][i]
	}
	got := Classify(Input{
		PageLocation: col["url"], Referrer: col["referrer"],
		UTMSource: col["context_campaign_source"], UTMMedium: col["context_campaign_medium"],
		UTMCampaign: col["context_campaign_name"], UTMTerm: col["context_campaign_term"],
		UTMContent: col["context_campaign_content"],
	})
	require.Equal(t, Traffic{Source: "facebook", Medium: "social", Campaign: "autumn_collection_2015",
		Term: "foo", Content: "bar", LandingPath: "/", ReferrerHost: "www.google.com", Explicit: true}, got)
	require.Equal(t, channel.OrganicSocial, channel.Default(got.Touch()))
}

// Every webmail host of Snowplow's referer-parser database is an e-mail visit.
func TestWebmailHosts(t *testing.T) {
	f, err := os.Open("../../../shared/data/segment-dbt-seeds/referrer_mapping.csv")
	if os.IsNotExist(err) {
		t.Skip("../shared/data absent")
	}
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	n := 0
	for _, r := range rows[1:] {
		if r[0] != "email" {
			continue
		}
		n++
		ref := "https://" + strings.TrimSpace(r[2])
		got := Classify(Input{PageLocation: "https://x.io/", Referrer: ref})
		require.Equal(t, "email", got.Medium, "%s (%s)", ref, r[1])
	}
	require.Equal(t, 18, n)
}
