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

// badSize counts a contact whose numemployees could not be read, and logs the first
// few with where they are and the value.
func (e *Extractor) badSize(location, value string) {
	e.badSizes.Add(e.cfg.Log, "hubspot: numemployees is neither a number nor a range such as 25-50 or 1000+: the contact is kept with a null company_size; fix the value in HubSpot",
		"source", e.cfg.Spec, "location", location, "value", extract.ShortValue(value))
}
