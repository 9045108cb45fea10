package synth

import "strings"

// Personas. Every simulated person has one, drawn first and never written as such: it
// decides their firmographics (the HubSpot contact properties jobtitle, company,
// industry, numemployees, country), how they find the site, what they read and
// download, whether they submit a form and how far they get in the funnel. The
// sample tells the lead-quality story with it: developers and students bring the most
// leads and almost no revenue, a few enterprise IT buyers bring most of it.
type persona uint8

const (
	psEnterprise    persona = iota // Enterprise IT buyers
	psDeveloper                    // Developers
	psSmallBusiness                // Small business owners
	psStudent                      // Students and job seekers
	psOther                        // everyone else: marketers, consultants, analysts
	nPersonas
)

// Company sizes: HubSpot's numemployees enumeration, in order.
const (
	size1to5 = iota
	size5to25
	size25to50
	size50to100
	size100to500
	size500to1000
	size1000plus
	nSizes
)

var employeeRanges = [nSizes]string{"1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+"}

// Industries, as a contact's free-text industry property holds them.
var industries = []string{
	"Financial Services", "Healthcare", "Manufacturing", "Retail", // 0-3
	"Computer Software", "Information Technology and Services", "Internet", // 4-6
	"Marketing and Advertising", "Professional Services", "Hospitality", "Construction", "Education", // 7-11
}

// Files offered for download: the GA4 file_download events' link_url is host + path.
const (
	dlWhitepaper = iota
	dlPricingGuide
	nDownloads
)

// download is a file linked from some pages of the site.
type download struct {
	path, text string
	pages      []uint8 // pages that link to it
}

var downloads = [nDownloads]download{
	dlWhitepaper:   {"/assets/security-whitepaper.pdf", "Download the security whitepaper", []uint8{pSecurity, pSecurity, pFeatures, pCustomers}},
	dlPricingGuide: {"/assets/pricing-guide.pdf", "Get the pricing guide (PDF)", []uint8{pPricing}},
}

// freeMail are the personal e-mail providers of people who sign up without a work
// address.
var (
	freeMail    = []string{"gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com"}
	freeMailCum = cumulative([]float64{60, 10, 12, 8, 10})
)

// messyTitle writes a job title as people type it into a form: acronyms lower-cased
// ("vp of IT"), all lower or upper case, blanks around.
func messyTitle(t string, k int) string {
	if before, after, ok := strings.Cut(t, "VP "); ok {
		return before + "vp " + after
	}
	switch k % 3 {
	case 0:
		return strings.ToLower(t)
	case 1:
		return strings.ToUpper(t)
	}
	return " " + t + "  "
}

// weighted is a value with its weight.
type weighted struct {
	v string
	w float64
}

// profile is what a persona does. Rates are per person (convert, download) or per
// contact (signup, funnel).
type profile struct {
	name    string
	share   float64 // weight among people
	convert float64 // plans to submit a form (some run out of period)
	signup  float64 // forms that are a trial sign-up; the rest book a demo
	// funnel: lead -> MQL, MQL -> SQL, SQL -> opportunity, opportunity -> won.
	funnel [4]float64
	amount [2]float64 // deal amount range, USD (log-uniform)
	// channel multiplies each channel's weight in every role: OrgSearch, PaidSearch,
	// PaidSocial, OrgSocial, Email, Referral, Direct.
	channel   [nChannels]float64
	titles    []weighted      // jobtitle; "" for none
	sizes     [nSizes]float64 // numemployees weights; all zero: no company
	industry  []float64       // weights over industries
	personal  float64         // share with a personal (gmail-like) e-mail address
	noCountry float64         // share of contacts without a country
	download  [nDownloads]float64
	// pages overrides browse weights; landing, with probability land, replaces the
	// landing page of an unpaid, non-e-mail visit.
	pages   []pageWeight
	landing []uint8
	land    float64
}

type pageWeight struct {
	page uint8
	w    float64
}

// The rates are chosen so that the sample keeps its scale (about 500 contacts and 40
// customers from 800 people) while the personas differ by an order of magnitude in
// lead-to-customer rate and deal size.
var profiles = [nPersonas]profile{
	psEnterprise: {
		name: "Enterprise IT buyer", share: 8, convert: 0.60, signup: 0.10,
		funnel: [4]float64{0.90, 0.85, 0.88, 0.68}, amount: [2]float64{20000, 90000},
		channel:   [nChannels]float64{1.0, 1.6, 2.5, 1.2, 0.5, 1.6, 0.8},
		titles:    []weighted{{"CIO", 15}, {"CTO", 20}, {"VP of IT", 25}, {"IT Director", 25}, {"Head of Infrastructure", 15}},
		sizes:     [nSizes]float64{size500to1000: 45, size1000plus: 55},
		industry:  []float64{30, 25, 25, 20},
		noCountry: 0.08,
		download:  [nDownloads]float64{dlWhitepaper: 0.88, dlPricingGuide: 0.20},
		pages:     []pageWeight{{pPricing, 7}, {pSecurity, 3}, {pCustomers, 4}, {pCareers, 0.03}},
		landing:   []uint8{pSecurity, pCustomers}, land: 0.15,
	},
	psDeveloper: {
		name: "Developer", share: 30, convert: 0.66, signup: 0.85,
		funnel: [4]float64{0.55, 0.45, 0.60, 0.30}, amount: [2]float64{1500, 8000},
		channel:   [nChannels]float64{1.8, 0.4, 0.15, 1.2, 0.3, 1.6, 1.2},
		titles:    []weighted{{"Software Engineer", 35}, {"Senior Developer", 25}, {"DevOps Engineer", 20}, {"Engineering Manager", 20}},
		sizes:     [nSizes]float64{6, 14, 16, 16, 20, 12, 16},
		industry:  []float64{10, 0, 0, 5, 40, 25, 20},
		noCountry: 0.10,
		download:  [nDownloads]float64{dlWhitepaper: 0.03, dlPricingGuide: 0.03},
		pages:     []pageWeight{{pDocs, 4}, {pDocs + 1, 3}, {pDocs + 2, 2}, {pPricing, 1.5}, {pCustomers, 0.5}},
		landing:   []uint8{pDocs, pDocs, pDocs + 1, pDocs + 2}, land: 0.5,
	},
	psSmallBusiness: {
		name: "Small business owner", share: 20, convert: 0.62, signup: 0.50,
		funnel: [4]float64{0.66, 0.55, 0.65, 0.38}, amount: [2]float64{2000, 12000},
		channel:  [nChannels]float64{0.6, 0.6, 2.6, 0.5, 2.2, 0.4, 0.8},
		titles:   []weighted{{"Founder", 35}, {"CEO", 25}, {"Owner", 25}, {"Managing Director", 15}},
		sizes:    [nSizes]float64{size1to5: 35, size5to25: 45, size25to50: 20},
		industry: []float64{0, 0, 0, 25, 0, 0, 0, 15, 25, 20, 15},
		personal: 0.15, noCountry: 0.10,
		download: [nDownloads]float64{dlWhitepaper: 0.03, dlPricingGuide: 0.40},
		pages:    []pageWeight{{pPricing, 5}, {pCustomers, 3}},
		landing:  []uint8{pPricing}, land: 0.2,
	},
	psStudent: {
		name: "Student or job seeker", share: 17, convert: 0.55, signup: 0.90,
		funnel:   [4]float64{0.05, 0.15, 0, 0},
		channel:  [nChannels]float64{0.5, 0.15, 2.0, 4.0, 0.2, 0.15, 0.5},
		titles:   []weighted{{"Student", 35}, {"Intern", 20}, {"Job Seeker", 15}, {"", 30}},
		personal: 1, noCountry: 0.25,
		download: [nDownloads]float64{dlWhitepaper: 0.02},
		pages:    []pageWeight{{pCareers, 6}, {pPricing, 0.5}, {pSecurity, 0.05}},
		landing:  []uint8{pCareers}, land: 0.35,
	},
	psOther: {
		name: "Other", share: 25, convert: 0.64, signup: 0.40,
		funnel: [4]float64{0.72, 0.66, 0.74, 0.52}, amount: [2]float64{4000, 45000},
		channel: [nChannels]float64{1, 1, 1, 1, 1, 1, 1},
		titles: []weighted{{"Marketing Manager", 25}, {"Marketing Operations Manager", 15}, {"Head of Growth", 10},
			{"Demand Generation Manager", 10}, {"Consultant", 15}, {"Sales Director", 10}, {"Business Analyst", 10}, {"Product Manager", 5}},
		sizes:     [nSizes]float64{3, 12, 18, 20, 25, 12, 10},
		industry:  []float64{10, 10, 10, 0, 25, 0, 0, 20, 15, 0, 0, 10},
		noCountry: 0.10,
		download:  [nDownloads]float64{dlWhitepaper: 0.06, dlPricingGuide: 0.12},
	},
}

// personaCum weighs the personas among people.
var personaCum = func() []float64 {
	w := make([]float64, nPersonas)
	for i, p := range profiles {
		w[i] = p.share
	}
	return cumulative(w)
}()

// Per-persona cumulative weights, built once from the profiles.
var (
	titleCum    [nPersonas][]float64
	sizeCum     [nPersonas][]float64 // nil: no company
	industryCum [nPersonas][]float64
	browseCum   [nPersonas][]float64 // next page while browsing
)

func init() {
	for ps := range nPersonas {
		pr := &profiles[ps]
		w := make([]float64, len(pr.titles))
		for i, t := range pr.titles {
			w[i] = t.w
		}
		titleCum[ps] = cumulative(w)
		for _, x := range pr.sizes {
			if x > 0 {
				sizeCum[ps] = cumulative(pr.sizes[:])
				break
			}
		}
		if pr.industry != nil {
			industryCum[ps] = cumulative(pr.industry)
		}
		bw := make([]float64, len(pages))
		for i, p := range pages {
			bw[i] = p.browse
		}
		for _, o := range pr.pages {
			bw[o.page] = o.w
		}
		browseCum[ps] = cumulative(bw)
	}
}
