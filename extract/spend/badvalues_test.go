package spend

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

// runStart is the run start of the tests of implausible values.
var runStart = time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)

// reasons returns the reason of each rejection by location, checking that both are
// storable text.
func reasons(t *testing.T, rej []extract.Rejection) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range rej {
		require.Empty(t, extract.BadText("location", r.Location), "%q", r.Location)
		require.Empty(t, extract.BadText("reason", r.Reason), "%q", r.Reason)
		out[r.Location] = r.Reason
	}
	return out
}

func TestBadTextRejected(t *testing.T) {
	path := writeFile(t, "spend.csv", "date,source,medium,campaign,cost,currency\n"+
		"2026-01-05,google,cpc,caf\xe9,1,EUR\n"+
		"2026-01-05,GOO\x00GLE,cpc,brand,1,EUR\n"+
		"2026-01-05,Google\xc9,cpc,brand,1,EUR\n"+
		"2026-01-06,google,cpc,brand,3,EUR\n")
	got := run(t, Config{Path: path, Now: runStart})
	rs := reasons(t, got.rej)
	require.Len(t, rs, 3, "%v", rs)
	require.Contains(t, rs[path+":2"], "campaign is not valid UTF-8 (byte 0xe9 at offset 3)")
	require.Contains(t, rs[path+":3"], "source holds a NUL byte at offset 3")
	require.Contains(t, rs[path+":4"], "source is not valid UTF-8 (byte 0xc9 at offset 6)", "checked before lower-casing")
	require.Len(t, got.rows, 1, "the good row after the bad ones")
	require.Equal(t, "2026-01-06", got.rows[0]["date"])

	meta := writeFile(t, "meta.csv", "account_id,account_currency,campaign_id,campaign_name,date_start,date_stop,impressions,clicks,spend\n"+
		"1,EUR,2385,Winter Sal\xe9,2026-01-05,2026-01-05,10,1,5.5\n"+
		"1,EUR,2386,Summer,2026-01-05,2026-01-05,10,1,5.5\n")
	got = run(t, Config{Path: meta, Now: runStart})
	rs = reasons(t, got.rej)
	require.Contains(t, rs[meta+":2"], "campaign is not valid UTF-8")
	require.Len(t, got.rows, 1)
}

func TestBadTextInCampaignMap(t *testing.T) {
	m := writeFile(t, "campaigns.csv", "campaign_id,utm_campaign\n123,caf\xe9\n")
	err := runErr(t, Config{Path: "testdata/daily.csv", CampaignMap: m, Now: runStart})
	require.ErrorIs(t, err, extract.ErrConfig)
	require.ErrorContains(t, err, "campaign map "+m+":2: utm_campaign is not valid UTF-8")
}

func TestImplausibleValuesRejected(t *testing.T) {
	path := writeFile(t, "spend.csv", "date,source,medium,campaign,cost,currency\n"+
		"2026-01-05,google,cpc,brand,-5,EUR\n"+
		"2026-01-05,google,cpc,brand,1e308,EUR\n"+
		"2026-01-05,google,cpc,brand,2000000000000,EUR\n"+
		"9999-12-31,google,cpc,brand,1,EUR\n"+
		"1970-01-01,google,cpc,brand,1,EUR\n"+
		"2026-12-06,google,cpc,brand,1,EUR\n"+
		"2026-01-06,google,cpc,brand,3,EUR\n")
	got := run(t, Config{Path: path, Now: runStart})
	rs := reasons(t, got.rej)
	require.Len(t, rs, 5, "%v", rs)
	require.Contains(t, rs[path+":2"], `negative cost "-5"`)
	require.Contains(t, rs[path+":3"], `bad cost "1e308"`)
	require.Contains(t, rs[path+":4"], "cost is 2e+12, above the plausible 1e+12")
	require.Contains(t, rs[path+":5"], "date 9999-12-31T00:00:00Z is after the run's start")
	require.Contains(t, rs[path+":6"], "date 1970-01-01T00:00:00Z is before 2000-01-01")
	require.Len(t, got.rows, 2, "tomorrow is within the clock skew; the good row is read")

	// Costs in micros and converted costs are checked in the reporting currency.
	ads := writeFile(t, "ads.csv", "segments.date,campaign.id,campaign.name,metrics.cost_micros,customer.currency_code\n"+
		"2026-01-05,1,Brand,9000000000000000000,EUR\n"+
		"2026-01-05,2,Generic,1000000,EUR\n")
	got = run(t, Config{Path: ads, Now: runStart})
	rs = reasons(t, got.rej)
	require.Contains(t, rs[ads+":2"], "cost is 9e+12, above the plausible 1e+12")
	require.Len(t, got.rows, 1)
	rates := writeFile(t, "rates.csv", "date,currency,rate\n,USD,1000\n")
	usd := writeFile(t, "usd.csv", "date,source,medium,campaign,cost,currency\n2026-01-05,google,cpc,brand,2000000000,USD\n")
	got = run(t, Config{Path: usd, Currency: "EUR", Rates: rates, Now: runStart})
	rs = reasons(t, got.rej)
	require.True(t, strings.Contains(rs[usd+":2"], "cost is 2e+12"), "%v", rs)
}
