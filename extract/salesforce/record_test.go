package salesforce

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

func TestParseTime(t *testing.T) {
	want := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2026-01-05T10:00:00.000+0000", want}, // REST API
		{"2026-01-05T10:00:00.000Z", want},     // Data Export
		{"2026-01-05 10:00:00", want},          // Fivetran
		{"2026-01-05T11:30:00+01:30", want},    // offset with a colon
		{"2026-01-05T05:00:00.000-0500", want}, // negative offset
		{"2026-01-05T10:00:00.123456Z", want.Add(123456 * time.Microsecond)},
		{"2026-01-05", time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)}, // a date: midnight UTC
		{"1767607200", want},                                        // epoch seconds, through extract.ParseTime
	} {
		got, err := parseTime(tc.in)
		require.NoError(t, err, tc.in)
		require.True(t, tc.want.Equal(got), "%s: %s", tc.in, got)
		require.Equal(t, time.UTC, got.Location())
	}
	for _, bad := range []string{"yesterday", "2026-02-30", "2026-13-01", "2026-01-05T25:00:00Z", "2026-01-05T10:00:00+2"} {
		_, err := parseTime(bad)
		require.Error(t, err, bad)
	}
}

func TestAPITextKeepsBadBytes(t *testing.T) {
	s, err := jsonText([]byte("\"Caf\xe9 GmbH\""))
	if err != nil {
		t.Fatal(err)
	}
	if extract.BadText("Name", s) == "" {
		t.Fatalf("%q: the bad byte must reach the text check, not become U+FFFD", s)
	}
	if s, _ := jsonText([]byte(`"Caf\u00e9"`)); s != "Café" {
		t.Fatalf("escapes of valid text are decoded: %q", s)
	}
}
