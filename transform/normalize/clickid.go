package normalize

import "strings"

// ClickID is an auto-tagging parameter an ad network adds to the landing URL.
type ClickID struct {
	Param          string // the URL parameter, as the network spells it
	Source, Medium string // the traffic it implies when no UTM says otherwise
	// Paid is true when the network adds the parameter to paid clicks only: the click id
	// then decides over the referrer. An unpaid one (fbclid) only names the network
	// when there is no referrer.
	Paid bool
}

// ClickIDs lists the click ids Classify reads, in the order it looks for them. Where
// several are present the first names Traffic.ClickID.
var ClickIDs = []ClickID{
	// Google Ads auto-tagging (support.google.com/analytics/answer/2938246); GA4 reports
	// google / cpc, Paid Search unless a linked account says otherwise.
	{"gclid", "google", "cpc", true},
	// Google Ads on iOS since App Tracking Transparency: app-to-web and web-to-app clicks.
	{"gbraid", "google", "cpc", true},
	{"wbraid", "google", "cpc", true},
	// Campaign Manager 360 / Display & Video 360 clicks with enhanced attribution.
	// Google Analytics reports an untagged dclid click as dfa / cpm (DoubleClick for
	// Advertisers): Display.
	{"dclid", "dfa", "cpm", true},
	// Microsoft Advertising auto-tagging. GA4 does not read it (it reads the UTMs
	// Microsoft can add); bing / cpc is what those UTMs say: Paid Search.
	{"msclkid", "bing", "cpc", true},
	// Paid-social and other networks' ad click ids; GA4 reads none of them.
	{"ttclid", "tiktok", "cpc", true},          // TikTok Ads
	{"li_fat_id", "linkedin", "cpc", true},     // LinkedIn Ads (Insight Tag first-party click id)
	{"twclid", "twitter", "cpc", true},         // X (Twitter) Ads
	{"ScCid", "snapchat", "cpc", true},         // Snap Ads
	{"epik", "pinterest", "cpc", true},         // Pinterest Ads
	{"rdt_cid", "reddit", "cpc", true},         // Reddit Ads
	{"yclid", "yandex", "cpc", true},           // Yandex Direct
	{"irclickid", "impact", "affiliate", true}, // impact.com affiliate links: Affiliates
	// Meta adds fbclid to organic and paid clicks alike (SOURCES.md §3), so GA4 does
	// not treat it as paid: the referrer decides (m.facebook.com / referral, Organic
	// Social); without a referrer it still says the click came from Facebook.
	{"fbclid", "facebook", "referral", false},
	{"igshid", "instagram", "referral", false}, // Instagram share links
	// Google Merchant Center auto-tagging of free (organic) product listings.
	{"srsltid", "google", "organic", false},
}

// findClickID returns the first click id present, from the explicit fields or the
// page's query, and its value.
func findClickID(in Input, q query) (*ClickID, string) {
	for i := range ClickIDs {
		c := &ClickIDs[i]
		var v string
		switch c.Param {
		case "gclid":
			v = in.GCLID
		case "dclid":
			v = in.DCLID
		case "srsltid":
			v = in.SRSLTID
		}
		if v = strings.TrimSpace(v); v == "" {
			v = strings.TrimSpace(q.get(c.Param))
		}
		if v == "" && c.Param == "ScCid" {
			v = strings.TrimSpace(q.get("sccid"))
		}
		if v != "" {
			return c, v
		}
	}
	return nil, ""
}
