// Package channel assigns a session or touch to a channel: GA4's default channel group,
// every rule as Google documents it (support.google.com/analytics/answer/9756891), with
// Google's source-category list, or a user's rules file tried before Google's rules or
// instead of them (see Grouper).
//
// Google's rules, first match wins, case-insensitive. PAID means the medium matches
// ^(.*cp.*|ppc|retargeting|paid.*)$; SEARCH, SOCIAL, SHOPPING and VIDEO mean the source
// is in that category of Google's list (Category).
//
// Platform traffic (Touch.SourcePlatform set by an ad-platform integration) is tried
// first:
//
//	Google Ads  ad network type  Google Search, Search partners -> Paid Search;
//	                             YouTube Search, YouTube Videos -> Paid Video;
//	                             Google Display Network -> Display;
//	                             Cross-network -> Cross-network; Social -> Paid Social
//	DV360       creative format  Standard, Expandable, Native site square, Backdrop,
//	                             Templated app install interstitial, Deprecated, Native
//	                             app install, Native app install square, Native site,
//	                             Templated app install, Lightbox -> Display;
//	                             Native video, Video, Templated app install video,
//	                             Flipbook -> Paid Video; Audio -> Audio;
//	                             Publisher hosted, Tracking, Unknown -> Paid Other
//	SA360       engine account   bing, yahoo gemini, yahoo.jp, baidu, admarketplace,
//	            type             naver, 360.cn, yandex -> Paid Search;
//	                             facebook, twitter -> Paid Social;
//	                             a Google Ads engine uses the Google Ads rules
//
// then, and for all other traffic, the rules for manual traffic:
//
//	 1 Direct                     source "(direct)" and medium "(not set)" or "(none)"
//	 2 Cross-network              campaign contains "cross-network"
//	 3 Paid Shopping              (SHOPPING or campaign ~ ^(.*(([^a-df-z]|^)shop|shopping).*)$) and PAID
//	 4 Paid Search                SEARCH and PAID
//	 5 Paid Social                SOCIAL and PAID
//	 6 Paid Video                 VIDEO and PAID
//	 7 Display                    medium display, banner, expandable, interstitial or cpm
//	 8 Paid Other                 PAID
//	 9 Organic Shopping           SHOPPING or campaign ~ the shop pattern of rule 3
//	10 Organic Social             SOCIAL or medium social, social-network, social-media, sm,
//	                              "social network" or "social media"
//	11 Organic Video              VIDEO or medium ~ ^(.*video.*)$
//	12 Organic Search             SEARCH or medium "organic"
//	13 Referral                   medium referral, app or link
//	14 Email                      source or medium email, e-mail, e_mail or "e mail"
//	15 Affiliates                 medium affiliate
//	16 Audio                      medium audio
//	17 SMS                        source or medium sms
//	18 Mobile Push Notifications  medium ends with "push" or contains "mobile" or
//	                              "notification", or source "firebase"
//	   Unassigned                 nothing matched
//
// Choices where Google's text leaves room: an empty source with an empty medium is
// Direct (GA4's export writes NULL for direct, as dbt-ga4 reads it); the order is the
// one of Google's table and of Velir/dbt-ga4 (Referral before Email); Email needs an
// exact value, as Google writes "=" (dbt-ga4 matches substrings); Affiliates is
// "affiliate" only, as the current page says (older pages: "affiliate|affiliates").
package channel

import "strings"

// Channel names exactly as Google spells them, in the order of Google's rules.
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

// Channels lists GA4's default channels in the order of Google's rules.
var Channels = []string{
	Direct, CrossNetwork, PaidShopping, PaidSearch, PaidSocial, PaidVideo, Display,
	PaidOther, OrganicShopping, OrganicSocial, OrganicVideo, OrganicSearch, Referral,
	Email, Affiliates, Audio, SMS, MobilePushNotifications, Unassigned,
}

// Source platforms whose integrations GA4 groups by their own rules (Touch.SourcePlatform).
const (
	PlatformGoogleAds = "Google Ads"
	PlatformDV360     = "Display & Video 360"
	PlatformSA360     = "Search Ads 360"
)

// Touch is what the channel rules read of one session or touch. Google's rules for
// manual traffic read Source, Medium and Campaign; Term, Content and ClickID are there
// for user rules; the platform fields carry what an ad-platform integration reports
// (GA4 export session_traffic_source_last_click) and are usually empty.
type Touch struct {
	Source, Medium, Campaign string
	Term, Content            string
	ClickID                  string // name of the click id on the landing URL: "gclid", "fbclid", ...
	// SourcePlatform is GA4's source platform: PlatformGoogleAds, PlatformDV360 or
	// PlatformSA360 select Google's platform rules ("dv360" and "sa360" are accepted);
	// other values (a manual utm_source_platform) leave the manual rules to decide.
	SourcePlatform string
	// AdNetworkType is Google Ads' ad network type: "Google Search", "Search partners",
	// "YouTube Search", "YouTube Videos", "Google Display Network", "Cross-network", "Social".
	AdNetworkType string
	// CreativeFormat is DV360's creative format: "Standard", "Video", "Audio", ...
	CreativeFormat string
	// EngineAccountType is SA360's engine account type: "bing", "facebook", "google ads", ...
	EngineAccountType string
}

// Group returns GA4's default channel group of a source / medium / campaign.
func Group(source, medium, campaign string) string {
	return Default(Touch{Source: source, Medium: medium, Campaign: campaign})
}

// Default returns GA4's default channel group of t.
func Default(t Touch) string {
	return defaultGroup(lowerTouch(t))
}

// lowerTouch trims and lower-cases every field: Google's rules are case-insensitive.
func lowerTouch(t Touch) Touch {
	return Touch{
		Source: lower(t.Source), Medium: lower(t.Medium), Campaign: lower(t.Campaign),
		Term: lower(t.Term), Content: lower(t.Content), ClickID: lower(t.ClickID),
		SourcePlatform: lower(t.SourcePlatform), AdNetworkType: lower(t.AdNetworkType),
		CreativeFormat: lower(t.CreativeFormat), EngineAccountType: lower(t.EngineAccountType),
	}
}

// lower does not allocate for values already in lower case.
func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// defaultGroup applies Google's rules to a lower-cased touch.
func defaultGroup(t Touch) string {
	if ch := platformGroup(t); ch != "" {
		return ch
	}
	src, med, camp := t.Source, t.Medium, t.Campaign
	cat := Category(src)
	paid := IsPaidMedium(med)
	shop := isShopCampaign(camp)

	switch {
	// Direct: source exactly matches "(direct)" AND medium is one of ("(not set)", "(none)").
	case (src == "(direct)" || src == "") && (med == "(not set)" || med == "(none)" || med == ""):
		return Direct
	// Cross-network: campaign name contains "cross-network".
	case strings.Contains(camp, "cross-network"):
		return CrossNetwork
	// Paid Shopping: (source in the shopping list OR campaign name ~ shop pattern) AND PAID.
	case (cat == CategoryShopping || shop) && paid:
		return PaidShopping
	// Paid Search: source in the search list AND PAID.
	case cat == CategorySearch && paid:
		return PaidSearch
	// Paid Social: source in the social list AND PAID.
	case cat == CategorySocial && paid:
		return PaidSocial
	// Paid Video: source in the video list AND PAID.
	case cat == CategoryVideo && paid:
		return PaidVideo
	// Display: medium is one of ("display", "banner", "expandable", "interstitial", "cpm").
	case in(med, "display", "banner", "expandable", "interstitial", "cpm"):
		return Display
	// Paid Other: PAID.
	case paid:
		return PaidOther
	// Organic Shopping: source in the shopping list OR campaign name ~ shop pattern.
	case cat == CategoryShopping || shop:
		return OrganicShopping
	// Organic Social: source in the social list OR medium is one of ("social",
	// "social-network", "social-media", "sm", "social network", "social media").
	case cat == CategorySocial || in(med, "social", "social-network", "social-media", "sm", "social network", "social media"):
		return OrganicSocial
	// Organic Video: source in the video list OR medium ~ ^(.*video.*)$.
	case cat == CategoryVideo || strings.Contains(med, "video"):
		return OrganicVideo
	// Organic Search: source in the search list OR medium exactly matches "organic".
	case cat == CategorySearch || med == "organic":
		return OrganicSearch
	// Referral: medium is one of ("referral", "app", "link").
	case in(med, "referral", "app", "link"):
		return Referral
	// Email: source = email|e-mail|e_mail|e mail OR medium = email|e-mail|e_mail|e mail.
	case isEmail(src) || isEmail(med):
		return Email
	// Affiliates: medium = affiliate.
	case med == "affiliate":
		return Affiliates
	// Audio: medium exactly matches "audio".
	case med == "audio":
		return Audio
	// SMS: source exactly matches "sms" OR medium exactly matches "sms".
	case src == "sms" || med == "sms":
		return SMS
	// Mobile Push Notifications: medium ends with "push" OR medium contains "mobile" or
	// "notification" OR source exactly matches "firebase".
	case strings.HasSuffix(med, "push") || strings.Contains(med, "mobile") ||
		strings.Contains(med, "notification") || src == "firebase":
		return MobilePushNotifications
	}
	return Unassigned
}

// platformGroup applies Google's rules for Google Ads, DV360 and SA360 traffic; ""
// when t is not such traffic or no platform rule matches.
func platformGroup(t Touch) string {
	switch t.SourcePlatform {
	case "":
		return ""
	case "google ads":
		return googleAdsGroup(t.AdNetworkType)
	case "display & video 360", "display and video 360", "dv360":
		switch t.CreativeFormat {
		case "standard", "expandable", "native site square", "backdrop",
			"templated app install interstitial", "deprecated", "native app install",
			"native app install square", "native site", "templated app install", "lightbox":
			return Display
		case "native video", "video", "templated app install video", "flipbook":
			return PaidVideo
		case "audio":
			return Audio
		case "publisher hosted", "tracking", "unknown":
			return PaidOther
		}
	case "search ads 360", "sa360":
		switch t.EngineAccountType {
		case "bing", "yahoo gemini", "yahoo.jp", "baidu", "admarketplace", "naver", "360.cn", "yandex":
			return PaidSearch
		case "facebook", "twitter":
			return PaidSocial
		}
		// "The channels for Google Ads traffic are the same as those for Google Ads."
		return googleAdsGroup(t.AdNetworkType)
	}
	return ""
}

func googleAdsGroup(network string) string {
	switch network {
	case "google search", "search partners", "google partners": // "Google Partners" in older pages
		return PaidSearch
	case "youtube search", "youtube videos":
		return PaidVideo
	case "google display network":
		return Display
	case "cross-network": // Performance Max, Smart Shopping (Google's note)
		return CrossNetwork
	case "social":
		return PaidSocial
	}
	return ""
}

// IsPaidMedium reports whether a lower-case medium matches Google's paid pattern
// ^(.*cp.*|ppc|retargeting|paid.*)$.
func IsPaidMedium(medium string) bool {
	return strings.Contains(medium, "cp") || medium == "ppc" || medium == "retargeting" ||
		strings.HasPrefix(medium, "paid")
}

// isShopCampaign reports whether a lower-case campaign matches Google's shopping pattern
// ^(.*(([^a-df-z]|^)shop|shopping).*)$: "shopping" anywhere, or "shop" at the start or
// after a character other than a-d and f-z ("eshop" and "q1_shop" match, "workshop" not).
func isShopCampaign(campaign string) bool {
	if strings.Contains(campaign, "shopping") {
		return true
	}
	for i := 0; ; {
		j := strings.Index(campaign[i:], "shop")
		if j < 0 {
			return false
		}
		at := i + j
		if at == 0 {
			return true
		}
		if c := campaign[at-1]; !(c >= 'a' && c <= 'd' || c >= 'f' && c <= 'z') {
			return true
		}
		i = at + 1
	}
}

func in(s string, set ...string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

func isEmail(s string) bool { return in(s, "email", "e-mail", "e_mail", "e mail") }
