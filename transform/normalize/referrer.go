package normalize

import (
	"strings"

	"golang.org/x/net/publicsuffix"
)

// engine is a search engine recognised in referrers.
type engine struct {
	brand  string   // the label before the public suffix: "google" in www.google.co.uk
	subs   []string // accepted subdomains ("" = none, "*.x" = x and anything ending in .x); nil = any
	source string   // the source GA4 reports: the name in Google's source-category list
	params []string // query parameters that may carry the search terms
}

// engines: web-search hosts only; other hosts of the same brand (mail.google.com,
// news.google.com) are referrers like any other.
var engines = []engine{
	{"google", []string{"", "www", "m"}, "google", []string{"q"}},
	{"bing", []string{"", "www", "cn", "m"}, "bing", []string{"q"}},
	{"yahoo", []string{"*.search"}, "yahoo", []string{"p", "q"}}, // search.yahoo.com, uk.search.yahoo.com, search.yahoo.co.jp
	{"duckduckgo", nil, "duckduckgo", []string{"q"}},
	{"baidu", []string{"", "www", "m"}, "baidu", []string{"wd", "word"}},
	{"yandex", []string{"", "www"}, "yandex", []string{"text"}},
	{"ya", []string{"", "www"}, "yandex", []string{"text"}}, // ya.ru
	{"ecosia", []string{"", "www"}, "ecosia.org", []string{"q"}},
	{"brave", []string{"search"}, "brave", []string{"q"}},
	{"naver", []string{"*.search"}, "naver", []string{"query"}},
	{"seznam", []string{"", "www", "search"}, "seznam", []string{"q"}},
	{"qwant", []string{"", "www", "lite"}, "qwant", []string{"q"}},
	{"startpage", []string{"", "www"}, "startpage", []string{"query", "q"}},
	{"sogou", []string{"", "www", "m"}, "sogou", []string{"query"}},
	{"so", []string{"", "www", "m"}, "so.com", []string{"q"}}, // 360 Search
	{"daum", []string{"search"}, "daum", []string{"q"}},
	{"aol", []string{"search"}, "aol", []string{"q", "query"}},
	{"ask", []string{"", "www"}, "ask", []string{"q"}},
}

// webmail lists webmail hosts whose first label does not say "mail" (isWebmail).
var webmail = map[string]bool{
	"outlook.live.com": true, "outlook.office.com": true, "outlook.office365.com": true,
	"inbox.google.com": true, "app.fastmail.com": true, "e.mail.ru": true,
	"navigator.web.de": true, "navigator.gmx.net": true,
}

// isWebmail reports whether a referrer is a web mail client: a listed host, a host whose
// first label is mail, mail2, webmail, email (mail.google.com, webmail.bigpond.com) below
// a registrable domain, or a /webmail path (orange.fr/webmail).
func isWebmail(host, path string) bool {
	if webmail[host] || strings.HasPrefix(path, "/webmail") {
		return true
	}
	first, rest, ok := strings.Cut(host, ".")
	if suffix, _ := publicsuffix.PublicSuffix(rest); !ok || suffix == rest {
		return false // mail.ru is a portal, not a mailbox
	}
	first = strings.TrimRight(first, "0123456789")
	return first == "mail" || first == "webmail" || first == "email"
}

// Android apps whose in-app referrer (android-app://PACKAGE) is a mail client.
var mailApps = map[string]bool{
	"com.google.android.gm": true, "com.microsoft.office.outlook": true,
	"com.yahoo.mobile.client.android.mail": true, "ch.protonmail.android": true,
	"com.samsung.android.email.provider": true,
}

// googleApp is the Google app (Search and Discover) as an Android referrer.
const googleApp = "com.google.android.googlequicksearchbox"

// referrer is what Classify reads of a referrer.
type referrer struct {
	host           string // "" for none or internal
	source, medium string
	engine         string // source of a search engine, "" for other referrers
	keyword        string // search terms of a search engine's referrer
}

func referrerOf(raw, pageHost string) referrer {
	u := parseURL(raw)
	if u.host == "" || u.scheme != "android-app" && sameSite(u.host, pageHost) {
		return referrer{}
	}
	r := referrer{host: u.host, source: strings.TrimPrefix(u.host, "www."), medium: "referral"}
	if u.scheme == "android-app" {
		switch {
		case u.host == googleApp:
			r.source, r.medium, r.engine = "google", "organic", "google"
		case mailApps[u.host]:
			r.medium = "email"
		}
		return r
	}
	if isWebmail(u.host, u.path) || strings.HasSuffix(u.host, ".mail.yahoo.com") {
		r.medium = "email"
		return r
	}
	if e := findEngine(u.host); e != nil {
		r.source, r.medium, r.engine = e.source, "organic", e.source
		for _, p := range e.params {
			if kw := strings.TrimSpace(u.query.get(p)); kw != "" {
				r.keyword = kw
				break
			}
		}
	}
	return r
}

// findEngine returns the search engine of a referrer host, or nil.
func findEngine(host string) *engine {
	suffix, _ := publicsuffix.PublicSuffix(host)
	rest, ok := strings.CutSuffix(host, "."+suffix)
	if !ok {
		return nil
	}
	sub, brand := "", rest
	if i := strings.LastIndexByte(rest, '.'); i >= 0 {
		sub, brand = rest[:i], rest[i+1:]
	}
	for i := range engines {
		e := &engines[i]
		if e.brand == brand && subIn(sub, e.subs) {
			return e
		}
	}
	return nil
}

func subIn(sub string, subs []string) bool {
	if subs == nil {
		return true
	}
	for _, s := range subs {
		if sub == s {
			return true
		}
		if tail, ok := strings.CutPrefix(s, "*."); ok && (sub == tail || strings.HasSuffix(sub, "."+tail)) {
			return true
		}
	}
	return false
}

// sameSite reports whether a referrer host belongs to the page's site: the same
// registrable domain (eTLD+1), so www.x.io, x.io and blog.x.io are one site.
func sameSite(refHost, pageHost string) bool {
	if pageHost == "" {
		return false
	}
	if refHost == pageHost {
		return true
	}
	a, errA := publicsuffix.EffectiveTLDPlusOne(refHost)
	b, errB := publicsuffix.EffectiveTLDPlusOne(pageHost)
	if errA != nil || errB != nil { // an IP address, localhost, or a bare suffix
		return strings.TrimPrefix(refHost, "www.") == strings.TrimPrefix(pageHost, "www.")
	}
	return a == b
}

// Referrer is what a referrer URL tells of a visit whatever its query string: the
// referring host ("" for none or the site itself), the source and medium it implies,
// and for a search engine the query parameters that may carry the search terms, in
// the order Classify reads them.
type Referrer struct {
	Host, Source, Medium string
	Engine               string // the search engine's source, "" for other referrers
	KeywordParams        []string
}

// ClassifyReferrer classifies the referrer raw of a page at pageURL (only its host is
// read) as Classify does. The BigQuery engine (package sqlengine) calls it on the
// distinct referrers without their query strings and reads the search terms in SQL.
func ClassifyReferrer(raw, pageURL string) Referrer {
	r := referrerOf(raw, parseURL(pageURL).host)
	out := Referrer{Host: r.host, Source: r.source, Medium: r.medium, Engine: r.engine}
	if r.engine != "" && parseURL(raw).scheme != "android-app" {
		if e := findEngine(r.host); e != nil {
			out.KeywordParams = e.params
		}
	}
	return out
}

// KeywordParams lists every query parameter a search engine's referrer may carry its
// search terms in (Referrer.KeywordParams holds those of one engine).
func KeywordParams() []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range engines {
		for _, p := range e.params {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}
