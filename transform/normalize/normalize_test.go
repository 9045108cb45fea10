package normalize

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClassify(t *testing.T) {
	for name, c := range map[string]struct {
		in   Input
		want Traffic
	}{
		"utm in the URL": {
			Input{PageLocation: "https://www.closedloop.io/pricing?utm_source=Newsletter&utm_medium=Email&utm_campaign=jan&utm_content=hero", Referrer: "https://mail.google.com/"},
			Traffic{Source: "newsletter", Medium: "email", Campaign: "jan", Content: "hero", LandingPath: "/pricing", ReferrerHost: "mail.google.com", Explicit: true},
		},
		"explicit fields win over the URL": {
			Input{PageLocation: "https://x.io/?utm_source=url&utm_medium=url", UTMSource: "ga4", UTMMedium: "cpc", UTMTerm: "crm"},
			Traffic{Source: "ga4", Medium: "cpc", Term: "crm", LandingPath: "/", Explicit: true},
		},
		"source without medium": {
			Input{PageLocation: "https://x.io/a?utm_source=partner"},
			Traffic{Source: "partner", Medium: "(not set)", LandingPath: "/a", Explicit: true},
		},
		"gclid is google cpc, keyword not provided": {
			Input{PageLocation: "https://x.io/?gclid=abc", Referrer: "https://www.google.com/"},
			Traffic{Source: "google", Medium: "cpc", Term: NotProvided, ClickID: "gclid", LandingPath: "/", ReferrerHost: "www.google.com", Explicit: true},
		},
		"gclid from the explicit column": {
			Input{PageLocation: "https://x.io/demo", GCLID: "abc"},
			Traffic{Source: "google", Medium: "cpc", Term: NotProvided, ClickID: "gclid", LandingPath: "/demo", Explicit: true},
		},
		"search referrer with a keyword": {
			Input{PageLocation: "https://x.io/blog", Referrer: "https://www.bing.com/search?q=marketing+attribution"},
			Traffic{Source: "bing", Medium: "organic", Term: "marketing attribution", LandingPath: "/blog", ReferrerHost: "www.bing.com", Explicit: true},
		},
		"search referrer without a keyword": {
			Input{PageLocation: "https://x.io/", Referrer: "https://www.google.com/"},
			Traffic{Source: "google", Medium: "organic", Term: NotProvided, LandingPath: "/", ReferrerHost: "www.google.com", Explicit: true},
		},
		"referral": {
			Input{PageLocation: "https://x.io/pricing", Referrer: "https://www.capterra.com/p/1/"},
			Traffic{Source: "capterra.com", Medium: "referral", LandingPath: "/pricing", ReferrerHost: "www.capterra.com", Explicit: true},
		},
		"internal navigation is not a referral": {
			Input{PageLocation: "https://www.x.io/pricing", Referrer: "https://x.io/"},
			Traffic{Source: "(direct)", Medium: "(none)", LandingPath: "/pricing"},
		},
		"direct": {
			Input{PageLocation: "https://x.io"},
			Traffic{Source: "(direct)", Medium: "(none)", LandingPath: "/"},
		},
		"unparsable URL": {
			Input{PageLocation: "http://[::1"},
			Traffic{Source: "(direct)", Medium: "(none)"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, c.want, Classify(c.in))
		})
	}
}

func TestPathHost(t *testing.T) {
	assert.Equal(t, "/pricing", Path("https://x.io/pricing?a=1#b"))
	assert.Equal(t, "/", Path("https://x.io"))
	assert.Equal(t, "", Path("http://[::1"))
	assert.Equal(t, "www.x.io", Host("https://WWW.X.io:443/a"))
	assert.Equal(t, "", Host("not a url"))
}
