// Package normalize turns what an analytics event carries (its URL, referrer, explicit
// campaign fields and click ids) into the traffic source of the visit, with the
// precedence GA4 applies: explicit UTMs first, then click-id auto-tagging (a gclid is
// google / cpc, never direct), then the referrer, then direct.
package normalize

import (
	"net/url"
	"strings"

	"closedloop/transform/channel"
)

// Input is what one event says about its traffic. Explicit fields come from the
// source's own campaign columns (GA4 collected_traffic_source, Segment
// context.campaign) and win over the URL's utm_ parameters.
type Input struct {
	PageLocation, Referrer                                        string
	UTMSource, UTMMedium, UTMCampaign, UTMTerm, UTMContent, GCLID string
}

// Traffic is the classified traffic source of an event.
type Traffic struct {
	Source, Medium, Campaign, Term, Content string
	ClickID                                 string // name of the click id that decided the source ("gclid"), if any
	LandingPath                             string // path of PageLocation
	ReferrerHost                            string // host of Referrer, "" for internal or no referrer
	// Explicit is true when the event carries campaign information (UTM, click id or an
	// external referrer): a session takes its source from its first such event.
	Explicit bool
}

// NotProvided is the keyword of search traffic whose term is unknown.
const NotProvided = "(not provided)"

// clickIDs lists auto-tagging parameters with the source / medium they imply.
// fbclid is left out on purpose: Meta adds it to organic clicks too.
var clickIDs = []struct{ param, source, medium string }{
	{"gclid", "google", "cpc"},
	{"gbraid", "google", "cpc"},
	{"wbraid", "google", "cpc"},
	{"dclid", "dv360", "cpm"},
	{"msclkid", "bing", "cpc"},
	{"ttclid", "tiktok", "cpc"},
	{"li_fat_id", "linkedin", "cpc"},
	{"twclid", "twitter", "cpc"},
}

// searchHosts maps search-engine hosts to the source name GA4 reports and the query
// parameter that may carry the organic keyword.
var searchHosts = []struct{ domain, source, param string }{
	{"google.", "google", "q"},
	{"bing.com", "bing", "q"},
	{"duckduckgo.com", "duckduckgo", "q"},
	{"search.yahoo.", "yahoo", "p"},
	{"yahoo.", "yahoo", "p"},
	{"baidu.com", "baidu", "wd"},
	{"yandex.", "yandex", "text"},
	{"ecosia.org", "ecosia", "q"},
	{"search.brave.com", "brave", "q"},
}

// Classify returns the traffic of one event.
func Classify(in Input) Traffic {
	var t Traffic
	page, _ := url.Parse(strings.TrimSpace(in.PageLocation))
	var q url.Values
	if page != nil {
		q = page.Query()
		t.LandingPath = page.Path
		if t.LandingPath == "" && page.Host != "" {
			t.LandingPath = "/"
		}
	}
	pick := func(explicit, param string) string {
		if s := strings.TrimSpace(explicit); s != "" {
			return s
		}
		return strings.TrimSpace(q.Get(param))
	}
	src, med := pick(in.UTMSource, "utm_source"), pick(in.UTMMedium, "utm_medium")
	t.Campaign = pick(in.UTMCampaign, "utm_campaign")
	t.Term = pick(in.UTMTerm, "utm_term")
	t.Content = pick(in.UTMContent, "utm_content")

	ref, _ := url.Parse(strings.TrimSpace(in.Referrer))
	if ref != nil && ref.Host != "" {
		host := strings.ToLower(ref.Hostname())
		if page == nil || !sameSite(host, strings.ToLower(page.Hostname())) {
			t.ReferrerHost = host
		}
	}

	switch {
	case src != "":
		t.Source, t.Medium, t.Explicit = strings.ToLower(src), strings.ToLower(med), true
		if t.Medium == "" {
			t.Medium = "(not set)"
		}
	case clickID(in, q) != "":
		for _, c := range clickIDs {
			if c.param == clickID(in, q) {
				t.Source, t.Medium, t.ClickID, t.Explicit = c.source, c.medium, c.param, true
			}
		}
	case t.ReferrerHost != "":
		t.Explicit = true
		if s, kw, ok := search(ref); ok {
			t.Source, t.Medium = s, "organic"
			t.Term = kw
		} else {
			t.Source, t.Medium = strings.TrimPrefix(t.ReferrerHost, "www."), "referral"
		}
	default:
		t.Source, t.Medium = "(direct)", "(none)"
	}
	if t.Term == "" && (t.Medium == "organic" || t.Medium == "cpc" || t.Medium == "ppc" || t.Medium == "paid_search") &&
		channel.Category(t.Source) == channel.CategorySearch {
		t.Term = NotProvided
	}
	return t
}

func clickID(in Input, q url.Values) string {
	if strings.TrimSpace(in.GCLID) != "" {
		return "gclid"
	}
	for _, c := range clickIDs {
		if q.Get(c.param) != "" {
			return c.param
		}
	}
	return ""
}

func search(ref *url.URL) (source, keyword string, ok bool) {
	host := strings.TrimPrefix(strings.ToLower(ref.Hostname()), "www.")
	for _, s := range searchHosts {
		if strings.HasPrefix(host, s.domain) || strings.Contains(host, "."+s.domain) || host == strings.TrimSuffix(s.domain, ".") {
			return s.source, strings.TrimSpace(ref.Query().Get(s.param)), true
		}
	}
	if channel.Category(host) == channel.CategorySearch {
		return host, "", true
	}
	return "", "", false
}

// sameSite reports whether a referrer host is the site itself (internal navigation).
func sameSite(refHost, pageHost string) bool {
	if pageHost == "" {
		return false
	}
	return strings.TrimPrefix(refHost, "www.") == strings.TrimPrefix(pageHost, "www.")
}

// Path returns the path of a URL ("" when it does not parse).
func Path(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return ""
	}
	if u.Path == "" && u.Host != "" {
		return "/"
	}
	return u.Path
}

// Host returns the lower-case host of a URL ("" when it does not parse).
func Host(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}
