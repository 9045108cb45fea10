package channel

import "testing"

func TestGroup(t *testing.T) {
	for _, c := range []struct{ source, medium, campaign, want string }{
		{"(direct)", "(none)", "", Direct},
		{"", "", "", Direct},
		{"google", "cpc", "performance max cross-network", CrossNetwork},
		{"google", "cpc", "shopping_q1", PaidShopping},
		{"google", "cpc", "brand_search", PaidSearch},
		{"bing", "ppc", "", PaidSearch},
		{"Google", "CPC", "", PaidSearch}, // case does not matter
		{"facebook", "paid_social", "fb_retargeting", PaidSocial},
		{"linkedin", "cpc", "li_abm_q1", PaidSocial},
		{"youtube", "cpv", "", PaidVideo},
		{"criteo", "display", "", Display},
		{"newsletter", "cpm", "", Display},
		{"someplatform", "paid", "", PaidOther},
		{"amazon", "referral", "", OrganicShopping},
		{"t.co", "referral", "", OrganicSocial},
		{"l.facebook.com", "referral", "", OrganicSocial},
		{"mastodon.social", "social", "", OrganicSocial},
		{"youtube.com", "referral", "", OrganicVideo},
		{"google", "organic", "", OrganicSearch},
		{"www.google.com", "referral", "", OrganicSearch},
		{"capterra.com", "referral", "", Referral},
		{"newsletter", "email", "jan_newsletter", Email},
		{"e-mail", "blast", "", Email},
		{"partner", "affiliate", "", Affiliates},
		{"spotify", "audio", "", Audio},
		{"sms", "text", "", SMS},
		{"firebase", "x", "", MobilePushNotifications},
		{"app", "push", "", MobilePushNotifications},
		{"somewhere", "weird", "", Unassigned},
	} {
		if got := Group(c.source, c.medium, c.campaign); got != c.want {
			t.Errorf("Group(%q, %q, %q) = %q, want %q", c.source, c.medium, c.campaign, got, c.want)
		}
	}
}

func TestCategory(t *testing.T) {
	for source, want := range map[string]string{
		"google":         CategorySearch,
		"www.google.com": CategorySearch,
		"m.facebook.com": CategorySocial,
		"linkedin.com":   CategorySocial,
		"youtube.com":    CategoryVideo,
		"amazon.com":     CategoryShopping,
		"capterra.com":   "",
		"":               "",
	} {
		if got := Category(source); got != want {
			t.Errorf("Category(%q) = %q, want %q", source, got, want)
		}
	}
}

func TestCategoryBrandHosts(t *testing.T) {
	for host, want := range map[string]string{
		"google.co.uk":         CategorySearch,
		"www.google.de":        CategorySearch,
		"www.bing.com":         CategorySearch,
		"mail.google.com":      "", // the brand is the first label only
		"t.co":                 CategorySocial,
		"linkedin.example.org": "", // only search brands are looked up this way
	} {
		if got := Category(host); got != want {
			t.Errorf("Category(%q) = %q, want %q", host, got, want)
		}
	}
}
