// Package persona assigns each person the persona (ideal-customer profile) of the
// first matching rule of a user's rules file (CLOSEDLOOP_PERSONAS), from the person's
// CRM fields and behaviour; a person no rule matches is Unclassified.
//
// The rules file is UTF-8 text, one "key: value" per line; blank lines and lines
// starting with "#" are ignored. Each rule starts with "persona: NAME" followed by its
// conditions, all of which must hold; a rule without conditions matches everyone.
// Rules are tried in file order and the first that matches wins; several rules may
// name the same persona (one persona, several ways to recognise it).
//
// CRM fields (the person's CRM record; with several records, the most recently
// updated one that has the field):
//
//	job_title, company, industry, country
//	original_source   the CRM's original or lead source (HubSpot hs_analytics_source,
//	                  Salesforce LeadSource); lead_source is the same key
//	lifecycle_stage   furthest stage reached: lead, mql, sql, opportunity, customer
//	crm               hubspot or salesforce
//	email_domain      the domain of any of the person's e-mail addresses
//
// each a comma-separated list of exact values or "~" and a regular expression (RE2,
// matched anywhere unless anchored), ignoring case; "" in a list matches a person
// without the field (job_title: "" is "no job title").
//
//	company_size      employees: a comma-separated list of ranges, any of which holds:
//	                  ">= 500", "> 499", "<= 50", "< 50", "50-999", "1000+", "250"
//
// Behaviour (the events the run reads: its days and the lookback):
//
//	page              the person viewed a page whose path (/pricing, no query string)
//	                  is in the list or matches the expression
//	downloaded        the person downloaded a file (an event whose name contains
//	                  "download", such as GA4's file_download) whose link URL (or file
//	                  name) is in the list or matches the expression; "~." is any file
//	event             the person did an event of that name (form_submit, demo_request)
//
// "!" before a value negates the condition: not in the list, not matching, no page or
// download matching. A person without the field (no job title, no company size, no
// e-mail) fails every condition on it except a negated one and a list holding "". page, downloaded and event
// may be given more than once in a rule (each must hold); the other keys once.
//
//	# Decision makers at large companies.
//	persona: Enterprise IT buyer
//	  job_title: ~\b(cio|cto|it director|vp (of )?it|head of (it|infrastructure))\b
//	  company_size: >= 500
//
//	persona: Developer
//	  job_title: ~(engineer|developer|devops)
//	persona: Developer
//	  page: ~^/docs/
//	  email_domain: !gmail.com, yahoo.com, outlook.com, hotmail.com
package persona

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"closedloop/extract"
	"closedloop/transform/rulefile"
)

// Unclassified is the persona of a person no rule matches (and of every person when
// there are no rules).
const Unclassified = "Unclassified"

// Person is what the rules read about one person. Behaviour slices hold distinct
// values; order does not matter.
type Person struct {
	JobTitle, Company, Industry, Country string
	OriginalSource, LifecycleStage, CRM  string
	CompanySize                          int64
	HasCompanySize                       bool
	Emails                               []string
	Pages                                []string // page paths viewed
	Downloads                            []string // link URLs (or file names) of downloads
	Events                               []string // event names
}

// Rules are the parsed rules of a file. A nil *Rules classifies everyone Unclassified.
// Rules are immutable and safe for concurrent use.
type Rules struct {
	rules []rule
	needs Needs
}

// Needs tells which behaviour the rules read, so that a caller collects only that.
type Needs struct{ Pages, Downloads, Events bool }

type rule struct {
	persona string
	line    int
	conds   []cond
}

type field int

const (
	fJobTitle field = iota
	fCompany
	fIndustry
	fCountry
	fOriginalSource
	fLifecycleStage
	fCRM
	fEmailDomain
	fCompanySize
	fPage
	fDownloaded
	fEvent
)

var fieldNames = map[string]field{
	"job_title": fJobTitle, "company": fCompany, "industry": fIndustry, "country": fCountry,
	"original_source": fOriginalSource, "lead_source": fOriginalSource,
	"lifecycle_stage": fLifecycleStage, "crm": fCRM, "email_domain": fEmailDomain,
	"company_size": fCompanySize, "page": fPage, "downloaded": fDownloaded, "event": fEvent,
}

const keyList = "job_title, company, industry, country, original_source, lifecycle_stage, crm, email_domain, company_size, page, downloaded, event"

// repeatable keys may be given several times in one rule.
func (f field) repeatable() bool { return f == fPage || f == fDownloaded || f == fEvent }

type cond struct {
	field field
	rulefile.Values
	sizes []sizeRange // company_size: its ranges instead of List
}

type sizeRange struct{ lo, hi int64 } // inclusive

// Load reads a rules file (see the package doc). Errors wrap extract.ErrConfig and
// name the file and line.
func Load(path string) (*Rules, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: persona rules: %v (set CLOSEDLOOP_PERSONAS to a readable rules file, or unset it to leave everyone Unclassified)", extract.ErrConfig, err)
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse reads rules (see the package doc) from r; name is the file name used in errors.
func Parse(r io.Reader, name string) (*Rules, error) {
	rs := &Rules{}
	fail := func(line int, format string, args ...any) error {
		return fmt.Errorf("%w: %s:%d: %s", extract.ErrConfig, name, line, fmt.Sprintf(format, args...))
	}
	var cur *rule
	var curKeys map[field]bool
	err := rulefile.Scan(r, name, func(l rulefile.Line) error {
		n, key, value := l.N, l.Key, l.Value
		switch key {
		case "":
			return fail(n, "%q is not \"key: value\" (keys: persona, %s)", value, keyList)
		case "persona":
			if value == "" {
				return fail(n, "empty persona name: write the persona the rule assigns, e.g. \"persona: Enterprise IT buyer\"")
			}
			if strings.EqualFold(value, Unclassified) {
				return fail(n, "%q is the persona of people no rule matches: name the rule's persona otherwise", value)
			}
			rs.rules = append(rs.rules, rule{persona: value, line: n})
			cur, curKeys = &rs.rules[len(rs.rules)-1], map[field]bool{}
			return nil
		}
		f, known := fieldNames[key]
		if !known {
			return fail(n, "unknown key %q (keys: persona, %s)", key, keyList)
		}
		if cur == nil {
			return fail(n, "condition %q outside a rule: start the rule with \"persona: NAME\"", key)
		}
		if curKeys[f] && !f.repeatable() {
			return fail(n, "%s given twice in rule %q: list the values on one line (a, b) or write one expression", key, cur.persona)
		}
		curKeys[f] = true
		c, err := parseCond(f, key, value)
		if err != nil {
			return fail(n, "%v", err)
		}
		cur.conds = append(cur.conds, c)
		switch f {
		case fPage:
			rs.needs.Pages = true
		case fDownloaded:
			rs.needs.Downloads = true
		case fEvent:
			rs.needs.Events = true
		}
		return nil
	})
	if err != nil {
		if !errors.Is(err, extract.ErrConfig) {
			err = fmt.Errorf("%w: persona rules %v", extract.ErrConfig, err)
		}
		return nil, err
	}
	if len(rs.rules) == 0 {
		return nil, fmt.Errorf("%w: persona rules %s: no rule: add a \"persona: NAME\" line and its conditions, or unset CLOSEDLOOP_PERSONAS", extract.ErrConfig, name)
	}
	return rs, nil
}

func parseCond(f field, key, value string) (cond, error) {
	var item func(string) (string, error)
	switch f {
	case fLifecycleStage:
		item = func(v string) (string, error) {
			if v != "" && !validStage[v] {
				return "", fmt.Errorf("lifecycle_stage: unknown stage %q: use lead, mql, sql, opportunity or customer", v)
			}
			return v, nil
		}
	case fCompanySize:
		item = func(v string) (string, error) {
			if _, err := parseSize(v); err != nil {
				return "", fmt.Errorf("company_size: %v", err)
			}
			return v, nil
		}
	}
	vs, err := rulefile.ParseValues(key, value, f != fCompanySize, item)
	c := cond{field: f, Values: vs}
	if err != nil || f != fCompanySize {
		return c, err
	}
	for _, v := range vs.List {
		r, _ := parseSize(v) // checked by item
		c.sizes = append(c.sizes, r)
	}
	c.List = nil
	return c, nil
}

var validStage = map[string]bool{"lead": true, "mql": true, "sql": true, "opportunity": true, "customer": true}

// parseSize reads one company_size range: ">= N", "> N", "<= N", "< N", "N-M", "N+", "N".
func parseSize(s string) (sizeRange, error) {
	bad := fmt.Errorf("%q is not a size: write >= 500, < 50, 50-999, 1000+ or a number", s)
	num := func(t string) (int64, bool) {
		v, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(t), "_", ""), 10, 64)
		return v, err == nil && v >= 0
	}
	for _, op := range []string{">=", "<=", ">", "<"} {
		if rest, ok := strings.CutPrefix(s, op); ok {
			v, ok := num(rest)
			if !ok {
				return sizeRange{}, bad
			}
			switch op {
			case ">=":
				return sizeRange{v, math.MaxInt64}, nil
			case ">":
				if v == math.MaxInt64 {
					return sizeRange{}, fmt.Errorf("%q: no size is above it", s)
				}
				return sizeRange{v + 1, math.MaxInt64}, nil
			case "<=":
				return sizeRange{math.MinInt64, v}, nil
			default:
				return sizeRange{math.MinInt64, v - 1}, nil
			}
		}
	}
	if rest, ok := strings.CutSuffix(s, "+"); ok {
		v, ok := num(rest)
		if !ok {
			return sizeRange{}, bad
		}
		return sizeRange{v, math.MaxInt64}, nil
	}
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		l, ok1 := num(lo)
		h, ok2 := num(hi)
		if !ok1 || !ok2 {
			return sizeRange{}, bad
		}
		if l > h {
			return sizeRange{}, fmt.Errorf("%q: the range's low end is above its high end", s)
		}
		return sizeRange{l, h}, nil
	}
	v, ok := num(s)
	if !ok {
		return sizeRange{}, bad
	}
	return sizeRange{v, v}, nil
}

// Needs reports which behaviour the rules read.
func (rs *Rules) Needs() Needs {
	if rs == nil {
		return Needs{}
	}
	return rs.needs
}

// Personas lists the personas the rules can assign, in rule order without repeats,
// then Unclassified.
func (rs *Rules) Personas() []string {
	var out []string
	seen := map[string]bool{}
	if rs != nil {
		for _, r := range rs.rules {
			if !seen[r.persona] {
				seen[r.persona] = true
				out = append(out, r.persona)
			}
		}
	}
	return append(out, Unclassified)
}

// Classify returns the persona of the first rule p matches, else Unclassified.
func (rs *Rules) Classify(p *Person) string {
	if rs == nil {
		return Unclassified
	}
	for i := range rs.rules {
		if rs.rules[i].match(p) {
			return rs.rules[i].persona
		}
	}
	return Unclassified
}

func (r *rule) match(p *Person) bool {
	for i := range r.conds {
		if !r.conds[i].holds(p) {
			return false
		}
	}
	return true
}

func (c *cond) holds(p *Person) bool {
	var ok bool
	switch c.field {
	case fCompanySize:
		if p.HasCompanySize {
			for _, s := range c.sizes {
				if p.CompanySize >= s.lo && p.CompanySize <= s.hi {
					ok = true
					break
				}
			}
		}
	case fEmailDomain:
		for _, e := range p.Emails {
			if _, d, found := strings.Cut(e, "@"); found && c.value(d) {
				ok = true
				break
			}
		}
	case fPage:
		ok = c.any(p.Pages)
	case fDownloaded:
		ok = c.any(p.Downloads)
	case fEvent:
		ok = c.any(p.Events)
	default:
		v := p.field(c.field)
		// A missing field matches only a list holding "".
		ok = v != "" && c.value(v) || v == "" && c.Re == nil && c.hasEmpty()
	}
	return ok != c.Negate
}

func (c *cond) any(vals []string) bool {
	for _, v := range vals {
		if c.value(v) {
			return true
		}
	}
	return false
}

func (c *cond) hasEmpty() bool {
	for _, v := range c.List {
		if v == "" {
			return true
		}
	}
	return false
}

func (c *cond) value(v string) bool {
	if c.Re != nil {
		return c.Re.MatchString(v)
	}
	for _, w := range c.List {
		if w != "" && strings.EqualFold(w, v) {
			return true
		}
	}
	return false
}

func (p *Person) field(f field) string {
	switch f {
	case fJobTitle:
		return p.JobTitle
	case fCompany:
		return p.Company
	case fIndustry:
		return p.Industry
	case fCountry:
		return p.Country
	case fOriginalSource:
		return p.OriginalSource
	case fLifecycleStage:
		return p.LifecycleStage
	case fCRM:
		return p.CRM
	}
	return ""
}
