package hubspot

import "closedloop/extract"

// The contact properties of the firmographic columns: HubSpot's default contact
// properties Job Title, Company Name, Industry, Number of Employees and
// Country/Region.
const (
	propJobTitle  = "jobtitle"
	propCompany   = "company"
	propIndustry  = "industry"
	propEmployees = "numemployees"
	propCountry   = "country"
)

// maxSizeWarnings bounds the unreadable numemployees values logged one by one; the
// final log line of Extract counts them all.
const maxSizeWarnings = 5

// badSize counts a contact whose numemployees could not be read, and logs the first
// few with where they are and the value.
func (e *Extractor) badSize(location, value string) {
	if e.badSizes.Add(1) <= maxSizeWarnings {
		e.cfg.Log.Warn("hubspot: numemployees is neither a number nor a range such as 25-50 or 1000+: the contact is kept with a null company_size; fix the value in HubSpot",
			"source", e.cfg.Spec, "location", location, "value", extract.ShortValue(value))
	}
}
