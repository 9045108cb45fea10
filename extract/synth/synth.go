// Package synth generates a coherent, deterministic synthetic data set in the real
// formats of closedloop's sources, for the committed sample (testdata/sample), demos,
// tests and benchmarks at any scale.
//
// Generate simulates the visitors of a B2B SaaS site over a period and writes:
//
//	ga4/events_YYYYMMDD.ndjson.gz  the GA4 BigQuery export, one gzipped NDJSON file per day
//	                               (event_timestamp, int_value and other INT64 fields as JSON
//	                               strings, as BigQuery's JSON export writes them)
//	hubspot/contacts.ndjson        the HubSpot export folder read by extract/hubspot: CRM v3
//	hubspot/deals.ndjson           contacts and deals, the deal pipelines, and v4 deal-to-contact
//	hubspot/pipelines.json         associations
//	hubspot/deal_contacts.ndjson
//	hubspot/companies.ndjson       the companies (accounts) and the deals' primary companies
//	hubspot/deal_companies.ndjson  (v4 deal-to-company associations, typeId 5)
//	spend/spend.csv                daily cost per paid campaign:
//	                               date,source,medium,campaign,cost,clicks,impressions,currency
//
// GenerateTo writes the same files, a flat touch log in the layout of the public
// "Multi-Touch Attribution" data set (one row per session and per won deal, read by
// extract/touches) drawn from the same simulation, or both.
//
// The story: people arrive through the GA4 default channels (organic and social
// traffic opens journeys; brand search, e-mail and direct visits close them), browse
// over several anonymous sessions on one or two devices, and some submit a form on
// /demo or /signup. The form creates a HubSpot contact carrying the device's GA4
// client id (property ga_client_id), which moves through the funnel lead -> MQL -> SQL
// -> opportunity (a deal) -> customer (deal won) or deal lost; nurture e-mails and
// retargeting ads bring contacts back in between. Some people log in on both devices,
// so their cookies share a user_id. Paid sessions are the clicks of the spend file.
//
// Every person has a hidden persona that shapes all of this, so that the data tells the
// lead-quality story ("more leads are not always better"): a few enterprise IT buyers
// (CIO, CTO, VP of IT at companies of 500 or more) find the site through brand search,
// LinkedIn and review sites, download the security whitepaper, view /pricing and buy
// the largest deals at the best rate; developers bring many trial sign-ups from organic
// search, Stack Overflow and GitHub, read /docs and rarely buy; small business owners
// come from Meta ads and e-mail, some download the pricing guide, and buy small deals
// at a medium rate; students and job seekers come from TikTok, Instagram, YouTube and
// Reddit, visit /careers and never buy; everyone else (marketers, consultants,
// analysts) is average. B2B deals are bought by committees: a technical decision
// maker reached by LinkedIn ads and, on won deals, an economic buyer reached by e-mail
// join the champion's deal (see planCommittees). The persona is never written: contacts carry what a CRM would
// hold (jobtitle, company, industry, numemployees, country, some of them messy) and GA4
// carries what people did (file_download events with link_url, the pages they read).
//
// The output is byte-for-byte the same for the same Config: every random choice comes
// from PCG streams keyed by the seed and the person or session, nothing iterates over
// a Go map, and gzip headers carry no time. Memory grows with the number of people and
// sessions planned (tens of bytes each), not with events: the event files are written
// a day at a time.
package synth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Config says what to generate.
type Config struct {
	// Seed seeds every random choice: the same Config gives the same bytes.
	Seed uint64
	// People is the number of simulated people, each with one or two devices.
	People int
	// From is the first day of the period; only its UTC date counts.
	From time.Time
	// Days is the length of the period in days.
	Days int
}

// Stats counts what Generate or GenerateTo wrote. Events, Downloads, SpendRows and
// Spend are counted as the files are written: they stay zero when GenerateTo writes
// the touch log alone.
type Stats struct {
	People        int     // simulated people
	Cookies       int     // distinct GA4 user_pseudo_ids (devices)
	LinkedPeople  int     // people logged in (one user_id) on two devices
	Sessions      int     // GA4 sessions
	Events        int     // GA4 events (lines of the ga4 files)
	Contacts      int     // HubSpot contacts: people who submitted a form
	MQLs          int     // contacts that reached marketing-qualified lead
	SQLs          int     // contacts that reached sales-qualified lead
	Opportunities int     // contacts that reached opportunity (they have a deal)
	Customers     int     // contacts that became customers
	Deals         int     // HubSpot deals
	DealsWon      int     // deals in closedwon
	DealsLost     int     // deals in closedlost
	DealsOpen     int     // deals still open at the end of the period
	DealContacts  int     // deal-contact associations
	Companies     int     // HubSpot companies (the accounts)
	Committee     int     // people added to B2B deals as their buying committee (also in People and Contacts)
	Revenue       float64 // sum of the won deals' amounts, USD
	Downloads     int     // GA4 file_download events
	SpendRows     int     // rows of spend.csv
	Spend         float64 // sum of spend.csv's cost, USD
	TouchRows     int     // rows of the touch log (header excluded), when GenerateTo writes one
	// Personas breaks people, contacts and revenue down by the hidden persona that
	// shaped them: enterprise IT buyers, developers, small business owners, students
	// and job seekers, everyone else (PersonaStats.Persona names it). Committee
	// members are in none.
	Personas [nPersonas]PersonaStats
}

// PersonaStats counts what one persona produced.
type PersonaStats struct {
	Persona   string  // "Enterprise IT buyer", "Developer", "Small business owner", "Student or job seeker", "Other"
	People    int     // simulated people
	Contacts  int     // of them, HubSpot contacts (leads)
	MQLs      int     // contacts that reached MQL
	Customers int     // contacts that became customers
	Revenue   float64 // their won deals, USD
}

// Generate writes the data set for cfg under dir (dir/ga4, dir/hubspot, dir/spend,
// created as needed; files already there are overwritten, others left alone).
func Generate(cfg Config, dir string) (Stats, error) {
	g, err := newGenerator(cfg)
	if err != nil {
		return Stats{}, err
	}
	g.plan()
	// Generate has no context to pass on: it is quick at the sizes of the sample and
	// the tests; GenerateTo is the cancellable form for large runs.
	if err := g.writeDir(context.Background(), dir); err != nil {
		return Stats{}, err
	}
	return g.stats, nil
}

// writeDir writes dir/ga4, dir/hubspot and dir/spend.
func (g *generator) writeDir(ctx context.Context, dir string) error {
	for _, sub := range []string{"ga4", "hubspot", "spend"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
	}
	if err := g.writeGA4(ctx, filepath.Join(dir, "ga4")); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := g.writeHubSpot(filepath.Join(dir, "hubspot")); err != nil {
		return err
	}
	return g.writeSpend(filepath.Join(dir, "spend"))
}

// maxPeople keeps person indexes within the session key (person<<4 | session).
const maxPeople = 1 << 28

func (cfg Config) validate() error {
	var errs []error
	if cfg.People <= 0 || cfg.People > maxPeople {
		errs = append(errs, fmt.Errorf("people is %d, want 1..%d", cfg.People, maxPeople))
	}
	if cfg.Days <= 0 || cfg.Days > 3660 {
		errs = append(errs, fmt.Errorf("days is %d, want 1..3660", cfg.Days))
	}
	if cfg.From.IsZero() {
		errs = append(errs, errors.New("from is not set"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("synth: bad config: %w", err)
	}
	return nil
}

// Sample is the Config of the committed sample, testdata/sample, that `closedloop demo`
// runs on: a B2B software company's January and February 2026.
var Sample = Config{Seed: 7, People: 800, From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: 61}
