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

// badCookie counts a contact whose cookie property holds something that is not an
// analytics client id, and logs the first few with where they are and the value.
func (e *Extractor) badCookie(location, property, value string) {
	e.badCookies.Add(e.cfg.Log, "hubspot: the cookie property holds no analytics client id (an e-mail, a _ga_<container> session cookie or free text?): the contact is kept without a cookie id and joins its web history by e-mail only; fill the property from the _ga cookie (GA1.1.<client id> is read as the client id)",
		"source", e.cfg.Spec, "location", location, "property", property, "value", extract.ShortValue(value))
}

// badSize counts a contact whose numemployees could not be read, and logs the first
// few with where they are and the value.
func (e *Extractor) badSize(location, value string) {
	e.badSizes.Add(e.cfg.Log, "hubspot: numemployees is neither a number nor a range such as 25-50 or 1000+: the contact is kept with a null company_size; fix the value in HubSpot",
		"source", e.cfg.Spec, "location", location, "value", extract.ShortValue(value))
}
