package channel

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

func TestParseRulesRefusesBadText(t *testing.T) {
	_, err := ParseRules(strings.NewReader("channel: Caf\xe9\n  source: x\n"), "rules.txt")
	require.ErrorIs(t, err, extract.ErrConfig)
	require.ErrorContains(t, err, "rules.txt: line 1: the line is not valid UTF-8")
}

func FuzzParseRules(f *testing.F) {
	seed, err := os.ReadFile("testdata/rules.txt")
	require.NoError(f, err)
	f.Add(string(seed))
	for _, s := range []string{
		"mode: replace\nchannel: Search\n  source_category: search\n",
		"channel: X\n  default_channel: !paid search, email\n  campaign: ~(?i)brand|^$\n",
		"channel: X\n  medium: \"\", cpc\n  source: !~\n",
		"mode: extend\nmode: replace\n",
		"channel: Caf\xe9\n",
		":\n",
	} {
		f.Add(s)
	}
	touches := []Touch{
		{Source: "google", Medium: "cpc", Campaign: "Brand"},
		{Source: "(direct)", Medium: "(none)"},
		{Source: "t.co", Medium: "referral", ClickID: "ttclid"},
		{},
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseRules(strings.NewReader(s), "rules.txt")
		if err != nil {
			require.Nil(t, g)
			require.True(t, errors.Is(err, extract.ErrConfig), "%v", err)
			return
		}
		require.NotNil(t, g)
		for _, r := range g.rules {
			require.NotEmpty(t, r.channel)
			require.Empty(t, extract.BadText("channel", r.channel), "%q", r.channel)
		}
		for _, tc := range touches {
			require.NotEmpty(t, g.GroupTouch(tc))
		}
	})
}
