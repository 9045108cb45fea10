package persona

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

func TestParseRefusesBadText(t *testing.T) {
	_, err := Parse(strings.NewReader("persona: D\x00v\n"), "personas.txt")
	require.ErrorIs(t, err, extract.ErrConfig)
	require.ErrorContains(t, err, "personas.txt: line 1: the line holds a NUL byte")
}

func FuzzParse(f *testing.F) {
	if seed, err := os.ReadFile("../../testdata/sample/personas.txt"); err == nil {
		f.Add(string(seed))
	}
	for _, s := range []string{
		"persona: A\n  company_size: >= 500, 1-9, 1000+, < 5, <= 7, > 3, 42\n  job_title: \"\", ~cto\n",
		"persona: B\n  page: ~^/docs/\n  page: !/pricing\n  downloaded: ~.\n  event: form_submit\n  email_domain: !gmail.com\n",
		"persona: C\n  lifecycle_stage: mql, sql\n  crm: hubspot\n  lead_source: web\n",
		"persona: Unclassified\n",
		"persona: D\n  company_size: 9-1\n",
		"persona: E\n  company_size: >9223372036854775807\n",
		"persona: Caf\xe9\n",
	} {
		f.Add(s)
	}
	people := []Person{
		{JobTitle: "CTO", CompanySize: 1000, HasCompanySize: true, Emails: []string{"a@acme.io"}},
		{Pages: []string{"/docs/x"}, Downloads: []string{"w.pdf"}, Events: []string{"form_submit"}, LifecycleStage: "mql", CRM: "hubspot"},
		{CompanySize: -1 << 63, HasCompanySize: true},
		{},
	}
	f.Fuzz(func(t *testing.T, s string) {
		rs, err := Parse(strings.NewReader(s), "personas.txt")
		if err != nil {
			require.Nil(t, rs)
			require.True(t, errors.Is(err, extract.ErrConfig), "%v", err)
			return
		}
		names := rs.Personas()
		require.Equal(t, Unclassified, names[len(names)-1])
		for _, n := range names {
			require.NotEmpty(t, n)
			require.Empty(t, extract.BadText("persona", n), "%q", n)
		}
		for i := range people {
			require.Contains(t, names, rs.Classify(&people[i]))
		}
	})
}

func TestSizeAboveMax(t *testing.T) {
	_, err := Parse(strings.NewReader("persona: E\n  company_size: > 9223372036854775807\n"), "personas.txt")
	require.ErrorContains(t, err, "no size is above it", "v+1 would wrap around and match every size")
	rs := parse(t, "persona: E\n  company_size: > 9223372036854775806\n")
	require.Equal(t, "E", rs.Classify(&Person{CompanySize: 9223372036854775807, HasCompanySize: true}))
	require.Equal(t, Unclassified, rs.Classify(&Person{CompanySize: 5, HasCompanySize: true}))
}
