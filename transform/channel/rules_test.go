package channel

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

func TestLoadRulesExample(t *testing.T) {
	g, err := LoadRules("testdata/rules.txt")
	require.NoError(t, err)
	for _, c := range []struct {
		t    Touch
		want string
		why  string
	}{
		{sm("google", "cpc", "Brand_US"), "Paid Search - Brand", "user rule 1: Google's Paid Search and campaign ~ brand (any case)"},
		{sm("bing", "ppc", "q3-brand-exact"), "Paid Search - Brand", "user rule 1 on another engine"},
		{sm("google", "cpc", "crm software"), "Paid Search - Generic", "user rule 2: the rest of Paid Search"},
		{sm("google", "cpc", "brand cross-network"), CrossNetwork, "default_channel is Google's channel: Cross-network, not Paid Search"},
		{sm("G2.com", "Referral", ""), "Review Sites", "user rule 3: exact list, case-insensitive"},
		{Touch{Source: "newsletter", Medium: "cpc", ClickID: "ttclid"}, PaidSocial, "user rule 4: click id and a negated expression"},
		{Touch{Source: "newsletter", Medium: "email", ClickID: "ttclid"}, Email, "user rule 4's negation fails: Google's Email"},
		{sm("google", "organic", ""), OrganicSearch, "extend: no user rule matches, Google's rules decide"},
		{sm("somewhere", "weird", ""), Unassigned, "extend: Google's Unassigned"},
	} {
		require.Equal(t, c.want, g.GroupTouch(c.t), c.why)
	}
	require.Equal(t, "Paid Search - Brand", g.Group("google", "cpc", "brand"))
}

func parse(t *testing.T, text string) *Grouper {
	t.Helper()
	g, err := ParseRules(strings.NewReader(text), "rules.txt")
	require.NoError(t, err)
	return g
}

func TestRulesReplace(t *testing.T) {
	g := parse(t, `
mode: replace
channel: Search
  source_category: search
channel: Social
  source_category: social
`)
	require.Equal(t, "Search", g.Group("google", "cpc", ""), "replace: user rule")
	require.Equal(t, "Search", g.Group("www.bing.com", "referral", ""), "source_category uses Category's host lookup")
	require.Equal(t, "Social", g.Group("t.co", "referral", ""))
	require.Equal(t, Unassigned, g.Group("(direct)", "(none)", ""), "replace: Google's Direct is not tried")
	require.Equal(t, Unassigned, g.Group("newsletter", "email", ""), "replace: what no rule matches is Unassigned")
}

func TestRulesConditions(t *testing.T) {
	g := parse(t, `
channel: No keyword
  default_channel: Organic Search, Paid Search
  term: "", (not provided)
channel: Uncategorised referral
  source_category: none
  medium: referral
channel: Creative
  content: ~^hero
channel: Tagged platform
  source_platform: klaviyo
channel: Everything else
`)
	for _, c := range []struct {
		t    Touch
		want string
		why  string
	}{
		{Touch{Source: "google", Medium: "organic", Term: "(not provided)"}, "No keyword", "a list with two default channels; term (not provided)"},
		{Touch{Source: "google", Medium: "cpc"}, "No keyword", `"" matches the empty term`},
		{Touch{Source: "google", Medium: "organic", Term: "crm"}, "Everything else", "a term: rule 1 fails; a rule without conditions matches all"},
		{sm("capterra.com", "referral", ""), "Uncategorised referral", "source_category none"},
		{sm("t.co", "referral", ""), "Everything else", "t.co is SOCIAL, not none"},
		{Touch{Source: "x", Medium: "y", Content: "Hero-Banner"}, "Creative", "anchored expression, case ignored"},
		{Touch{Source: "x", Medium: "y", SourcePlatform: "Klaviyo"}, "Tagged platform", "source_platform"},
	} {
		require.Equal(t, c.want, g.GroupTouch(c.t), c.why)
	}
}

func TestRulesErrors(t *testing.T) {
	for _, c := range []struct {
		text, want string
	}{
		{"channel: A\n  source x", `rules.txt:2: "source x" is not "key: value"`},
		{"channel: A\n\n  sorce: x", `rules.txt:3: unknown key "sorce"`},
		{"source: google\nchannel: A", `rules.txt:1: condition "source" outside a rule: start the rule with "channel: NAME"`},
		{"channel:\n", `rules.txt:1: empty channel name`},
		{"channel: A\nmode: replace", `rules.txt:2: mode must come once, before the first rule`},
		{"mode: extend\nmode: replace\nchannel: A", `rules.txt:2: mode must come once`},
		{"mode: merge\nchannel: A", `rules.txt:1: unknown mode "merge": use extend`},
		{"channel: A\n  campaign: ~(brand", `rules.txt:2: campaign: bad regular expression "(brand"`},
		{"channel: A\n  medium:", `rules.txt:2: medium has no value`},
		{"channel: A\n  medium: !", `rules.txt:2: medium has no value`},
		{"channel: A\n  medium: cpc,,ppc", `rules.txt:2: medium: empty item in "cpc,,ppc"`},
		{"channel: A\n  source_category: news", `rules.txt:2: source_category: unknown category "news": use search, social, shopping, video or none`},
		{"channel: A\n  source_category: ~sea", `rules.txt:2: source_category takes a list of names`},
		{"channel: A\n  default_channel: Paid", `rules.txt:2: default_channel: "paid" is not a GA4 default channel`},
		{"channel: A\n  source: a\n  source: b", `rules.txt:3: source given twice in rule "A"`},
		{"# only a comment\n", `channel rules rules.txt: no rule`},
		{"mode: replace\n", `channel rules rules.txt: no rule`},
	} {
		_, err := ParseRules(strings.NewReader(c.text), "rules.txt")
		require.Error(t, err, c.text)
		require.ErrorIs(t, err, extract.ErrConfig)
		require.Contains(t, err.Error(), c.want)
	}
}

func TestLoadRulesMissing(t *testing.T) {
	_, err := LoadRules(filepath.Join(t.TempDir(), "nope.txt"))
	require.True(t, errors.Is(err, extract.ErrConfig))
	require.Contains(t, err.Error(), "nope.txt")
	require.Contains(t, err.Error(), "CLOSEDLOOP_CHANNEL_RULES")
}

func TestRulesFileDetails(t *testing.T) {
	g := parse(t, "\ufeff# BOM, CRLF and comments\r\nmode: EXTEND\r\nchannel: Partner: ACME\r\n  source: acme\r\n")
	require.Equal(t, "Partner: ACME", g.Group("ACME", "referral", ""), "the channel name keeps everything after the first colon")
	require.Equal(t, Referral, g.Group("other", "referral", ""))
}

func BenchmarkGrouper(b *testing.B) {
	g, err := LoadRules("testdata/rules.txt")
	if err != nil {
		b.Fatal(err)
	}
	touches := make([]Touch, 0, len(groupCases))
	for _, c := range groupCases {
		touches = append(touches, c.t)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		g.GroupTouch(touches[i%len(touches)])
	}
}

func ExampleParseRules() {
	rules := `
mode: extend
channel: Paid Search - Brand
  default_channel: Paid Search
  campaign: ~brand
`
	g, err := ParseRules(strings.NewReader(rules), "rules.txt")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(g.Group("google", "cpc", "Brand_EU"))
	fmt.Println(g.Group("google", "cpc", "crm_generic"))
	// Output:
	// Paid Search - Brand
	// Paid Search
}
