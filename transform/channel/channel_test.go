package channel

import (
	"encoding/csv"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// groupCase is one table case: the touch, the channel Google's rules give, and the rule
// (with its number in the package doc) the case checks.
type groupCase struct {
	t    Touch
	want string
	rule string
}

func sm(source, medium, campaign string) Touch {
	return Touch{Source: source, Medium: medium, Campaign: campaign}
}

var groupCases = []groupCase{
	// 1 Direct
	{sm("(direct)", "(none)", ""), Direct, "1 Direct: source (direct) and medium (none)"},
	{sm("(direct)", "(not set)", ""), Direct, "1 Direct: source (direct) and medium (not set)"},
	{sm("", "", ""), Direct, "1 Direct: a NULL source and medium (GA4 export) is (direct) / (not set)"},
	{sm("(Direct)", "(NONE)", ""), Direct, "1 Direct: Google's rules ignore case"},
	{sm("(direct)", "(none)", "pmax cross-network"), Direct, "1 Direct comes before 2 Cross-network"},
	{sm("(direct)", "referral", ""), Referral, "1 Direct needs medium (not set)/(none): (direct) / referral falls to 13 Referral"},
	{sm("", "cpc", ""), PaidOther, "1 Direct needs an unset medium: an empty source with cpc is 8 Paid Other"},

	// 2 Cross-network
	{sm("google", "cpc", "Performance Max Cross-Network"), CrossNetwork, "2 Cross-network: campaign contains cross-network, any case"},
	{sm("google", "cpc", "cross-network shopping"), CrossNetwork, "2 Cross-network comes before 3 Paid Shopping"},
	{sm("somewhere", "weird", "x_cross-network_y"), CrossNetwork, "2 Cross-network reads the campaign only"},
	{sm("google", "cpc", "crossnetwork"), PaidSearch, "2 Cross-network needs the hyphen: 4 Paid Search"},

	// 3 Paid Shopping
	{sm("amazon", "cpc", ""), PaidShopping, "3 Paid Shopping: SHOPPING source and PAID"},
	{sm("google", "cpc", "shopping_q1"), PaidShopping, "3 Paid Shopping: campaign ~ shopping and PAID, before 4 Paid Search"},
	{sm("google", "ppc", "eshop-2024"), PaidShopping, "3 Paid Shopping: shop after 'e' matches ([^a-df-z]|^)shop"},
	{sm("facebook", "paid_social", "shop_now"), PaidShopping, "3 Paid Shopping: shop at the start; comes before 5 Paid Social"},
	{sm("bing", "cpc", "q1-shop"), PaidShopping, "3 Paid Shopping: shop after a non-letter"},
	{sm("google", "cpc", "workshop"), PaidSearch, "3 Paid Shopping: shop after 'k' does not match the pattern: 4 Paid Search"},
	{sm("ebay", "retargeting", ""), PaidShopping, "3 Paid Shopping: retargeting is PAID"},
	{sm("walmart", "display", ""), Display, "3 Paid Shopping needs PAID (display is not): 7 Display comes before 9 Organic Shopping"},

	// 4 Paid Search
	{sm("google", "cpc", ""), PaidSearch, "4 Paid Search: SEARCH source and medium cpc"},
	{sm("bing", "ppc", ""), PaidSearch, "4 Paid Search: medium ppc"},
	{sm("Google", "CPC", ""), PaidSearch, "4 Paid Search: case-insensitive"},
	{sm("duckduckgo", "paidsearch", ""), PaidSearch, "4 Paid Search: medium ~ paid.*"},
	{sm("yahoo", "cpm", ""), PaidSearch, "4 Paid Search: cpm contains cp, so PAID; 4 comes before 7 Display"},
	{sm("www.google.co.uk", "cpc", ""), PaidSearch, "4 Paid Search: a search brand's country host is SEARCH"},
	{sm("baidu", "retargeting", ""), PaidSearch, "4 Paid Search: medium retargeting"},

	// 5 Paid Social
	{sm("facebook", "paid_social", ""), PaidSocial, "5 Paid Social: SOCIAL source and medium paid.*"},
	{sm("linkedin", "cpc", ""), PaidSocial, "5 Paid Social: SOCIAL source and cpc"},
	{sm("l.facebook.com", "cpc", ""), PaidSocial, "5 Paid Social: a referrer host in Google's list"},
	{sm("x.com", "paid", ""), PaidSocial, "5 Paid Social: x.com is SOCIAL (closedloop's additions to the list)"},
	{sm("tiktok", "cpc", ""), PaidSocial, "5 Paid Social: tiktok"},

	// 6 Paid Video
	{sm("youtube", "cpv", ""), PaidVideo, "6 Paid Video: VIDEO source and cpv (contains cp)"},
	{sm("youtube.com", "paid_video", ""), PaidVideo, "6 Paid Video: medium paid.*"},
	{sm("m.youtube.com", "cpc", ""), PaidVideo, "6 Paid Video: m.youtube.com is VIDEO"},

	// 7 Display
	{sm("criteo", "display", ""), Display, "7 Display: medium display"},
	{sm("gdn", "banner", ""), Display, "7 Display: medium banner"},
	{sm("publisher", "expandable", ""), Display, "7 Display: medium expandable"},
	{sm("publisher", "interstitial", ""), Display, "7 Display: medium interstitial"},
	{sm("newsletter", "cpm", ""), Display, "7 Display: medium cpm; 7 comes before 8 Paid Other"},
	{sm("facebook", "display", ""), Display, "7 Display: display is not PAID, so not 5 Paid Social; 7 comes before 10 Organic Social"},

	// 8 Paid Other
	{sm("someplatform", "paid", ""), PaidOther, "8 Paid Other: PAID, source in no category"},
	{sm("partner", "cpa", ""), PaidOther, "8 Paid Other: cpa contains cp"},
	{sm("capterra.com", "ppc", ""), PaidOther, "8 Paid Other: ppc from an uncategorised source"},
	{sm("email", "cpc", ""), PaidOther, "8 Paid Other comes before 14 Email"},

	// 9 Organic Shopping
	{sm("amazon", "referral", ""), OrganicShopping, "9 Organic Shopping: SHOPPING source; comes before 13 Referral"},
	{sm("newsletter", "email", "black-friday shopping"), OrganicShopping, "9 Organic Shopping: campaign ~ shopping; comes before 14 Email"},
	{sm("shopify", "organic", ""), OrganicShopping, "9 Organic Shopping comes before 12 Organic Search (medium organic)"},
	{sm("IGShopping", "social", ""), OrganicShopping, "9 Organic Shopping comes before 10 Organic Social"},

	// 10 Organic Social
	{sm("t.co", "referral", ""), OrganicSocial, "10 Organic Social: SOCIAL source (t.co)"},
	{sm("m.facebook.com", "referral", ""), OrganicSocial, "10 Organic Social: m.facebook.com is in Google's list"},
	{sm("lnkd.in", "referral", ""), OrganicSocial, "10 Organic Social: lnkd.in"},
	{sm("mastodon.example", "social", ""), OrganicSocial, "10 Organic Social: medium social"},
	{sm("forum", "social-network", ""), OrganicSocial, "10 Organic Social: medium social-network"},
	{sm("forum", "social-media", ""), OrganicSocial, "10 Organic Social: medium social-media"},
	{sm("forum", "sm", ""), OrganicSocial, "10 Organic Social: medium sm"},
	{sm("forum", "social network", ""), OrganicSocial, "10 Organic Social: medium 'social network'"},
	{sm("forum", "social media", ""), OrganicSocial, "10 Organic Social: medium 'social media'"},
	{sm("reddit", "organic", ""), OrganicSocial, "10 Organic Social comes before 12 Organic Search (medium organic)"},
	{sm("com.linkedin.android", "referral", ""), OrganicSocial, "10 Organic Social: LinkedIn's Android app (closedloop's additions)"},
	{sm("facebook", "email", ""), OrganicSocial, "10 Organic Social comes before 14 Email"},

	// 11 Organic Video
	{sm("youtube.com", "referral", ""), OrganicVideo, "11 Organic Video: VIDEO source"},
	{sm("vimeo.example", "video", ""), OrganicVideo, "11 Organic Video: medium ~ video"},
	{sm("podcastapp", "video-promo", ""), OrganicVideo, "11 Organic Video: medium contains video"},
	{sm("netflix.com", "organic", ""), OrganicVideo, "11 Organic Video comes before 12 Organic Search"},

	// 12 Organic Search
	{sm("google", "organic", ""), OrganicSearch, "12 Organic Search: SEARCH source, medium organic"},
	{sm("bing.com", "referral", ""), OrganicSearch, "12 Organic Search: SEARCH source; comes before 13 Referral"},
	{sm("ecosia.org", "referral", ""), OrganicSearch, "12 Organic Search: ecosia.org is in Google's list"},
	{sm("brave", "organic", ""), OrganicSearch, "12 Organic Search: medium organic from a source in no list"},
	{sm("google.de", "referral", ""), OrganicSearch, "12 Organic Search: a search brand's country host"},
	{sm("search.google.com", "referral", ""), OrganicSearch, "12 Organic Search: search.google.com is SEARCH in Google's list"},
	{sm("mail.yandex.ru", "email", ""), OrganicSearch, "12 Organic Search: Google's list puts mail.yandex.ru in SEARCH; 12 comes before 14 Email"},

	// 13 Referral
	{sm("capterra.com", "referral", ""), Referral, "13 Referral: medium referral"},
	{sm("partner", "app", ""), Referral, "13 Referral: medium app"},
	{sm("partner", "link", ""), Referral, "13 Referral: medium link"},
	{sm("email", "referral", ""), Referral, "13 Referral comes before 14 Email (source email)"},
	{sm("mail.google.com", "referral", ""), Referral, "13 Referral: GA4 reports webmail as referral (normalize says email)"},
	{sm("google.example.org", "referral", ""), Referral, "13 Referral: only a search brand just before the public suffix is SEARCH"},

	// 14 Email
	{sm("newsletter", "email", ""), Email, "14 Email: medium email"},
	{sm("e-mail", "blast", ""), Email, "14 Email: source e-mail"},
	{sm("hubspot", "e_mail", ""), Email, "14 Email: medium e_mail"},
	{sm("crm", "e mail", ""), Email, "14 Email: medium 'e mail'"},
	{sm("mail.google.com", "email", ""), Email, "14 Email: webmail referrer as normalize reports it"},
	{sm("newsletter", "email-blast", ""), Unassigned, "14 Email: Google writes '=', an exact value, not a substring"},
	{sm("sms", "email", ""), Email, "14 Email comes before 17 SMS"},
	{sm("email", "affiliate", ""), Email, "14 Email comes before 15 Affiliates"},

	// 15 Affiliates
	{sm("partner", "affiliate", ""), Affiliates, "15 Affiliates: medium affiliate"},
	{sm("partner", "affiliates", ""), Unassigned, "15 Affiliates: the current rule is affiliate only"},

	// 16 Audio
	{sm("spotify", "audio", ""), Audio, "16 Audio: medium audio"},
	{sm("spotify", "audio-ads", ""), Unassigned, "16 Audio: exact match only"},

	// 17 SMS
	{sm("sms", "text", ""), SMS, "17 SMS: source sms"},
	{sm("twilio", "sms", ""), SMS, "17 SMS: medium sms"},
	{sm("sms", "push", ""), SMS, "17 SMS comes before 18 Mobile Push Notifications"},

	// 18 Mobile Push Notifications
	{sm("app", "push", ""), MobilePushNotifications, "18 Mobile Push: medium ends with push"},
	{sm("braze", "web-push", ""), MobilePushNotifications, "18 Mobile Push: medium ends with push"},
	{sm("app", "mobile_message", ""), MobilePushNotifications, "18 Mobile Push: medium contains mobile"},
	{sm("app", "in-app-notification", ""), MobilePushNotifications, "18 Mobile Push: medium contains notification"},
	{sm("firebase", "x", ""), MobilePushNotifications, "18 Mobile Push: source firebase"},
	{sm("app", "pushy", ""), Unassigned, "18 Mobile Push: push must end the medium"},

	// Unassigned
	{sm("somewhere", "weird", ""), Unassigned, "Unassigned: no rule matches"},
	{sm("newsletter", "(not set)", ""), Unassigned, "Unassigned: a source tagged without a medium"},
	{sm("(not set)", "(not set)", ""), Unassigned, "Unassigned: (not set) is not (direct)"},

	// Platform rules, tried before the manual ones
	{Touch{Source: "google", Medium: "cpc", SourcePlatform: "Google Ads", AdNetworkType: "Google Search"}, PaidSearch, "Google Ads: ad network Google Search is Paid Search"},
	{Touch{SourcePlatform: "Google Ads", AdNetworkType: "Search partners"}, PaidSearch, "Google Ads: ad network Search partners is Paid Search"},
	{Touch{Source: "google", Medium: "cpc", SourcePlatform: "Google Ads", AdNetworkType: "YouTube Videos"}, PaidVideo, "Google Ads: YouTube Videos is Paid Video, not the manual Paid Search"},
	{Touch{SourcePlatform: "Google Ads", AdNetworkType: "YouTube Search"}, PaidVideo, "Google Ads: YouTube Search is Paid Video"},
	{Touch{Source: "google", Medium: "cpc", SourcePlatform: "Google Ads", AdNetworkType: "Google Display Network"}, Display, "Google Ads: Google Display Network is Display"},
	{Touch{Source: "google", Medium: "cpc", SourcePlatform: "Google Ads", AdNetworkType: "Cross-network"}, CrossNetwork, "Google Ads: Cross-network (Performance Max) without cross-network in the campaign name"},
	{Touch{SourcePlatform: "Google Ads", AdNetworkType: "Social"}, PaidSocial, "Google Ads: ad network Social is Paid Social"},
	{Touch{Source: "google", Medium: "cpc", SourcePlatform: "Google Ads", AdNetworkType: "(not set)"}, PaidSearch, "Google Ads: no platform rule matches, the manual rules decide"},
	{Touch{Source: "dbm", Medium: "cpm", SourcePlatform: "Display & Video 360", CreativeFormat: "Standard"}, Display, "DV360: creative format Standard is Display"},
	{Touch{Source: "dbm", Medium: "cpm", SourcePlatform: "DV360", CreativeFormat: "Native video"}, PaidVideo, "DV360: creative format Native video is Paid Video"},
	{Touch{Source: "dbm", Medium: "cpm", SourcePlatform: "Display & Video 360", CreativeFormat: "Audio"}, Audio, "DV360: creative format Audio is Audio"},
	{Touch{Source: "dbm", Medium: "cpm", SourcePlatform: "Display & Video 360", CreativeFormat: "Tracking"}, PaidOther, "DV360: creative format Tracking is Paid Other"},
	{Touch{Source: "bing", Medium: "cpc", SourcePlatform: "Search Ads 360", EngineAccountType: "bing"}, PaidSearch, "SA360: engine bing is Paid Search"},
	{Touch{Source: "facebook", Medium: "cpc", SourcePlatform: "SA360", EngineAccountType: "facebook"}, PaidSocial, "SA360: engine facebook is Paid Social"},
	{Touch{Source: "google", Medium: "cpc", SourcePlatform: "Search Ads 360", EngineAccountType: "google ads", AdNetworkType: "YouTube Videos"}, PaidVideo, "SA360: a Google Ads engine takes the Google Ads rules"},
	{Touch{Source: "klaviyo", Medium: "email", SourcePlatform: "Klaviyo"}, Email, "a manual utm_source_platform leaves the manual rules to decide"},
}

func TestGroup(t *testing.T) {
	require.GreaterOrEqual(t, len(groupCases), 80)
	for _, c := range groupCases {
		t.Run(c.rule, func(t *testing.T) {
			require.Equal(t, c.want, Default(c.t), "%+v", c.t)
			if c.t.SourcePlatform == "" {
				require.Equal(t, c.want, Group(c.t.Source, c.t.Medium, c.t.Campaign))
			}
			var g *Grouper
			require.Equal(t, c.want, g.GroupTouch(c.t), "a nil Grouper is Google's default")
			require.Equal(t, c.want, (&Grouper{}).GroupTouch(c.t), "so is a zero Grouper")
		})
	}
}

func TestGroupCoversEveryChannel(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range groupCases {
		seen[c.want] = true
	}
	for _, ch := range Channels {
		require.True(t, seen[ch], "no case for %s", ch)
	}
	require.Len(t, Channels, 19)
}

// The hand-written matchers must agree with Google's regular expressions.
func TestPatternsMatchGooglesRegex(t *testing.T) {
	paid := regexp.MustCompile(`^(.*cp.*|ppc|retargeting|paid.*)$`)
	shop := regexp.MustCompile(`^(.*(([^a-df-z]|^)shop|shopping).*)$`)
	words := []string{"", "cpc", "cpm", "cpv", "ppc", "xppc", "retargeting", "retargeting2",
		"paid", "paid_social", "unpaid", "acpx", "organic", "shop", "eshop", "workshop",
		"shopping", "workshopping", "q1_shop", "9shop", "bshop", "zshop", "éshop", "shoppe",
		"sho", "s hop", "e-shop", "brand_shop_q1", "shopshop", "kshopkshop", "kshop eshop"}
	for _, a := range words {
		for _, b := range []string{"", "x", "_", "e", "shop"} {
			s := a + b
			require.Equal(t, paid.MatchString(s), IsPaidMedium(s), "paid %q", s)
			require.Equal(t, shop.MatchString(s), isShopCampaign(s), "shop %q", s)
		}
	}
}

func TestCategory(t *testing.T) {
	for _, c := range []struct{ source, want, why string }{
		{"google", CategorySearch, "exact entry"},
		{"www.google.com", CategorySearch, "www. removed, then the brand google"},
		{"google.co.uk", CategorySearch, "brand before a two-label public suffix"},
		{"www.bing.com", CategorySearch, "brand bing"},
		{"mail.google.com", "", "a subdomain other than www is not the search engine"},
		{"m.facebook.com", CategorySocial, "exact entry"},
		{"www.facebook.com", CategorySocial, "www. removed"},
		{"linkedin.com", CategorySocial, "exact entry"},
		{"linkedin.example.org", "", "only search brands are looked up by label"},
		{"t.co", CategorySocial, "exact entry"},
		{"x.com", CategorySocial, "closedloop's addition"},
		{"youtube.com", CategoryVideo, "exact entry"},
		{"amazon.com", CategoryShopping, "exact entry"},
		{"Google Shopping", CategoryShopping, "entry with a space and capitals"},
		{"capterra.com", "", "not in the list"},
		{"", "", "empty"},
	} {
		require.Equal(t, c.want, Category(c.source), "%s: %s", c.source, c.why)
	}
}

// The embedded list is Google's full list, unchanged (SOURCE.md).
func TestEmbeddedList(t *testing.T) {
	rows, err := csv.NewReader(strings.NewReader(categoriesCSV)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"source", "source_category"}, rows[0])
	counts := map[string]int{}
	for _, r := range rows[1:] {
		counts[r[1]]++
	}
	require.Equal(t, map[string]int{CategorySocial: 592, CategorySearch: 129, CategoryShopping: 52, CategoryVideo: 46}, counts)
	require.Len(t, rows, 820)
	for s := range extraCategories {
		for _, r := range rows[1:] {
			require.NotEqual(t, strings.ToLower(r[0]), s, "%s is in Google's list: drop it from extraCategories", s)
		}
	}

	shared, err := os.ReadFile("../../../shared/data/ga4-source-categories/ga4_source_categories.csv")
	if os.IsNotExist(err) {
		t.Skip("../shared/data absent")
	}
	require.NoError(t, err)
	require.Equal(t, string(shared), categoriesCSV, "the embedded list differs from ../shared/data")
}

func BenchmarkGroup(b *testing.B) {
	touches := make([]Touch, 0, len(groupCases))
	for _, c := range groupCases {
		touches = append(touches, c.t)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Default(touches[i%len(touches)])
	}
}

func ExampleGroup() {
	fmt.Println(Group("google", "cpc", "brand"))
	fmt.Println(Group("l.facebook.com", "referral", ""))
	fmt.Println(Group("newsletter", "email", "jan"))
	fmt.Println(Group("(direct)", "(none)", ""))
	// Output:
	// Paid Search
	// Organic Social
	// Email
	// Direct
}
