// Package channel assigns GA4's default channel group to a source / medium / campaign,
// with the rules in Google's order (support.google.com/analytics/answer/9756891, as
// implemented in Velir/dbt-ga4 macros/default_channel_grouping.sql) and Google's
// source-category list. Matching is case-insensitive; the first rule that matches wins.
package channel

import (
	_ "embed"
	"encoding/csv"
	"regexp"
	"strings"
)

// Channel names exactly as Google spells them.
const (
	Direct                  = "Direct"
	CrossNetwork            = "Cross-network"
	PaidShopping            = "Paid Shopping"
	PaidSearch              = "Paid Search"
	PaidSocial              = "Paid Social"
	PaidVideo               = "Paid Video"
	Display                 = "Display"
	PaidOther               = "Paid Other"
	OrganicShopping         = "Organic Shopping"
	OrganicSocial           = "Organic Social"
	OrganicVideo            = "Organic Video"
	OrganicSearch           = "Organic Search"
	Referral                = "Referral"
	Email                   = "Email"
	Affiliates              = "Affiliates"
	Audio                   = "Audio"
	SMS                     = "SMS"
	MobilePushNotifications = "Mobile Push Notifications"
	Unassigned              = "Unassigned"
)

// Source categories of Google's list.
const (
	CategorySearch   = "SOURCE_CATEGORY_SEARCH"
	CategorySocial   = "SOURCE_CATEGORY_SOCIAL"
	CategoryShopping = "SOURCE_CATEGORY_SHOPPING"
	CategoryVideo    = "SOURCE_CATEGORY_VIDEO"
)

//go:embed ga4_source_categories.csv
var categoriesCSV string

var categories = func() map[string]string {
	rows, err := csv.NewReader(strings.NewReader(categoriesCSV)).ReadAll()
	if err != nil {
		panic("channel: embedded source categories: " + err.Error())
	}
	m := make(map[string]string, len(rows))
	for _, r := range rows[1:] {
		m[strings.ToLower(r[0])] = r[1]
	}
	return m
}()

// Category returns the source category of source ("" when it is not in the list).
// A host is also looked up without "www.", "m.", "l." and "lm.", as sources are often
// referrer hosts, and a search engine's host ("www.google.de") by its brand.
func Category(source string) string {
	s := strings.ToLower(strings.TrimSpace(source))
	if c, ok := categories[s]; ok {
		return c
	}
	for _, p := range []string{"www.", "m.", "l.", "lm."} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			if c, ok := categories[rest]; ok {
				return c
			}
			s = rest
			break
		}
	}
	// The list names search engines by brand ("google", "bing"); a referrer host of one
	// ("google.co.uk") is the brand followed by its domain suffix.
	if brand, _, ok := strings.Cut(s, "."); ok {
		if c := categories[brand]; c == CategorySearch {
			return c
		}
	}
	return ""
}

var (
	paidMedium   = regexp.MustCompile(`^(.*cp.*|ppc|retargeting|paid.*)$`)
	shopCampaign = regexp.MustCompile(`^(.*(([^a-df-z]|^)shop|shopping).*)$`)
	videoMedium  = regexp.MustCompile(`^(.*video.*)$`)
)

func in(s string, set ...string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

func isEmail(s string) bool { return in(s, "email", "e-mail", "e_mail", "e mail") }

// Group returns the GA4 default channel group of a session or touch.
func Group(source, medium, campaign string) string {
	source = strings.ToLower(strings.TrimSpace(source))
	medium = strings.ToLower(strings.TrimSpace(medium))
	campaign = strings.ToLower(strings.TrimSpace(campaign))
	cat := Category(source)
	paid := paidMedium.MatchString(medium)
	shopCamp := shopCampaign.MatchString(campaign)

	switch {
	case (source == "(direct)" || source == "") && (medium == "(not set)" || medium == "(none)" || medium == ""):
		return Direct
	case strings.Contains(campaign, "cross-network"):
		return CrossNetwork
	case (cat == CategoryShopping || shopCamp) && paid:
		return PaidShopping
	case cat == CategorySearch && paid:
		return PaidSearch
	case cat == CategorySocial && paid:
		return PaidSocial
	case cat == CategoryVideo && paid:
		return PaidVideo
	case in(medium, "display", "banner", "expandable", "interstitial", "cpm"):
		return Display
	case paid:
		return PaidOther
	case cat == CategoryShopping || shopCamp:
		return OrganicShopping
	case cat == CategorySocial || in(medium, "social", "social-network", "social-media", "sm", "social network", "social media"):
		return OrganicSocial
	case cat == CategoryVideo || videoMedium.MatchString(medium):
		return OrganicVideo
	case cat == CategorySearch || medium == "organic":
		return OrganicSearch
	case in(medium, "referral", "app", "link"):
		return Referral
	case isEmail(source) || isEmail(medium):
		// Google's text says "=", dbt-ga4 uses a substring match: we follow Google.
		return Email
	case medium == "affiliate":
		return Affiliates
	case medium == "audio":
		return Audio
	case source == "sms" || medium == "sms":
		return SMS
	case strings.HasSuffix(medium, "push") || strings.Contains(medium, "mobile") ||
		strings.Contains(medium, "notification") || source == "firebase":
		return MobilePushNotifications
	}
	return Unassigned
}
