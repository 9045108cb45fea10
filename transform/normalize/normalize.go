// Package normalize turns what an analytics event carries (its page URL, referrer,
// campaign fields and click ids) into the traffic source of the visit: source, medium,
// campaign, keyword and the rest, named as GA4 reports them so that channel.Group can
// group them.
//
// Precedence, first that applies:
//
//  1. Manual tagging: utm_source or utm_medium, from the event's explicit campaign
//     fields or else from the page URL's query; a missing one is "(not set)". A
//     utm_campaign alone does not decide the source (it is kept as the campaign), nor
//     does an explicit (direct) / (none).
//  2. A paid click id (gclid, gbraid, wbraid, dclid, msclkid, ...; see ClickIDs): the
//     network's source / medium, e.g. a gclid is google / cpc, never direct.
//  3. An external referrer: a search engine is ENGINE / organic with the keyword the
//     referrer carries; a webmail is HOST / email; any other host is HOST / referral
//     (GA4 keeps the host, minus "www.", as the source: "m.facebook.com", "t.co").
//  4. A click id that does not prove a paid click (fbclid, igshid, srsltid): the
//     network as a referral (facebook / referral) when no referrer says more.
//  5. Direct: (direct) / (none).
//
// Where GA4 differs, on purpose:
//   - GA4 lets a linked Google Ads account's auto-tagging override UTMs. closedloop has
//     no such link, so UTMs win (as GA4 does when the gclid cannot be resolved,
//     support.google.com/analytics/answer/15593651); ClickID still says a gclid was there.
//   - GA4 ignores msclkid and the other networks' click ids; closedloop reads them as
//     their network's paid click, which GA4 would otherwise call referral or direct.
//   - GA4 reports webmail referrers (mail.google.com) as referral; closedloop gives them
//     medium "email", so they group as Email, unless Google's source list puts the host
//     in a category first (mail.yandex.ru and email.seznam.cz are SEARCH there).
//   - GA4 reports the Google app (android-app://com.google.android.googlequicksearchbox)
//     as a referral; closedloop reads it as google / organic.
//   - Source and medium are lower-cased (GA4 keeps case but groups case-insensitively),
//     so "Facebook" and "facebook" are one source.
//
// Keywords: utm_term when tagged; else the search terms a search-engine referrer
// carries (rare today; Bing, Yahoo, Yandex, Ecosia, DuckDuckGo and others may send
// them), also for paid clicks; else "(not provided)" for search traffic (medium organic,
// or a paid medium from a SEARCH source). Never invented.
//
// A referrer on the page's own registrable domain (www. and other subdomains included)
// is internal navigation, not a referrer. Campaign parameters are read from the query
// before any "#fragment", as GA4 reads them.
package normalize

import (
	"strings"

	"closedloop/transform/channel"
)

// Input is what one event says about its traffic. The UTM and click-id fields come
// from the source's own campaign columns (GA4 collected_traffic_source, Segment
// context.campaign) and win, field by field, over the page URL's parameters.
type Input struct {
	PageLocation, Referrer                                   string
	UTMSource, UTMMedium, UTMCampaign, UTMTerm, UTMContent   string
	UTMID                                                    string // campaign id
	UTMSourcePlatform, UTMCreativeFormat, UTMMarketingTactic string
	GCLID, DCLID, SRSLTID                                    string // click ids reported outside the URL
}

// Traffic is the classified traffic source of an event.
type Traffic struct {
	Source, Medium, Campaign, Term, Content string
	CampaignID                              string // utm_id
	SourcePlatform                          string // utm_source_platform
	CreativeFormat, MarketingTactic         string // utm_creative_format, utm_marketing_tactic (GA4 collects, does not report)
	// ClickID names the first click id present ("gclid", "fbclid"), in ClickIDs order,
	// also when UTMs or the referrer decided the source; ClickIDValue is its value as
	// given (fbclid is case-sensitive).
	ClickID, ClickIDValue string
	LandingPath           string // path of PageLocation
	ReferrerHost          string // host of Referrer, "" for internal or no referrer
	// Explicit is true when the event carries campaign information (UTM, click id or an
	// external referrer): a session takes its source from its first such event.
	Explicit bool
}

// NotProvided is the keyword of search traffic whose term is unknown.
const NotProvided = "(not provided)"

// Touch returns what the channel rules read of t.
func (t Traffic) Touch() channel.Touch {
	return channel.Touch{Source: t.Source, Medium: t.Medium, Campaign: t.Campaign,
		Term: t.Term, Content: t.Content, ClickID: t.ClickID, SourcePlatform: t.SourcePlatform}
}

// Classify returns the traffic of one event.
func Classify(in Input) Traffic {
	var t Traffic
	page := parseURL(in.PageLocation)
	t.LandingPath = page.path
	pick := func(explicit, param string) string {
		if s := strings.TrimSpace(explicit); s != "" {
			return s
		}
		return strings.TrimSpace(page.query.get(param))
	}
	src, med := pick(in.UTMSource, "utm_source"), pick(in.UTMMedium, "utm_medium")
	t.Campaign = pick(in.UTMCampaign, "utm_campaign")
	t.Term = pick(in.UTMTerm, "utm_term")
	t.Content = pick(in.UTMContent, "utm_content")
	t.CampaignID = pick(in.UTMID, "utm_id")
	t.SourcePlatform = pick(in.UTMSourcePlatform, "utm_source_platform")
	t.CreativeFormat = pick(in.UTMCreativeFormat, "utm_creative_format")
	t.MarketingTactic = pick(in.UTMMarketingTactic, "utm_marketing_tactic")
	click, clickValue := findClickID(in, page.query)
	if click != nil {
		t.ClickID, t.ClickIDValue = click.Param, clickValue
	}

	ref := referrerOf(in.Referrer, page.host)
	t.ReferrerHost = ref.host

	if strings.EqualFold(src, "(direct)") && (med == "" || strings.EqualFold(med, "(none)") || strings.EqualFold(med, "(not set)")) {
		src, med = "", "" // a source's own "direct" is no campaign: let the click id or referrer speak
	}
	switch {
	case src != "" || med != "": // 1. manual tagging
		t.Source, t.Medium = notSet(strings.ToLower(src)), notSet(strings.ToLower(med))
	case click != nil && click.Paid: // 2. paid click id
		t.Source, t.Medium = click.Source, click.Medium
		if t.Term == "" && ref.engine != "" {
			t.Term = ref.keyword // the search terms of a paid search click, when the referrer has them
		}
	case ref.host != "": // 3. external referrer
		t.Source, t.Medium = ref.source, ref.medium
		if t.Term == "" {
			t.Term = ref.keyword
		}
	case click != nil: // 4. unpaid click id without a referrer
		t.Source, t.Medium = click.Source, click.Medium
	default: // 5. direct
		t.Source, t.Medium = "(direct)", "(none)"
		return t
	}
	t.Explicit = true
	t.CompleteTerm()
	return t
}

// CompleteTerm sets an explicit search visit's missing Term to NotProvided: an organic
// visit, or a paid one from a search engine. Classify calls it; the BigQuery engine
// (package sqlengine) calls it on the distinct traffic its SQL classified.
func (t *Traffic) CompleteTerm() {
	if t.Explicit && t.Term == "" && (t.Medium == "organic" ||
		channel.IsPaidMedium(t.Medium) && channel.Category(t.Source) == channel.CategorySearch) {
		t.Term = NotProvided
	}
}

func notSet(s string) string {
	if s == "" {
		return "(not set)"
	}
	return s
}
