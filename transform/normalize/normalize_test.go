package normalize

import (
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/transform/channel"
)

const page = "https://www.x.io/p"

// classifyCase is one table case: the input, the traffic, its GA4 default channel, and
// the precedence rule (numbered as in the package doc) it checks.
type classifyCase struct {
	rule string
	in   Input
	want Traffic
	ch   string
}

var classifyCases = []classifyCase{
	// 1. Manual tagging
	{"1 UTMs win over the referrer (webmail)",
		Input{PageLocation: page + "?utm_source=Newsletter&utm_medium=Email&utm_campaign=Jan&utm_content=hero", Referrer: "https://mail.google.com/"},
		Traffic{Source: "newsletter", Medium: "email", Campaign: "Jan", Content: "hero", LandingPath: "/p", ReferrerHost: "mail.google.com", Explicit: true}, channel.Email},
	{"1 UTMs win over a search referrer's keyword",
		Input{PageLocation: page + "?utm_source=partner&utm_medium=referral", Referrer: "https://www.bing.com/search?q=crm"},
		Traffic{Source: "partner", Medium: "referral", LandingPath: "/p", ReferrerHost: "www.bing.com", Explicit: true}, channel.Referral},
	{"1 explicit fields win over the URL's parameters, field by field",
		Input{PageLocation: page + "?utm_source=url&utm_medium=cpc&utm_campaign=url", UTMSource: "google", UTMTerm: "crm"},
		Traffic{Source: "google", Medium: "cpc", Campaign: "url", Term: "crm", LandingPath: "/p", Explicit: true}, channel.PaidSearch},
	{"1 utm_source without utm_medium: medium (not set)",
		Input{PageLocation: page + "?utm_source=partner"},
		Traffic{Source: "partner", Medium: "(not set)", LandingPath: "/p", Explicit: true}, channel.Unassigned},
	{"1 utm_medium without utm_source: source (not set)",
		Input{PageLocation: page + "?utm_medium=email&utm_campaign=jan"},
		Traffic{Source: "(not set)", Medium: "email", Campaign: "jan", LandingPath: "/p", Explicit: true}, channel.Email},
	{"1 utm_campaign alone is not manual tagging: the referrer decides, the campaign is kept",
		Input{PageLocation: page + "?utm_campaign=spring", Referrer: "https://www.google.com/"},
		Traffic{Source: "google", Medium: "organic", Campaign: "spring", Term: NotProvided, LandingPath: "/p", ReferrerHost: "www.google.com", Explicit: true}, channel.OrganicSearch},
	{"1 UTMs win over a gclid, which is still recorded",
		Input{PageLocation: page + "?utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=crm+tool&gclid=Cj0K"},
		Traffic{Source: "google", Medium: "cpc", Campaign: "brand", Term: "crm tool", ClickID: "gclid", ClickIDValue: "Cj0K", LandingPath: "/p", Explicit: true}, channel.PaidSearch},
	{"1 UTMs win over fbclid; its value keeps its case",
		Input{PageLocation: page + "?utm_source=facebook&utm_medium=paid_social&fbclid=IwAR2xYz"},
		Traffic{Source: "facebook", Medium: "paid_social", ClickID: "fbclid", ClickIDValue: "IwAR2xYz", LandingPath: "/p", Explicit: true}, channel.PaidSocial},
	{"1 paid search by UTM without utm_term: (not provided)",
		Input{PageLocation: page + "?utm_source=bing&utm_medium=cpc"},
		Traffic{Source: "bing", Medium: "cpc", Term: NotProvided, LandingPath: "/p", Explicit: true}, channel.PaidSearch},
	{"1 utm_id, utm_source_platform, utm_creative_format, utm_marketing_tactic",
		Input{PageLocation: page + "?utm_source=linkedin&utm_medium=cpc&utm_id=123&utm_source_platform=Campaign+Manager&utm_creative_format=video&utm_marketing_tactic=prospecting"},
		Traffic{Source: "linkedin", Medium: "cpc", CampaignID: "123", SourcePlatform: "Campaign Manager", CreativeFormat: "video", MarketingTactic: "prospecting", LandingPath: "/p", Explicit: true}, channel.PaidSocial},
	{"1 explicit utm_id and platform fields",
		Input{PageLocation: page, UTMSource: "klaviyo", UTMMedium: "email", UTMID: "c9", UTMSourcePlatform: "Klaviyo", UTMCreativeFormat: "newsletter", UTMMarketingTactic: "retention"},
		Traffic{Source: "klaviyo", Medium: "email", CampaignID: "c9", SourcePlatform: "Klaviyo", CreativeFormat: "newsletter", MarketingTactic: "retention", LandingPath: "/p", Explicit: true}, channel.Email},
	{"1 an explicit (direct) / (none) is no tagging: the referrer decides",
		Input{PageLocation: page, Referrer: "https://t.co/x", UTMSource: "(direct)", UTMMedium: "(none)"},
		Traffic{Source: "t.co", Medium: "referral", LandingPath: "/p", ReferrerHost: "t.co", Explicit: true}, channel.OrganicSocial},
	{"1 parameters after # are not read, as in GA4",
		Input{PageLocation: page + "#/x?utm_source=hash&utm_medium=email"},
		Traffic{Source: "(direct)", Medium: "(none)", LandingPath: "/p"}, channel.Direct},
	{"1 a broken escape keeps the value as written",
		Input{PageLocation: page + "?utm_source=newsletter&utm_medium=email&utm_campaign=50%off%20sale"},
		Traffic{Source: "newsletter", Medium: "email", Campaign: "50%off%20sale", LandingPath: "/p", Explicit: true}, channel.Email},
	{"1 UTMs are read even when the rest of the URL does not parse",
		Input{PageLocation: "http://[::1?utm_source=sms&utm_medium=text"},
		Traffic{Source: "sms", Medium: "text", Explicit: true}, channel.SMS},

	// 2. Paid click ids
	{"2 gclid is google / cpc over a google referrer, keyword (not provided)",
		Input{PageLocation: page + "?gclid=abc", Referrer: "https://www.google.com/"},
		Traffic{Source: "google", Medium: "cpc", Term: NotProvided, ClickID: "gclid", ClickIDValue: "abc", LandingPath: "/p", ReferrerHost: "www.google.com", Explicit: true}, channel.PaidSearch},
	{"2 gclid from the explicit column, no referrer: never direct",
		Input{PageLocation: page, GCLID: "abc"},
		Traffic{Source: "google", Medium: "cpc", Term: NotProvided, ClickID: "gclid", ClickIDValue: "abc", LandingPath: "/p", Explicit: true}, channel.PaidSearch},
	{"2 a paid click id wins over another site's referrer",
		Input{PageLocation: page + "?gclid=abc", Referrer: "https://www.capterra.com/"},
		Traffic{Source: "google", Medium: "cpc", Term: NotProvided, ClickID: "gclid", ClickIDValue: "abc", LandingPath: "/p", ReferrerHost: "www.capterra.com", Explicit: true}, channel.PaidSearch},
	{"2 gclid with utm_campaign only: the click id decides, the campaign is kept",
		Input{PageLocation: page + "?gclid=abc&utm_campaign=brand"},
		Traffic{Source: "google", Medium: "cpc", Campaign: "brand", Term: NotProvided, ClickID: "gclid", ClickIDValue: "abc", LandingPath: "/p", Explicit: true}, channel.PaidSearch},
	{"2 gbraid is google / cpc",
		Input{PageLocation: page + "?gbraid=0AAA"},
		Traffic{Source: "google", Medium: "cpc", Term: NotProvided, ClickID: "gbraid", ClickIDValue: "0AAA", LandingPath: "/p", Explicit: true}, channel.PaidSearch},
	{"2 wbraid is google / cpc",
		Input{PageLocation: page + "?wbraid=0BBB"},
		Traffic{Source: "google", Medium: "cpc", Term: NotProvided, ClickID: "wbraid", ClickIDValue: "0BBB", LandingPath: "/p", Explicit: true}, channel.PaidSearch},
	{"2 dclid is dfa / cpm: Display",
		Input{PageLocation: page + "?dclid=CJKu"},
		Traffic{Source: "dfa", Medium: "cpm", ClickID: "dclid", ClickIDValue: "CJKu", LandingPath: "/p", Explicit: true}, channel.Display},
	{"2 dclid from the explicit column",
		Input{PageLocation: page, DCLID: "CJKu"},
		Traffic{Source: "dfa", Medium: "cpm", ClickID: "dclid", ClickIDValue: "CJKu", LandingPath: "/p", Explicit: true}, channel.Display},
	{"2 msclkid is bing / cpc; the paid search terms come from a bing referrer",
		Input{PageLocation: page + "?msclkid=f00", Referrer: "https://www.bing.com/search?q=crm+software&form=QBLH"},
		Traffic{Source: "bing", Medium: "cpc", Term: "crm software", ClickID: "msclkid", ClickIDValue: "f00", LandingPath: "/p", ReferrerHost: "www.bing.com", Explicit: true}, channel.PaidSearch},
	{"2 ttclid is tiktok / cpc",
		Input{PageLocation: page + "?ttclid=t1"},
		Traffic{Source: "tiktok", Medium: "cpc", ClickID: "ttclid", ClickIDValue: "t1", LandingPath: "/p", Explicit: true}, channel.PaidSocial},
	{"2 li_fat_id is linkedin / cpc",
		Input{PageLocation: page + "?li_fat_id=l1", Referrer: "https://www.linkedin.com/"},
		Traffic{Source: "linkedin", Medium: "cpc", ClickID: "li_fat_id", ClickIDValue: "l1", LandingPath: "/p", ReferrerHost: "www.linkedin.com", Explicit: true}, channel.PaidSocial},
	{"2 twclid is twitter / cpc",
		Input{PageLocation: page + "?twclid=w1"},
		Traffic{Source: "twitter", Medium: "cpc", ClickID: "twclid", ClickIDValue: "w1", LandingPath: "/p", Explicit: true}, channel.PaidSocial},
	{"2 ScCid is snapchat / cpc",
		Input{PageLocation: page + "?ScCid=s1"},
		Traffic{Source: "snapchat", Medium: "cpc", ClickID: "ScCid", ClickIDValue: "s1", LandingPath: "/p", Explicit: true}, channel.PaidSocial},
	{"2 sccid in lower case too",
		Input{PageLocation: page + "?sccid=s2"},
		Traffic{Source: "snapchat", Medium: "cpc", ClickID: "ScCid", ClickIDValue: "s2", LandingPath: "/p", Explicit: true}, channel.PaidSocial},
	{"2 epik is pinterest / cpc",
		Input{PageLocation: page + "?epik=e1"},
		Traffic{Source: "pinterest", Medium: "cpc", ClickID: "epik", ClickIDValue: "e1", LandingPath: "/p", Explicit: true}, channel.PaidSocial},
	{"2 rdt_cid is reddit / cpc",
		Input{PageLocation: page + "?rdt_cid=r1"},
		Traffic{Source: "reddit", Medium: "cpc", ClickID: "rdt_cid", ClickIDValue: "r1", LandingPath: "/p", Explicit: true}, channel.PaidSocial},
	{"2 yclid is yandex / cpc",
		Input{PageLocation: page + "?yclid=y1"},
		Traffic{Source: "yandex", Medium: "cpc", Term: NotProvided, ClickID: "yclid", ClickIDValue: "y1", LandingPath: "/p", Explicit: true}, channel.PaidSearch},
	{"2 irclickid is impact / affiliate",
		Input{PageLocation: page + "?irclickid=i1"},
		Traffic{Source: "impact", Medium: "affiliate", ClickID: "irclickid", ClickIDValue: "i1", LandingPath: "/p", Explicit: true}, channel.Affiliates},
	{"2 several click ids: the first in ClickIDs order names the click",
		Input{PageLocation: page + "?fbclid=f&gclid=g"},
		Traffic{Source: "google", Medium: "cpc", Term: NotProvided, ClickID: "gclid", ClickIDValue: "g", LandingPath: "/p", Explicit: true}, channel.PaidSearch},

	// 3. Referrers
	{"3 search referrer with a keyword (bing q)",
		Input{PageLocation: page, Referrer: "https://www.bing.com/search?q=marketing+attribution"},
		Traffic{Source: "bing", Medium: "organic", Term: "marketing attribution", LandingPath: "/p", ReferrerHost: "www.bing.com", Explicit: true}, channel.OrganicSearch},
	{"3 search referrer without a keyword: (not provided)",
		Input{PageLocation: page, Referrer: "https://www.google.com/"},
		Traffic{Source: "google", Medium: "organic", Term: NotProvided, LandingPath: "/p", ReferrerHost: "www.google.com", Explicit: true}, channel.OrganicSearch},
	{"3 a country host of google is google",
		Input{PageLocation: page, Referrer: "https://www.google.co.uk/"},
		Traffic{Source: "google", Medium: "organic", Term: NotProvided, LandingPath: "/p", ReferrerHost: "www.google.co.uk", Explicit: true}, channel.OrganicSearch},
	{"3 yahoo's keyword is p",
		Input{PageLocation: page, Referrer: "https://uk.search.yahoo.com/search?p=crm"},
		Traffic{Source: "yahoo", Medium: "organic", Term: "crm", LandingPath: "/p", ReferrerHost: "uk.search.yahoo.com", Explicit: true}, channel.OrganicSearch},
	{"3 yandex's keyword is text",
		Input{PageLocation: page, Referrer: "https://yandex.ru/search/?text=crm"},
		Traffic{Source: "yandex", Medium: "organic", Term: "crm", LandingPath: "/p", ReferrerHost: "yandex.ru", Explicit: true}, channel.OrganicSearch},
	{"3 baidu's keyword is wd",
		Input{PageLocation: page, Referrer: "https://www.baidu.com/s?wd=%E5%AE%A2%E6%88%B7"},
		Traffic{Source: "baidu", Medium: "organic", Term: "客户", LandingPath: "/p", ReferrerHost: "www.baidu.com", Explicit: true}, channel.OrganicSearch},
	{"3 duckduckgo",
		Input{PageLocation: page, Referrer: "https://duckduckgo.com/"},
		Traffic{Source: "duckduckgo", Medium: "organic", Term: NotProvided, LandingPath: "/p", ReferrerHost: "duckduckgo.com", Explicit: true}, channel.OrganicSearch},
	{"3 ecosia is named ecosia.org as in Google's list",
		Input{PageLocation: page, Referrer: "https://www.ecosia.org/search?q=crm"},
		Traffic{Source: "ecosia.org", Medium: "organic", Term: "crm", LandingPath: "/p", ReferrerHost: "www.ecosia.org", Explicit: true}, channel.OrganicSearch},
	{"3 brave search",
		Input{PageLocation: page, Referrer: "https://search.brave.com/search?q=crm"},
		Traffic{Source: "brave", Medium: "organic", Term: "crm", LandingPath: "/p", ReferrerHost: "search.brave.com", Explicit: true}, channel.OrganicSearch},
	{"3 naver's keyword is query",
		Input{PageLocation: page, Referrer: "https://m.search.naver.com/search.naver?query=crm"},
		Traffic{Source: "naver", Medium: "organic", Term: "crm", LandingPath: "/p", ReferrerHost: "m.search.naver.com", Explicit: true}, channel.OrganicSearch},
	{"3 seznam",
		Input{PageLocation: page, Referrer: "https://search.seznam.cz/?q=crm"},
		Traffic{Source: "seznam", Medium: "organic", Term: "crm", LandingPath: "/p", ReferrerHost: "search.seznam.cz", Explicit: true}, channel.OrganicSearch},
	{"3 another google host is a plain referral",
		Input{PageLocation: page, Referrer: "https://docs.google.com/document/d/1"},
		Traffic{Source: "docs.google.com", Medium: "referral", LandingPath: "/p", ReferrerHost: "docs.google.com", Explicit: true}, channel.Referral},
	{"3 news.google.com is a referral that Google's list puts in SEARCH",
		Input{PageLocation: page, Referrer: "https://news.google.com/articles/x"},
		Traffic{Source: "news.google.com", Medium: "referral", LandingPath: "/p", ReferrerHost: "news.google.com", Explicit: true}, channel.OrganicSearch},
	{"3 webmail (Gmail) is email",
		Input{PageLocation: page, Referrer: "https://mail.google.com/"},
		Traffic{Source: "mail.google.com", Medium: "email", LandingPath: "/p", ReferrerHost: "mail.google.com", Explicit: true}, channel.Email},
	{"3 webmail (Outlook) is email",
		Input{PageLocation: page, Referrer: "https://outlook.live.com/"},
		Traffic{Source: "outlook.live.com", Medium: "email", LandingPath: "/p", ReferrerHost: "outlook.live.com", Explicit: true}, channel.Email},
	{"3 webmail (Yahoo, country host) is email",
		Input{PageLocation: page, Referrer: "https://de.mail.yahoo.com/d/folders/1"},
		Traffic{Source: "de.mail.yahoo.com", Medium: "email", LandingPath: "/p", ReferrerHost: "de.mail.yahoo.com", Explicit: true}, channel.Email},
	{"3 webmail in Google's SEARCH list keeps Google's channel",
		Input{PageLocation: page, Referrer: "https://mail.yandex.ru/"},
		Traffic{Source: "mail.yandex.ru", Medium: "email", LandingPath: "/p", ReferrerHost: "mail.yandex.ru", Explicit: true}, channel.OrganicSearch},
	{"3 the Gmail app is email",
		Input{PageLocation: page, Referrer: "android-app://com.google.android.gm/"},
		Traffic{Source: "com.google.android.gm", Medium: "email", LandingPath: "/p", ReferrerHost: "com.google.android.gm", Explicit: true}, channel.Email},
	{"3 the Google app is google / organic",
		Input{PageLocation: page, Referrer: "android-app://com.google.android.googlequicksearchbox/"},
		Traffic{Source: "google", Medium: "organic", Term: NotProvided, LandingPath: "/p", ReferrerHost: "com.google.android.googlequicksearchbox", Explicit: true}, channel.OrganicSearch},
	{"3 the LinkedIn app keeps its package as source",
		Input{PageLocation: page, Referrer: "android-app://com.linkedin.android/"},
		Traffic{Source: "com.linkedin.android", Medium: "referral", LandingPath: "/p", ReferrerHost: "com.linkedin.android", Explicit: true}, channel.OrganicSocial},
	{"3 l.facebook.com keeps its host as source",
		Input{PageLocation: page, Referrer: "https://l.facebook.com/"},
		Traffic{Source: "l.facebook.com", Medium: "referral", LandingPath: "/p", ReferrerHost: "l.facebook.com", Explicit: true}, channel.OrganicSocial},
	{"3 fbclid is not paid: the referrer decides, the click id is recorded",
		Input{PageLocation: page + "?fbclid=IwAR", Referrer: "https://m.facebook.com/"},
		Traffic{Source: "m.facebook.com", Medium: "referral", ClickID: "fbclid", ClickIDValue: "IwAR", LandingPath: "/p", ReferrerHost: "m.facebook.com", Explicit: true}, channel.OrganicSocial},
	{"3 t.co",
		Input{PageLocation: page, Referrer: "https://t.co/abc"},
		Traffic{Source: "t.co", Medium: "referral", LandingPath: "/p", ReferrerHost: "t.co", Explicit: true}, channel.OrganicSocial},
	{"3 lnkd.in",
		Input{PageLocation: page, Referrer: "https://lnkd.in/xyz"},
		Traffic{Source: "lnkd.in", Medium: "referral", LandingPath: "/p", ReferrerHost: "lnkd.in", Explicit: true}, channel.OrganicSocial},
	{"3 youtube is video",
		Input{PageLocation: page, Referrer: "https://www.youtube.com/"},
		Traffic{Source: "youtube.com", Medium: "referral", LandingPath: "/p", ReferrerHost: "www.youtube.com", Explicit: true}, channel.OrganicVideo},
	{"3 a shopping site",
		Input{PageLocation: page, Referrer: "https://www.amazon.com/dp/1"},
		Traffic{Source: "amazon.com", Medium: "referral", LandingPath: "/p", ReferrerHost: "www.amazon.com", Explicit: true}, channel.OrganicShopping},
	{"3 any other site: host without www. / referral",
		Input{PageLocation: page, Referrer: "https://www.capterra.com/p/1/"},
		Traffic{Source: "capterra.com", Medium: "referral", LandingPath: "/p", ReferrerHost: "www.capterra.com", Explicit: true}, channel.Referral},
	{"3 a referrer without a page location is external",
		Input{Referrer: "https://x.io/"},
		Traffic{Source: "x.io", Medium: "referral", ReferrerHost: "x.io", Explicit: true}, channel.Referral},
	{"3 sites under a private public suffix are different sites",
		Input{PageLocation: "https://a.github.io/", Referrer: "https://b.github.io/"},
		Traffic{Source: "b.github.io", Medium: "referral", LandingPath: "/", ReferrerHost: "b.github.io", Explicit: true}, channel.Referral},

	// Internal referrers
	{"internal: the bare domain of a www. page",
		Input{PageLocation: "https://www.x.io/pricing", Referrer: "https://x.io/"},
		Traffic{Source: "(direct)", Medium: "(none)", LandingPath: "/pricing"}, channel.Direct},
	{"internal: another subdomain of the site",
		Input{PageLocation: "https://x.io/", Referrer: "https://blog.x.io/post"},
		Traffic{Source: "(direct)", Medium: "(none)", LandingPath: "/"}, channel.Direct},
	{"internal: registrable domain under a two-label suffix",
		Input{PageLocation: "https://x.co.uk/a", Referrer: "https://shop.x.co.uk/"},
		Traffic{Source: "(direct)", Medium: "(none)", LandingPath: "/a"}, channel.Direct},
	{"internal: localhost with a port",
		Input{PageLocation: "http://localhost:3000/a", Referrer: "http://localhost:3000/"},
		Traffic{Source: "(direct)", Medium: "(none)", LandingPath: "/a"}, channel.Direct},
	{"internal: a gclid still decides",
		Input{PageLocation: "https://x.io/a?gclid=g", Referrer: "https://x.io/"},
		Traffic{Source: "google", Medium: "cpc", Term: NotProvided, ClickID: "gclid", ClickIDValue: "g", LandingPath: "/a", Explicit: true}, channel.PaidSearch},

	// 4. Click ids that do not prove a paid click, without a referrer
	{"4 fbclid without a referrer is facebook / referral",
		Input{PageLocation: page + "?fbclid=IwAR"},
		Traffic{Source: "facebook", Medium: "referral", ClickID: "fbclid", ClickIDValue: "IwAR", LandingPath: "/p", Explicit: true}, channel.OrganicSocial},
	{"4 fbclid with an internal referrer is facebook / referral",
		Input{PageLocation: page + "?fbclid=IwAR", Referrer: "https://x.io/"},
		Traffic{Source: "facebook", Medium: "referral", ClickID: "fbclid", ClickIDValue: "IwAR", LandingPath: "/p", Explicit: true}, channel.OrganicSocial},
	{"4 igshid is instagram / referral",
		Input{PageLocation: page + "?igshid=MzRl"},
		Traffic{Source: "instagram", Medium: "referral", ClickID: "igshid", ClickIDValue: "MzRl", LandingPath: "/p", Explicit: true}, channel.OrganicSocial},
	{"4 srsltid (Merchant Center free listing) is google / organic",
		Input{PageLocation: page, SRSLTID: "AfmB"},
		Traffic{Source: "google", Medium: "organic", Term: NotProvided, ClickID: "srsltid", ClickIDValue: "AfmB", LandingPath: "/p", Explicit: true}, channel.OrganicSearch},

	// 5. Direct
	{"5 nothing at all is direct",
		Input{PageLocation: "https://x.io"},
		Traffic{Source: "(direct)", Medium: "(none)", LandingPath: "/"}, channel.Direct},
	{"5 a referrer that is not a URL is no referrer",
		Input{PageLocation: page, Referrer: "(direct)"},
		Traffic{Source: "(direct)", Medium: "(none)", LandingPath: "/p"}, channel.Direct},
	{"5 an unparsable URL",
		Input{PageLocation: "http://[::1"},
		Traffic{Source: "(direct)", Medium: "(none)"}, channel.Direct},
}

func TestClassify(t *testing.T) {
	for _, c := range classifyCases {
		t.Run(c.rule, func(t *testing.T) {
			got := Classify(c.in)
			require.Equal(t, c.want, got)
			require.Equal(t, c.ch, channel.Default(got.Touch()))
		})
	}
}

func TestTouch(t *testing.T) {
	tr := Classify(Input{PageLocation: page + "?utm_source=google&utm_medium=cpc&utm_campaign=c&utm_term=k&utm_content=a&utm_source_platform=p&gclid=g"})
	require.Equal(t, channel.Touch{Source: "google", Medium: "cpc", Campaign: "c", Term: "k", Content: "a", ClickID: "gclid", SourcePlatform: "p"}, tr.Touch())
}

func TestPathHost(t *testing.T) {
	require.Equal(t, "/pricing", Path("https://x.io/pricing?a=1#b"))
	require.Equal(t, "/", Path("https://x.io"))
	require.Equal(t, "/a b", Path("https://x.io/a%20b"))
	require.Equal(t, "/rel", Path("/rel?utm_source=x"))
	require.Equal(t, "", Path("http://[::1"))
	require.Equal(t, "", Path(""))
	require.Equal(t, "www.x.io", Host("https://WWW.X.io:443/a"))
	require.Equal(t, "", Host("not a url"))
}

func TestClickIDsUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range ClickIDs {
		require.False(t, seen[c.Param], c.Param)
		seen[c.Param] = true
		require.NotEmpty(t, c.Source)
		require.NotEmpty(t, c.Medium)
	}
}

func BenchmarkClassifyGroup(b *testing.B) {
	inputs := make([]Input, 0, len(classifyCases))
	for _, c := range classifyCases {
		inputs = append(inputs, c.in)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		t := Classify(inputs[i%len(inputs)])
		channel.Group(t.Source, t.Medium, t.Campaign)
	}
}
