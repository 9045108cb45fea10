package synth

import "math/rand/v2"

// The simulated company: a B2B SaaS vendor whose site is tracked by GA4, whose forms
// feed HubSpot, and who buys Google, Meta (Facebook, Instagram) and LinkedIn ads.
const (
	host     = "https://www.closedloop.io"
	streamID = "4173926581" // the GA4 web data stream
)

// page is one page of the site.
type page struct {
	path, title string
	browse      float64 // weight as a page visited while browsing (0: never, but where a persona says otherwise)
}

// Page indexes with a role in journeys.
const (
	pHome = iota
	pFeatures
	pPricing
	pCustomers
	pDemo
	pSignup
	pThanks
	pLogin
	pSecurity
	pCareers
	pDocs             // first docs page; the others follow
	pBlog = pDocs + 3 // first blog post; the others follow
)

var pages = []page{
	pHome:      {"/", "ClosedLoop | Marketing attribution that closes the loop", 1},
	pFeatures:  {"/features", "Features | ClosedLoop", 3},
	pPricing:   {"/pricing", "Pricing | ClosedLoop", 3},
	pCustomers: {"/customers", "Customer stories | ClosedLoop", 2},
	pDemo:      {"/demo", "Book a demo | ClosedLoop", 0},
	pSignup:    {"/signup", "Start your free trial | ClosedLoop", 0},
	pThanks:    {"/thank-you", "Thank you | ClosedLoop", 0},
	pLogin:     {"/login", "Log in | ClosedLoop", 0},
	pSecurity:  {"/security", "Security and compliance | ClosedLoop", 0.5},
	pCareers:   {"/careers", "Careers at ClosedLoop | We're hiring", 0.15},
	pDocs + 0:  {"/docs/getting-started", "Getting started | ClosedLoop Docs", 0},
	pDocs + 1:  {"/docs/api", "REST API reference | ClosedLoop Docs", 0},
	pDocs + 2:  {"/docs/integrations/hubspot", "HubSpot integration | ClosedLoop Docs", 0},
	pBlog + 0:  {"/blog/multi-touch-attribution-guide", "A practical guide to multi-touch attribution | ClosedLoop blog", 1},
	pBlog + 1:  {"/blog/first-touch-vs-last-touch", "First touch vs last touch: which one lies less? | ClosedLoop blog", 1},
	pBlog + 2:  {"/blog/utm-naming-conventions", "UTM naming conventions that survive a CRM | ClosedLoop blog", 0.7},
	pBlog + 3:  {"/blog/b2b-funnel-benchmarks", "B2B funnel benchmarks for 2026 | ClosedLoop blog", 0.7},
	pBlog + 4:  {"/blog/marketing-roi-formula", "The marketing ROI formula, done right | ClosedLoop blog", 0.5},
	pBlog + 5:  {"/blog/crm-hygiene-checklist", "A CRM hygiene checklist for marketing ops | ClosedLoop blog", 0.5},
}

// channel is the GA4 default channel group a session's traffic falls in.
type channel uint8

const (
	chOrganicSearch channel = iota
	chPaidSearch
	chPaidSocial
	chOrganicSocial
	chEmail
	chReferral
	chDirect
	nChannels
)

// role is the place of a session in a journey: the traffic mix differs by role, so
// that first-touch and last-touch attribution credit different channels.
type role uint8

const (
	roleOpener role = iota // a journey's first visit: organic and social discovery
	roleMiddle             // research visits between discovery and the form
	roleCloser             // the visit with the form submit: brand search, e-mail, direct
	rolePost               // after the submit: nurture e-mails, retargeting
	nRoles
)

// channelWeight is the channel mix per role.
var channelWeight = [nRoles][nChannels]float64{
	//            OrgSearch PaidSearch PaidSocial OrgSocial Email Referral Direct
	roleOpener: {30, 10, 14, 20, 6, 12, 8},
	roleMiddle: {20, 10, 12, 10, 15, 8, 25},
	roleCloser: {8, 40, 7, 2, 25, 3, 20},
	rolePost:   {3, 10, 25, 2, 45, 0, 20},
}

// Spend campaigns: the paid campaigns of the spend CSV, in row order.
const (
	spBrand = iota
	spGeneric
	spFacebook
	spLinkedIn
	spMeta
	nSpend
)

// spendCampaign describes a paid campaign's economics.
type spendCampaign struct {
	source, medium, campaign string
	perClick                 bool       // billed per click (search) rather than per 1,000 impressions
	price                    [2]float64 // CPC or CPM range, USD
	ctr                      [2]float64 // click-through rate range
	baseImpr                 [2]float64 // impressions per day with no click, per 300 people
}

var spendCampaigns = [nSpend]spendCampaign{
	spBrand:    {"google", "cpc", "brand_search", true, [2]float64{1.8, 3.6}, [2]float64{0.12, 0.22}, [2]float64{15, 45}},
	spGeneric:  {"google", "cpc", "crm_software_generic", true, [2]float64{7.5, 14}, [2]float64{0.025, 0.05}, [2]float64{120, 320}},
	spFacebook: {"facebook", "paid_social", "fb_retargeting", false, [2]float64{9, 15}, [2]float64{0.006, 0.012}, [2]float64{700, 1600}},
	spLinkedIn: {"linkedin", "paid_social", "li_abm_q1", false, [2]float64{32, 48}, [2]float64{0.004, 0.008}, [2]float64{350, 900}},
	spMeta:     {"facebook", "paid_social", "meta_smb_prospecting", false, [2]float64{6, 11}, [2]float64{0.008, 0.016}, [2]float64{900, 2000}},
}

// traffic is one way a session arrives: the landing URL's campaign parameters and
// click ids, the referrer, and what GA4's traffic_source and HubSpot's original
// source make of it.
type traffic struct {
	ch                             channel
	source, medium, campaign, term string // utm_* values; campaign "" for e-mail means the month's newsletter
	content                        string
	utm                            bool // the landing URL carries utm_* parameters
	gclid, fbclid                  bool // the landing URL carries a click id
	referrer                       string
	landing                        []uint8         // landing pages, picked uniformly
	spend                          int             // spend campaign, -1 for none
	tsName, tsMedium, tsSource     string          // GA4 traffic_source when not from utm
	hsSource, hsData1, hsData2     string          // HubSpot hs_analytics_source*; "" data means derived
	w                              [nRoles]float64 // weight within its channel, per role
	only                           uint8           // personas it reaches (1<<persona); 0 for all
}

// Persona masks for traffic.only.
const (
	toEnterprise = 1 << psEnterprise
	toDeveloper  = 1 << psDeveloper
	toSmall      = 1 << psSmallBusiness
	toStudent    = 1 << psStudent
	toOther      = 1 << psOther
	toAll        = 1<<nPersonas - 1
)

// newsletter marks the e-mail campaign named after the month of the send.
const newsletter = ""

// all weighs a variant the same in every role.
var all = [nRoles]float64{1, 1, 1, 1}

var (
	landSearch   = []uint8{pHome, pFeatures, pBlog, pBlog + 1, pBlog + 2, pBlog + 3}
	landBrand    = []uint8{pHome, pHome, pPricing}
	landGeneric  = []uint8{pFeatures, pPricing}
	landRetarget = []uint8{pPricing, pCustomers, pDemo}
	landABM      = []uint8{pBlog, pCustomers}
	landSocial   = []uint8{pBlog, pBlog + 1, pBlog + 2, pBlog + 3, pBlog + 4, pBlog + 5}
	landEmail    = []uint8{pBlog + 3, pBlog + 4, pBlog + 5, pFeatures, pPricing}
	landReferral = []uint8{pHome, pPricing, pCustomers}
	landDirect   = []uint8{pHome, pHome, pPricing}
	landDocs     = []uint8{pDocs, pDocs + 1, pDocs + 2}
	landYouth    = []uint8{pHome, pCareers, pBlog, pBlog + 1}
	landMeta     = []uint8{pHome, pPricing, pSignup}
)

var traffics = []traffic{
	// Organic Search: referrer only; the keyword is not provided.
	{ch: chOrganicSearch, referrer: "https://www.google.com/", landing: landSearch, spend: -1,
		tsName: "(organic)", tsMedium: "organic", tsSource: "google",
		hsSource: "ORGANIC_SEARCH", hsData1: "unknown keywords (SSL)", hsData2: "google", w: [nRoles]float64{85, 85, 85, 85}},
	{ch: chOrganicSearch, referrer: "https://www.bing.com/", landing: landSearch, spend: -1,
		tsName: "(organic)", tsMedium: "organic", tsSource: "bing",
		hsSource: "ORGANIC_SEARCH", hsData1: "unknown keywords (SSL)", hsData2: "bing", w: [nRoles]float64{15, 15, 15, 15}},

	// Paid Search: auto-tagged gclid plus utm, or gclid alone.
	{ch: chPaidSearch, source: "google", medium: "cpc", campaign: "brand_search", term: "closedloop", utm: true, gclid: true,
		referrer: "https://www.google.com/", landing: landBrand, spend: spBrand, hsSource: "PAID_SEARCH", w: [nRoles]float64{0.5, 1, 3, 3}},
	{ch: chPaidSearch, source: "google", medium: "cpc", campaign: "brand_search", term: "closedloop pricing", utm: true, gclid: true,
		referrer: "https://www.google.com/", landing: []uint8{pPricing}, spend: spBrand, hsSource: "PAID_SEARCH", w: [nRoles]float64{0.2, 0.5, 1.5, 1}},
	{ch: chPaidSearch, source: "google", medium: "cpc", campaign: "crm_software_generic", term: "crm attribution software", utm: true, gclid: true,
		referrer: "https://www.google.com/", landing: landGeneric, spend: spGeneric, hsSource: "PAID_SEARCH", w: [nRoles]float64{1, 0.6, 0.3, 0.1}, only: toAll &^ toEnterprise},
	{ch: chPaidSearch, source: "google", medium: "cpc", campaign: "crm_software_generic", term: "marketing roi tool", utm: true, gclid: true,
		referrer: "https://www.google.com/", landing: landGeneric, spend: spGeneric, hsSource: "PAID_SEARCH", w: [nRoles]float64{1, 0.6, 0.3, 0.1}, only: toAll &^ toEnterprise},
	{ch: chPaidSearch, source: "google", medium: "cpc", campaign: "crm_software_generic", term: "multi touch attribution", utm: true, gclid: true,
		referrer: "https://www.google.com/", landing: []uint8{pFeatures, pBlog}, spend: spGeneric, hsSource: "PAID_SEARCH", w: [nRoles]float64{1, 0.6, 0.3, 0.1}, only: toAll &^ toEnterprise},
	{ch: chPaidSearch, source: "google", medium: "cpc", campaign: "crm_software_generic", term: "b2b revenue attribution", utm: true, gclid: true,
		referrer: "https://www.google.com/", landing: landGeneric, spend: spGeneric, hsSource: "PAID_SEARCH", w: [nRoles]float64{0.6, 0.4, 0.2, 0.1}, only: toAll &^ toEnterprise},
	{ch: chPaidSearch, campaign: "brand_search", gclid: true, // gclid only: GA4 fills source/medium from Google Ads
		referrer: "https://www.google.com/", landing: landBrand, spend: spBrand,
		tsMedium: "cpc", tsSource: "google", hsSource: "PAID_SEARCH", w: [nRoles]float64{0.1, 0.2, 0.5, 0.4}},
	{ch: chPaidSearch, campaign: "crm_software_generic", gclid: true,
		referrer: "https://www.google.com/", landing: landGeneric, spend: spGeneric,
		tsMedium: "cpc", tsSource: "google", hsSource: "PAID_SEARCH", w: [nRoles]float64{0.3, 0.2, 0.1, 0}, only: toAll &^ toEnterprise},

	// Paid Social: Facebook retargeting (needs an earlier visit), LinkedIn ABM (opens
	// journeys, aimed at large companies), Meta prospecting for small businesses on
	// Facebook and Instagram (reaches students too).
	{ch: chPaidSocial, source: "facebook", medium: "paid_social", campaign: "fb_retargeting", content: "carousel_a", utm: true, fbclid: true,
		referrer: "https://l.facebook.com/", landing: landRetarget, spend: spFacebook,
		hsSource: "PAID_SOCIAL", hsData1: "Facebook", w: [nRoles]float64{0.1, 1, 1, 1.5}, only: toAll &^ toEnterprise},
	{ch: chPaidSocial, source: "facebook", medium: "paid_social", campaign: "fb_retargeting", content: "video_b", utm: true, fbclid: true,
		referrer: "https://m.facebook.com/", landing: landRetarget, spend: spFacebook,
		hsSource: "PAID_SOCIAL", hsData1: "Facebook", w: [nRoles]float64{0.1, 0.8, 0.6, 1}, only: toAll &^ toEnterprise},
	{ch: chPaidSocial, source: "linkedin", medium: "paid_social", campaign: "li_abm_q1", content: "single_image_cmo", utm: true,
		referrer: "https://www.linkedin.com/", landing: landABM, spend: spLinkedIn,
		hsSource: "PAID_SOCIAL", hsData1: "LinkedIn", w: [nRoles]float64{2, 1, 0.6, 0.4}, only: toEnterprise},
	{ch: chPaidSocial, source: "linkedin", medium: "cpc", campaign: "li_abm_q1", content: "text_ad", utm: true,
		referrer: "https://www.linkedin.com/", landing: landABM, spend: spLinkedIn,
		hsSource: "PAID_SOCIAL", hsData1: "LinkedIn", w: [nRoles]float64{0.5, 0.2, 0.1, 0.05}, only: toEnterprise},
	{ch: chPaidSocial, source: "facebook", medium: "paid_social", campaign: "meta_smb_prospecting", content: "founder_story_video", utm: true, fbclid: true,
		referrer: "https://m.facebook.com/", landing: landMeta, spend: spMeta,
		hsSource: "PAID_SOCIAL", hsData1: "Facebook", w: [nRoles]float64{2.5, 1, 0.8, 0.3}, only: toSmall | toStudent | toOther},
	{ch: chPaidSocial, source: "instagram", medium: "paid_social", campaign: "meta_smb_prospecting", content: "reel_15s", utm: true, fbclid: true,
		referrer: "https://l.instagram.com/", landing: landMeta, spend: spMeta,
		hsSource: "PAID_SOCIAL", hsData1: "Instagram", w: [nRoles]float64{2, 0.8, 0.6, 0.3}, only: toSmall | toStudent | toOther},

	// Organic Social: referrer only.
	{ch: chOrganicSocial, referrer: "https://t.co/", landing: landSocial, spend: -1,
		tsName: "(referral)", tsMedium: "referral", tsSource: "t.co", hsSource: "SOCIAL_MEDIA", hsData1: "Twitter", w: all},
	{ch: chOrganicSocial, referrer: "https://www.linkedin.com/", landing: landSocial, spend: -1,
		tsName: "(referral)", tsMedium: "referral", tsSource: "linkedin.com", hsSource: "SOCIAL_MEDIA", hsData1: "LinkedIn", w: [nRoles]float64{2, 2, 2, 2},
		only: toEnterprise | toSmall | toOther},
	{ch: chOrganicSocial, referrer: "https://l.facebook.com/", landing: landSocial, spend: -1,
		tsName: "(referral)", tsMedium: "referral", tsSource: "l.facebook.com", hsSource: "SOCIAL_MEDIA", hsData1: "Facebook", w: [nRoles]float64{0.5, 0.5, 0.5, 0.5},
		only: toAll &^ toEnterprise},
	{ch: chOrganicSocial, referrer: "https://www.tiktok.com/", landing: landYouth, spend: -1,
		tsName: "(referral)", tsMedium: "referral", tsSource: "tiktok.com", hsSource: "SOCIAL_MEDIA", hsData1: "TikTok", w: [nRoles]float64{3, 2, 2, 1},
		only: toStudent},
	{ch: chOrganicSocial, referrer: "https://l.instagram.com/", landing: landYouth, spend: -1,
		tsName: "(referral)", tsMedium: "referral", tsSource: "l.instagram.com", hsSource: "SOCIAL_MEDIA", hsData1: "Instagram", w: [nRoles]float64{2, 2, 2, 1},
		only: toStudent | toSmall},
	{ch: chOrganicSocial, referrer: "https://www.reddit.com/", landing: landSocial, spend: -1,
		tsName: "(referral)", tsMedium: "referral", tsSource: "reddit.com", hsSource: "SOCIAL_MEDIA", hsData1: "Reddit", w: [nRoles]float64{2, 1.5, 1.5, 1},
		only: toStudent | toDeveloper},
	// GA4 counts YouTube as a video source (Organic Video); it stays with social here,
	// where students find the site.
	{ch: chOrganicSocial, referrer: "https://www.youtube.com/", landing: landYouth, spend: -1,
		tsName: "(referral)", tsMedium: "referral", tsSource: "youtube.com", hsSource: "SOCIAL_MEDIA", hsData1: "YouTube", w: [nRoles]float64{2, 1.5, 1.5, 1},
		only: toStudent},
	// Stack Overflow is a social source in GA4's list (Organic Social), a referral to HubSpot.
	{ch: chOrganicSocial, referrer: "https://stackoverflow.com/", landing: landDocs, spend: -1,
		tsName: "(referral)", tsMedium: "referral", tsSource: "stackoverflow.com", hsSource: "REFERRALS", hsData1: "stackoverflow.com", w: [nRoles]float64{4, 3, 2, 2},
		only: toDeveloper},

	// Email: the monthly newsletter, no referrer (mail clients send none).
	{ch: chEmail, source: "newsletter", medium: "email", campaign: newsletter, content: "hero_cta", utm: true,
		landing: landEmail, spend: -1, hsSource: "EMAIL_MARKETING", w: [nRoles]float64{1, 1, 1.5, 1.5}},
	{ch: chEmail, source: "newsletter", medium: "email", campaign: newsletter, content: "read_more", utm: true,
		landing: landEmail, spend: -1, hsSource: "EMAIL_MARKETING", w: all},

	// Referral: review sites and a partner's listicle.
	{ch: chReferral, referrer: "https://www.g2.com/products/closedloop/reviews", landing: landReferral, spend: -1,
		tsName: "(referral)", tsMedium: "referral", tsSource: "g2.com", hsSource: "REFERRALS", hsData1: "www.g2.com", w: [nRoles]float64{3, 3, 3, 3},
		only: toAll &^ toStudent},
	{ch: chReferral, referrer: "https://www.capterra.com/p/231562/ClosedLoop/", landing: landReferral, spend: -1,
		tsName: "(referral)", tsMedium: "referral", tsSource: "capterra.com", hsSource: "REFERRALS", hsData1: "www.capterra.com", w: [nRoles]float64{2, 2, 2, 2},
		only: toAll &^ toStudent},
	{ch: chReferral, referrer: "https://www.martechstack.io/best-attribution-tools-2026", landing: []uint8{pHome, pBlog}, spend: -1,
		tsName: "(referral)", tsMedium: "referral", tsSource: "martechstack.io", hsSource: "REFERRALS", hsData1: "www.martechstack.io", w: all,
		only: toEnterprise | toSmall | toOther},
	{ch: chReferral, referrer: "https://github.com/", landing: landDocs, spend: -1,
		tsName: "(referral)", tsMedium: "referral", tsSource: "github.com", hsSource: "REFERRALS", hsData1: "github.com", w: [nRoles]float64{5, 4, 3, 3},
		only: toDeveloper},

	// Direct: no referrer, no parameters.
	{ch: chDirect, landing: landDirect, spend: -1,
		tsName: "(direct)", tsMedium: "(none)", tsSource: "(direct)", hsSource: "DIRECT_TRAFFIC", w: all},
}

// directTraffic is the traffic of a typed-in visit (used for the login visit).
var directTraffic = func() uint8 {
	for i, t := range traffics {
		if t.ch == chDirect {
			return uint8(i)
		}
	}
	panic("synth: no direct traffic")
}()

// reaches reports whether the traffic reaches people of persona ps.
func (t *traffic) reaches(ps persona) bool { return t.only == 0 || t.only&(1<<ps) != 0 }

// trafficCum[persona][role] is the cumulative weight of traffics for the persona and
// role: the channel's weight, times the persona's liking of the channel, spread over
// the channel's variants that reach the persona by their own weights.
var trafficCum = func() (cum [nPersonas][nRoles][]float64) {
	for ps := range nPersonas {
		for r := range nRoles {
			var within [nChannels]float64
			for _, t := range traffics {
				if t.reaches(ps) {
					within[t.ch] += t.w[r]
				}
			}
			w := make([]float64, len(traffics))
			for i, t := range traffics {
				if t.reaches(ps) && within[t.ch] > 0 {
					w[i] = channelWeight[r][t.ch] * profiles[ps].channel[t.ch] * t.w[r] / within[t.ch]
				}
			}
			cum[ps][r] = cumulative(w)
		}
	}
	return cum
}()

// deviceProfile is a device as GA4 reports it.
type deviceProfile struct {
	category, os, browser string
	mobile                bool
}

var devices = []deviceProfile{
	{"desktop", "Windows", "Chrome", false},
	{"desktop", "Macintosh", "Chrome", false},
	{"desktop", "Macintosh", "Safari", false},
	{"desktop", "Windows", "Edge", false},
	{"mobile", "iOS", "Safari", true},
	{"mobile", "Android", "Chrome", true},
	{"tablet", "iOS", "Safari", true},
}

var (
	desktopCum = cumulative([]float64{30, 18, 8, 6, 0, 0, 0})
	mobileCum  = cumulative([]float64{0, 0, 0, 0, 18, 13, 3})
	anyCum     = cumulative([]float64{30, 18, 8, 6, 18, 13, 3})
)

var countries = []string{"United States", "United Kingdom", "Germany", "Canada", "France", "Netherlands", "Australia", "India"}

var countryCum = cumulative([]float64{50, 12, 10, 8, 6, 5, 5, 4})

// hourCum weights the hour of day (UTC) of a visit: office hours on both sides of
// the Atlantic.
var hourCum = cumulative([]float64{1, 1, 1, 1, 1, 1, 2, 2, 6, 6, 6, 6, 5, 5, 6, 6, 6, 6, 4, 4, 4, 2, 2, 2})

var firstNames = []string{
	"Ann", "Bob", "Carla", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
	"Kate", "Liam", "Maya", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sam", "Tara",
	"Umar", "Vera", "Will", "Xena", "Yusuf", "Zoe", "Aiden", "Bianca", "Chen", "Dana",
	"Emil", "Fatima", "Gus", "Hanna", "Ivan", "Julia", "Kofi", "Lena", "Marco", "Nina",
}

var lastNames = []string{
	"Smith", "Jones", "Garcia", "Muller", "Rossi", "Dubois", "Kowalski", "Tanaka", "Silva", "Nguyen",
	"Brown", "Wilson", "Taylor", "Schmidt", "Lopez", "Martin", "Novak", "Sato", "Costa", "Khan",
	"Clark", "Lewis", "Walker", "Fischer", "Moreau", "Ricci", "Larsen", "Ito", "Santos", "Patel",
	"Young", "King", "Wright", "Weber", "Bernard", "Greco", "Berg", "Kim", "Pereira", "Shah",
}

var companyWords = [2][]string{
	{"North", "Blue", "Bright", "Silver", "Rapid", "Clear", "Iron", "Summit", "Green", "Red",
		"Golden", "Quiet", "Bold", "True", "Swift", "Prime", "Deep", "Open", "Urban", "Solid",
		"Lunar", "Polar", "Vivid", "Noble", "Crisp", "Peak", "Royal", "Stark", "Wild", "Zen", "Astro", "Echo"},
	{"wind", "stack", "loop", "forge", "metrics", "labs", "works", "base", "cloud", "ly",
		"grid", "scale", "flow", "path", "point", "sight", "wave", "bridge", "craft", "logic",
		"hub", "nest", "spark", "line", "field", "core", "dock", "mint", "leaf", "gate", "yard", "ops"},
}

var tlds = []string{".com", ".io", ".co"}

// cumulative returns the running sums of w.
func cumulative(w []float64) []float64 {
	c := make([]float64, len(w))
	s := 0.0
	for i, x := range w {
		s += x
		c[i] = s
	}
	return c
}

// pick draws an index with the weights whose running sums are cum.
func pick(r *rand.Rand, cum []float64) int {
	x := r.Float64() * cum[len(cum)-1]
	lo, hi := 0, len(cum)-1
	for lo < hi {
		m := (lo + hi) / 2
		if x < cum[m] {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}
