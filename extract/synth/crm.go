package synth

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// openStages are the open stages of the default pipeline, in order: an open deal
// sits in the one matching how far it got.
var openStages = []string{"appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent"}

// pipelinesJSON is the GET /crm/v3/pipelines/deals response: HubSpot's default sales
// pipeline (metadata values are strings, as the API returns them) and a renewals
// pipeline with numeric ids, as custom pipelines have.
const pipelinesJSON = `{
  "results": [
    {
      "id": "default",
      "label": "Sales Pipeline",
      "displayOrder": 0,
      "stages": [
        {"id": "appointmentscheduled", "label": "Appointment Scheduled", "displayOrder": 0, "metadata": {"isClosed": "false", "probability": "0.2"}, "archived": false},
        {"id": "qualifiedtobuy", "label": "Qualified To Buy", "displayOrder": 1, "metadata": {"isClosed": "false", "probability": "0.4"}, "archived": false},
        {"id": "presentationscheduled", "label": "Presentation Scheduled", "displayOrder": 2, "metadata": {"isClosed": "false", "probability": "0.6"}, "archived": false},
        {"id": "decisionmakerboughtin", "label": "Decision Maker Bought-In", "displayOrder": 3, "metadata": {"isClosed": "false", "probability": "0.8"}, "archived": false},
        {"id": "contractsent", "label": "Contract Sent", "displayOrder": 4, "metadata": {"isClosed": "false", "probability": "0.9"}, "archived": false},
        {"id": "closedwon", "label": "Closed Won", "displayOrder": 5, "metadata": {"isClosed": "true", "probability": "1.0"}, "archived": false},
        {"id": "closedlost", "label": "Closed Lost", "displayOrder": 6, "metadata": {"isClosed": "true", "probability": "0.0"}, "archived": false}
      ],
      "createdAt": "2024-03-01T09:00:00.000Z",
      "updatedAt": "2025-11-12T15:20:00.000Z",
      "archived": false
    },
    {
      "id": "75230011",
      "label": "Renewals",
      "displayOrder": 1,
      "stages": [
        {"id": "75230012", "label": "Renewal due", "displayOrder": 0, "metadata": {"isClosed": "false", "probability": "0.5"}, "archived": false},
        {"id": "75230013", "label": "Renewed", "displayOrder": 1, "metadata": {"isClosed": "true", "probability": "1.0"}, "archived": false},
        {"id": "75230014", "label": "Churned", "displayOrder": 2, "metadata": {"isClosed": "true", "probability": "0.0"}, "archived": false}
      ],
      "createdAt": "2025-01-15T09:00:00.000Z",
      "updatedAt": "2025-01-15T09:00:00.000Z",
      "archived": false
    }
  ]
}
`

// writeHubSpot writes the HubSpot export folder.
func (g *generator) writeHubSpot(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "pipelines.json"), []byte(pipelinesJSON), 0o644); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	err := writeLines(filepath.Join(dir, "contacts.ndjson"), len(g.contacts), func(b []byte, k int) []byte {
		return g.appendContact(b, &g.contacts[k])
	})
	if err != nil {
		return err
	}
	err = writeLines(filepath.Join(dir, "deals.ndjson"), len(g.deals), func(b []byte, k int) []byte {
		return g.appendDeal(b, &g.deals[k])
	})
	if err != nil {
		return err
	}
	err = writeLines(filepath.Join(dir, "deal_contacts.ndjson"), len(g.deals), func(b []byte, k int) []byte {
		return g.appendAssociation(b, &g.deals[k])
	})
	if err != nil {
		return err
	}
	cos := g.companies()
	err = writeLines(filepath.Join(dir, "companies.ndjson"), len(cos), func(b []byte, k int) []byte {
		return g.appendCompany(b, &cos[k])
	})
	if err != nil {
		return err
	}
	var deals []int
	for j := range g.deals {
		if g.contacts[g.deals[j].contact].company >= 0 {
			deals = append(deals, j)
		}
	}
	return writeLines(filepath.Join(dir, "deal_companies.ndjson"), len(deals), func(b []byte, k int) []byte {
		return g.appendDealCompany(b, &g.deals[deals[k]])
	})
}

// company is one HubSpot company: a company index some contact works at, with the
// firmographics of the first contact there.
type company struct {
	k     int32
	first *contact
}

// companies lists the companies of the contacts, by index.
func (g *generator) companies() []company {
	byIndex := make([]*contact, len(g.contacts))
	for k := range g.contacts {
		c := &g.contacts[k]
		if c.company >= 0 && byIndex[c.company] == nil {
			byIndex[c.company] = c
		}
	}
	var out []company
	for k, c := range byIndex {
		if c != nil {
			out = append(out, company{k: int32(k), first: c})
		}
	}
	return out
}

// companyID is the HubSpot id of company k.
func companyID(k int32) int64 { return 31_000_000 + int64(k)*7 }

// appendCompany appends a CRM v3 company object: name, domain, industry, the number of
// employees (the lower bound of its contacts' range: HubSpot's numberofemployees is a
// number), country.
func (g *generator) appendCompany(b []byte, co *company) []byte {
	c := co.first
	id := itoa(companyID(co.k))
	props := object{}
	props.strOrNull("country", c.countryName())
	props.str("domain", companyDomain(int(co.k)))
	props.str("hs_object_id", id)
	props.strOrNull("industry", c.industryName())
	props.str("name", companyName(int(co.k)))
	if e := c.employees(); e != "" {
		lo, _, _ := strings.Cut(strings.TrimSuffix(e, "+"), "-")
		props.str("numberofemployees", lo)
	} else {
		props.null("numberofemployees")
	}
	o := object{b: b}
	o.str("id", id)
	o.raw("properties", string(props.close()))
	o.str("createdAt", isoTime(c.stage[stLead]))
	o.str("updatedAt", isoTime(c.modified))
	o.raw("archived", "false")
	return o.close()
}

// appendDealCompany appends the v4 batch-read result of a deal's company: its
// contact's company, with HubSpot's primary (typeId 5) and unlabeled (341) types.
func (g *generator) appendDealCompany(b []byte, d *deal) []byte {
	b = append(b, `{"from":{"id":"`...)
	b = strconv.AppendInt(b, d.id, 10)
	b = append(b, `"},"to":[{"toObjectId":`...)
	b = strconv.AppendInt(b, companyID(g.contacts[d.contact].company), 10)
	return append(b, `,"associationTypes":[{"category":"HUBSPOT_DEFINED","typeId":5,"label":"Primary"},{"category":"HUBSPOT_DEFINED","typeId":341,"label":null}]}]}`...)
}

// writeLines writes n lines made by line to path.
func writeLines(path string, n int, line func(b []byte, k int) []byte) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("synth: %w", cerr)
		}
	}()
	w := bufio.NewWriterSize(f, 64<<10)
	var b []byte
	for k := range n {
		b = append(line(b[:0], k), '\n')
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("synth: %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("synth: %s: %w", path, err)
	}
	return nil
}

// appendContact appends a CRM v3 contact object. Properties come in alphabetical
// order, unset ones as null, as the API returns the properties asked for.
func (g *generator) appendContact(b []byte, c *contact) []byte {
	p := &g.people[c.person]
	id := itoa(c.id)
	ht := func(t int64) string { return hubspotTime(t, c.epoch) }
	src := &traffics[c.src]
	data1, data2 := g.sourceData(c, src)

	props := object{}
	if c.company >= 0 {
		props.str("associatedcompanyid", itoa(companyID(c.company)))
	} else {
		props.null("associatedcompanyid")
	}
	props.strOrNull("company", c.companyName())
	props.strOrNull("country", c.countryName())
	props.str("createdate", ht(c.stage[stLead]))
	props.str("email", messyEmail(c.email, c.messy))
	props.str("firstname", firstNames[c.firstName])
	props.str("ga_client_id", clientID(p, c.dev))
	props.str("hs_analytics_source", src.hsSource)
	props.strOrNull("hs_analytics_source_data_1", data1)
	props.strOrNull("hs_analytics_source_data_2", data2)
	props.strOrNull("hs_lifecyclestage_customer_date", ht(c.stage[stCustomer]))
	props.strOrNull("hs_lifecyclestage_lead_date", ht(c.stage[stLead]))
	props.strOrNull("hs_lifecyclestage_marketingqualifiedlead_date", ht(c.stage[stMQL]))
	props.strOrNull("hs_lifecyclestage_opportunity_date", ht(c.stage[stOpportunity]))
	props.strOrNull("hs_lifecyclestage_salesqualifiedlead_date", ht(c.stage[stSQL]))
	props.str("hs_object_id", id)
	props.strOrNull("industry", c.industryName())
	if t, ok := c.jobTitle(); ok {
		props.str("jobtitle", t)
	} else {
		props.null("jobtitle")
	}
	props.str("lastmodifieddate", ht(c.modified))
	props.str("lastname", lastNames[c.lastName])
	props.str("lifecyclestage", c.lifecycle())
	props.strOrNull("numemployees", c.employees())

	o := object{b: b}
	o.str("id", id)
	o.raw("properties", string(props.close()))
	o.str("createdAt", isoTime(c.stage[stLead]))
	o.str("updatedAt", isoTime(c.modified))
	o.raw("archived", "false")
	return o.close()
}

// companyName returns the contact's company property, "" for none.
func (c *contact) companyName() string {
	if c.company < 0 {
		return ""
	}
	return companyName(int(c.company))
}

// countryName returns the contact's country property, "" for none.
func (c *contact) countryName() string {
	if c.country == 0 {
		return ""
	}
	return countries[c.country-1]
}

// industryName returns the contact's industry property, "" for none.
func (c *contact) industryName() string {
	if c.industry == 0 {
		return ""
	}
	return industries[c.industry-1]
}

// employees returns the contact's numemployees property, "" for none.
func (c *contact) employees() string {
	if c.size == 0 {
		return ""
	}
	return employeeRanges[c.size-1]
}

// jobTitle returns the contact's jobtitle property as written; ok is false when the
// property is not set.
func (c *contact) jobTitle() (t string, ok bool) {
	if c.role != roleNone {
		ts := committeeTitles[c.role]
		return ts[int(c.title)%len(ts)], true
	}
	t = profiles[c.persona].titles[c.title].v
	switch c.titleStyle {
	case titleNull:
		return "", false
	case titleEmpty:
		return "", true
	case titleMessy:
		return messyTitle(t, int(c.id)), true
	}
	return t, t != ""
}

// sourceData returns hs_analytics_source_data_1 and _2 for the contact's original
// source, as HubSpot fills them per source.
func (g *generator) sourceData(c *contact, src *traffic) (string, string) {
	switch src.hsSource {
	case "PAID_SEARCH":
		return src.campaign, src.term
	case "PAID_SOCIAL":
		return src.hsData1, src.campaign
	case "EMAIL_MARKETING":
		return campaignOf(src, c.srcAt), ""
	case "REFERRALS":
		return src.hsData1, src.referrer
	case "DIRECT_TRAFFIC":
		return host + pages[c.srcLanding].path, ""
	}
	return src.hsData1, src.hsData2
}

// messyEmail returns e as people type it: capitalized, with blanks around, when messy.
func messyEmail(e string, messy bool) string {
	if !messy {
		return e
	}
	local, domain, _ := strings.Cut(e, "@")
	parts := strings.Split(local, ".")
	for i, s := range parts {
		if s != "" {
			parts[i] = strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return "  " + strings.Join(parts, ".") + "@" + strings.ToUpper(domain[:1]) + domain[1:] + " "
}

// appendDeal appends a CRM v3 deal object.
func (g *generator) appendDeal(b []byte, d *deal) []byte {
	c := &g.contacts[d.contact]
	id := itoa(d.id)
	ht := func(t int64) string { return hubspotTime(t, d.epoch) }
	org := c.companyName()
	if org == "" {
		org = firstNames[c.firstName] + " " + lastNames[c.lastName]
	}
	stage, name := "", org+" - New Business"
	modified := d.closed + hour
	switch d.state {
	case dealWon:
		stage = "closedwon"
	case dealLost:
		stage = "closedlost"
	case dealOpen:
		stage = openStages[d.openStage]
		modified = g.end - minute
	}
	if d.sub == 1 {
		name = org + " - Pilot"
	}
	modified = min(modified, g.end-second)

	props := object{}
	props.str("amount", strconv.FormatFloat(d.amount, 'f', -1, 64))
	props.str("closedate", ht(d.closed))
	props.str("createdate", ht(d.created))
	if d.usd {
		props.str("deal_currency_code", "USD")
	}
	props.str("dealname", name)
	props.str("dealstage", stage)
	props.str("hs_lastmodifieddate", ht(modified))
	props.str("hs_object_id", id)
	props.str("pipeline", "default")

	o := object{b: b}
	o.str("id", id)
	o.raw("properties", string(props.close()))
	o.raw("propertiesWithHistory", string(g.stageHistory(d, stage, modified)))
	o.str("createdAt", isoTime(d.created))
	o.str("updatedAt", isoTime(modified))
	o.raw("archived", "false")
	return o.close()
}

// stageHistory is the deal's propertiesWithHistory as the v3 API returns it for
// dealstage (newest first): the open stages it went through, evenly spaced from its
// creation, then its final stage. A won deal passed every open stage; a lost one
// 1 to 4 of them (by its id); an open one those up to where it sits.
func (g *generator) stageHistory(d *deal, final string, modified int64) []byte {
	var path []string
	end := d.closed
	switch d.state {
	case dealWon:
		path = append(append(path, openStages...), final)
	case dealLost:
		path = append(append(path, openStages[:1+int(d.id%4)]...), final)
	case dealOpen:
		path = openStages[:d.openStage+1]
		end = modified
	}
	at := func(i int) int64 {
		if i == len(path)-1 && d.state != dealOpen {
			return d.closed
		}
		return d.created + int64(i)*(end-d.created)/int64(len(path))
	}
	b := []byte(`{"dealstage":[`)
	for i := len(path) - 1; i >= 0; i-- {
		v := object{b: b}
		v.str("value", path[i])
		v.str("timestamp", isoTime(at(i)))
		v.str("sourceType", "CRM_UI")
		b = v.close()
		if i > 0 {
			b = append(b, ',')
		}
	}
	return append(b, "]}"...)
}

// appendAssociation appends the v4 batch-read result of a deal's contacts: its
// contact (the champion, the oldest: HubSpot has no primary deal-contact type, so
// the smallest id is the deal's primary contact), a colleague, the committee.
func (g *generator) appendAssociation(b []byte, d *deal) []byte {
	b = append(b, `{"from":{"id":"`...)
	b = strconv.AppendInt(b, d.id, 10)
	b = append(b, `"},"to":[`...)
	to := func(b []byte, c int32) []byte {
		b = append(b, `{"toObjectId":`...)
		b = strconv.AppendInt(b, g.contacts[c].id, 10)
		return append(b, `,"associationTypes":[{"category":"HUBSPOT_DEFINED","typeId":3,"label":null}]}`...)
	}
	b = to(b, d.contact)
	if d.colleague >= 0 {
		b = append(b, ',')
		b = to(b, d.colleague)
	}
	for _, m := range d.members {
		b = append(b, ',')
		b = to(b, m)
	}
	return append(b, "]}"...)
}
