package persona

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

func parse(t *testing.T, text string) *Rules {
	t.Helper()
	rs, err := Parse(strings.NewReader(text), "personas.txt")
	require.NoError(t, err)
	return rs
}

// TestExampleFile classifies people with the example rules file shipped with the demo.
func TestExampleFile(t *testing.T) {
	rs, err := Load("../../testdata/sample/personas.txt")
	require.NoError(t, err)
	assert.Equal(t, []string{"Enterprise IT buyer", "Developer", "Small business owner", "Student or job seeker", Unclassified}, rs.Personas())
	assert.Equal(t, Needs{Pages: true, Downloads: true}, rs.Needs())
	cases := []struct {
		p    Person
		want string
	}{
		{Person{JobTitle: "CIO", CompanySize: 1000, HasCompanySize: true}, "Enterprise IT buyer"},
		{Person{JobTitle: "vp of IT", CompanySize: 500, HasCompanySize: true}, "Enterprise IT buyer"},
		// A small company's CTO is not an enterprise buyer: the owner rule needs a
		// founder-like title, so the CTO stays Unclassified.
		{Person{JobTitle: "CTO", CompanySize: 25, HasCompanySize: true}, Unclassified},
		// No title, but read the security whitepaper at a large company.
		{Person{CompanySize: 1000, HasCompanySize: true, Downloads: []string{"https://www.example.com/assets/security-whitepaper.pdf"}}, "Enterprise IT buyer"},
		{Person{JobTitle: "Senior Developer"}, "Developer"},
		{Person{JobTitle: "DevOps Engineer", CompanySize: 5000, HasCompanySize: true}, "Developer"},
		{Person{Pages: []string{"/", "/docs/api/auth"}, Emails: []string{"ann@acme.io"}}, "Developer"},
		{Person{Pages: []string{"/docs/api/auth"}, Emails: []string{"ann@gmail.com"}}, Unclassified},
		{Person{JobTitle: "Founder", CompanySize: 5, HasCompanySize: true}, "Small business owner"},
		{Person{JobTitle: "Managing Director", CompanySize: 25, HasCompanySize: true}, "Small business owner"},
		{Person{JobTitle: "Managing Director", CompanySize: 500, HasCompanySize: true}, Unclassified},
		{Person{JobTitle: "Student"}, "Student or job seeker"},
		{Person{Pages: []string{"/careers"}, Emails: []string{"x@gmail.com"}}, "Student or job seeker"},
		{Person{JobTitle: "Marketing Manager", CompanySize: 100, HasCompanySize: true}, Unclassified},
		{Person{}, Unclassified},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, rs.Classify(&c.p), "%+v", c.p)
	}
}

func TestFirstMatchWins(t *testing.T) {
	rs := parse(t, `
persona: A
  industry: Retail
persona: B
  country: Germany
persona: A
  country: France
`)
	assert.Equal(t, []string{"A", "B", Unclassified}, rs.Personas())
	assert.Equal(t, "A", rs.Classify(&Person{Industry: "retail", Country: "Germany"}))
	assert.Equal(t, "B", rs.Classify(&Person{Industry: "Banking", Country: "germany"}))
	assert.Equal(t, "A", rs.Classify(&Person{Country: "France"}), "a persona's second rule")
	assert.Equal(t, Unclassified, rs.Classify(&Person{Country: "Spain"}))
}

func TestConditions(t *testing.T) {
	cases := []struct {
		rule string
		p    Person
		want bool
	}{
		{"job_title: ~^vp\\b", Person{JobTitle: "VP Sales"}, true},
		{"job_title: ~^vp\\b", Person{JobTitle: "SVP Sales"}, false},
		{"job_title: ~^vp\\b", Person{}, false},
		{"job_title: !~intern", Person{}, true},
		{"job_title: !~intern", Person{JobTitle: "Summer Intern"}, false},
		{`job_title: ""`, Person{}, true},
		{`job_title: ""`, Person{JobTitle: "CEO"}, false},
		{`job_title: !""`, Person{JobTitle: "CEO"}, true},
		{"company: Acme, Globex", Person{Company: "globex"}, true},
		{"company: Acme, Globex", Person{Company: "Globex Inc"}, false},
		{"country: !United States, Canada", Person{Country: "Germany"}, true},
		{"country: !United States, Canada", Person{Country: "canada"}, false},
		{"original_source: ORGANIC_SEARCH, PAID_SEARCH", Person{OriginalSource: "PAID_SEARCH"}, true},
		{"lead_source: Web", Person{OriginalSource: "web"}, true},
		{"lifecycle_stage: opportunity, customer", Person{LifecycleStage: "customer"}, true},
		{"lifecycle_stage: opportunity, customer", Person{LifecycleStage: "mql"}, false},
		{"crm: salesforce", Person{CRM: "salesforce"}, true},
		{"email_domain: gmail.com", Person{Emails: []string{"a@acme.io", "a@GMAIL.com"}}, true},
		{"email_domain: !gmail.com, yahoo.com", Person{Emails: []string{"a@acme.io"}}, true},
		{"email_domain: !gmail.com, yahoo.com", Person{Emails: []string{"a@acme.io", "b@yahoo.com"}}, false},
		{"email_domain: ~\\.edu$", Person{Emails: []string{"s@mit.edu"}}, true},
		{"email_domain: ~\\.edu$", Person{}, false},
		{"company_size: >= 500", Person{CompanySize: 500, HasCompanySize: true}, true},
		{"company_size: >= 500", Person{CompanySize: 499, HasCompanySize: true}, false},
		{"company_size: >= 500", Person{}, false},
		{"company_size: !>= 500", Person{}, true},
		{"company_size: > 499", Person{CompanySize: 500, HasCompanySize: true}, true},
		{"company_size: < 50", Person{CompanySize: 49, HasCompanySize: true}, true},
		{"company_size: < 50", Person{CompanySize: 50, HasCompanySize: true}, false},
		{"company_size: <= 50", Person{CompanySize: 50, HasCompanySize: true}, true},
		{"company_size: 50-999", Person{CompanySize: 999, HasCompanySize: true}, true},
		{"company_size: 50-999", Person{CompanySize: 1000, HasCompanySize: true}, false},
		{"company_size: 1000+", Person{CompanySize: 1000, HasCompanySize: true}, true},
		{"company_size: 1-5, 1000+", Person{CompanySize: 5, HasCompanySize: true}, true},
		{"company_size: 250", Person{CompanySize: 250, HasCompanySize: true}, true},
		{"company_size: 1_000+", Person{CompanySize: 1000, HasCompanySize: true}, true},
		{"page: /pricing, /demo", Person{Pages: []string{"/", "/pricing"}}, true},
		{"page: /pricing", Person{Pages: []string{"/pricing/enterprise"}}, false},
		{"page: ~^/pricing", Person{Pages: []string{"/pricing/enterprise"}}, true},
		{"page: !~^/careers", Person{Pages: []string{"/", "/careers/jobs"}}, false},
		{"page: !~^/careers", Person{}, true},
		{"page: ~^/docs/\npage: /pricing", Person{Pages: []string{"/docs/x"}}, false},
		{"page: ~^/docs/\npage: /pricing", Person{Pages: []string{"/docs/x", "/pricing"}}, true},
		{"downloaded: ~.", Person{Downloads: []string{"https://x.io/a.pdf"}}, true},
		{"downloaded: ~.", Person{}, false},
		{"downloaded: ~whitepaper\\.pdf$", Person{Downloads: []string{"https://x.io/a.pdf", "https://x.io/Security-Whitepaper.PDF"}}, true},
		{"event: demo_request", Person{Events: []string{"page_view", "demo_request"}}, true},
		{"event: !demo_request", Person{Events: []string{"page_view"}}, true},
		{"", Person{}, true},
	}
	for _, c := range cases {
		rs := parse(t, "persona: P\n"+c.rule+"\n")
		got := rs.Classify(&c.p) == "P"
		assert.Equal(t, c.want, got, "%q on %+v", c.rule, c.p)
	}
}

func TestNeeds(t *testing.T) {
	assert.Equal(t, Needs{}, parse(t, "persona: A\n job_title: CEO\n").Needs())
	assert.Equal(t, Needs{Pages: true, Events: true}, parse(t, "persona: A\n page: /x\npersona: B\n event: e\n").Needs())
	var none *Rules
	assert.Equal(t, Needs{}, none.Needs())
	assert.Equal(t, Unclassified, none.Classify(&Person{JobTitle: "CEO"}))
	assert.Equal(t, []string{Unclassified}, none.Personas())
}

func TestErrors(t *testing.T) {
	cases := []struct{ text, want string }{
		{"job_title: CEO\n", "personas.txt:1: condition \"job_title\" outside a rule"},
		{"persona: A\nbogus: 1\n", "personas.txt:2: unknown key \"bogus\""},
		{"persona: A\njob_title CEO\n", "personas.txt:2: \"job_title CEO\" is not \"key: value\""},
		{"persona:\n", "personas.txt:1: empty persona name"},
		{"persona: unclassified\n", "personas.txt:1: \"unclassified\" is the persona of people no rule matches"},
		{"persona: A\n industry: a\n industry: b\n", "personas.txt:3: industry given twice in rule \"A\""},
		{"persona: A\n industry:\n", "personas.txt:2: industry has no value"},
		{"persona: A\n industry: a,,b\n", "personas.txt:2: industry: empty item"},
		{"persona: A\n job_title: ~(\n", "personas.txt:2: job_title: bad regular expression"},
		{"persona: A\n company_size: big\n", "personas.txt:2: company_size: \"big\" is not a size"},
		{"persona: A\n company_size: 900-100\n", "personas.txt:2: company_size: \"900-100\": the range's low end is above its high end"},
		{"persona: A\n company_size: >= -3\n", "personas.txt:2: company_size: \">= -3\" is not a size"},
		{"persona: A\n company_size: ~5\n", "personas.txt:2: company_size takes a list of names, not an expression"},
		{"persona: A\n lifecycle_stage: prospect\n", "personas.txt:2: lifecycle_stage: unknown stage \"prospect\""},
		{"# only a comment\n", "persona rules personas.txt: no rule"},
	}
	for _, c := range cases {
		_, err := Parse(strings.NewReader(c.text), "personas.txt")
		require.Error(t, err, c.text)
		assert.True(t, errors.Is(err, extract.ErrConfig), "%v", err)
		assert.Contains(t, err.Error(), c.want)
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.txt"))
	require.ErrorIs(t, err, extract.ErrConfig)
	assert.Contains(t, err.Error(), "CLOSEDLOOP_PERSONAS")
}

func TestBOMAndComments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.txt")
	require.NoError(t, os.WriteFile(path, []byte("\ufeff# personas\n\npersona: A # not a comment\n  country: Germany\n"), 0o644))
	rs, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, "A # not a comment", rs.Classify(&Person{Country: "Germany"}))
}

func BenchmarkClassify(b *testing.B) {
	rs, err := Load("../../testdata/sample/personas.txt")
	if err != nil {
		b.Fatal(err)
	}
	people := []Person{
		{JobTitle: "Software Engineer", Pages: []string{"/", "/docs/a", "/pricing"}},
		{JobTitle: "Marketing Manager", CompanySize: 100, HasCompanySize: true, Emails: []string{"m@corp.com"},
			Pages: []string{"/", "/blog/x", "/pricing", "/features"}},
		{JobTitle: "CIO", CompanySize: 5000, HasCompanySize: true},
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = rs.Classify(&people[i%len(people)])
	}
}

func ExampleRules_Classify() {
	rs, _ := Parse(strings.NewReader(`
persona: Enterprise IT buyer
  job_title: ~\b(cio|cto|vp (of )?it)\b
  company_size: >= 500
persona: Developer
  page: ~^/docs/
`), "personas.txt")
	fmt.Println(rs.Classify(&Person{JobTitle: "VP of IT", CompanySize: 2000, HasCompanySize: true}))
	fmt.Println(rs.Classify(&Person{JobTitle: "VP of IT", CompanySize: 20, HasCompanySize: true, Pages: []string{"/docs/start"}}))
	fmt.Println(rs.Classify(&Person{JobTitle: "Analyst"}))
	// Output:
	// Enterprise IT buyer
	// Developer
	// Unclassified
}
