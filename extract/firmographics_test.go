package extract

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompanySize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		// HubSpot's numemployees options.
		{"1-5", 1, true},
		{"5-25", 5, true},
		{"25-50", 25, true},
		{"50-100", 50, true},
		{"100-500", 100, true},
		{"500-1000", 500, true},
		{"1000+", 1000, true},
		// Plain numbers, as a number property or a warehouse column holds them.
		{"250", 250, true},
		{" 250 ", 250, true},
		{"0", 0, true},
		{"1,200", 1200, true},
		{"120210.0", 120210, true},
		{"10,001+", 10001, true},
		{"1,000 – 5,000", 1000, true},
		{"10 - 50", 10, true},
		{"9223372036854775807", 9223372036854775807, true},
		// Not a size.
		{"", 0, false},
		{"Unknown", 0, false},
		{"<10", 0, false},
		{"-5", 0, false},
		{"12.5", 0, false},
		{"50-25", 0, false},
		{"10-20-30", 0, false},
		{"1,20", 0, false},
		{"1200,", 0, false},
		{"+", 0, false},
		{"25-", 0, false},
		{"1e3", 0, false},
		{"9223372036854775808", 0, false},
	} {
		n, ok := CompanySize(tc.in)
		require.Equal(t, tc.ok, ok, "%q", tc.in)
		require.Equal(t, tc.want, n, "%q", tc.in)
	}
}

func TestBadValues(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	var b BadValues
	for i := 0; i < MaxLoggedBadValues+2; i++ {
		b.Add(log, "bad size", "value", i)
	}
	require.Equal(t, int64(MaxLoggedBadValues+2), b.Count())
	require.Equal(t, int64(MaxLoggedBadValues), b.Logged())
	require.Equal(t, MaxLoggedBadValues, strings.Count(logs.String(), "bad size"))
	b.Reset()
	require.Zero(t, b.Count())
}

func TestDomain(t *testing.T) {
	for in, want := range map[string]string{
		"acme.com": "acme.com", " https://www.Acme.com/about?x=1 ": "acme.com", "http://shop.acme.co.uk:8080": "shop.acme.co.uk",
		"WWW.ACME.COM.": "acme.com", "": "", "   ": "", "not a domain": "", "acme.com#top": "acme.com",
	} {
		if got := Domain(in); got != want {
			t.Errorf("Domain(%q) = %q, want %q", in, got, want)
		}
	}
}
