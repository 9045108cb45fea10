package extract

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCookieID(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"1234567890.1712345678", "1234567890.1712345678", true},
		{"GA1.1.1234567890.1712345678", "1234567890.1712345678", true},
		{"GA1.2.1234567890.1712345678", "1234567890.1712345678", true},
		{"GA1.3.987.1712345678", "987.1712345678", true},
		{"  GA1.1.1234567890.1712345678 \n", "1234567890.1712345678", true},
		{`"GA1.1.1234567890.1712345678"`, "1234567890.1712345678", true},
		{"_ga=GA1.1.1234567890.1712345678", "1234567890.1712345678", true},
		{"", "", true},
		{"   ", "", true},
		// other analytics ids pass unchanged: Segment anonymousId, app instance ids, touch-log cookies
		{"507f191e-810c-19a7-29de-860ea5cf8a11", "507f191e-810c-19a7-29de-860ea5cf8a11", true},
		{"3f2a9c1b8e7d4f6a9b0c1d2e3f4a5b6c", "3f2a9c1b8e7d4f6a9b0c1d2e3f4a5b6c", true},
		{"00000FkCnDfDDf0iC97iC703B", "00000FkCnDfDDf0iC97iC703B", true},
		// a GA-looking prefix that is not followed by a client id is kept whole
		{"GA1.1.abcdefgh123", "GA1.1.abcdefgh123", true},
		// not a client id
		{"jane@example.com", "jane@example.com", false},
		{"GS1.1.1712345678.3.1.1712345999.0.0.0", "GS1.1.1712345678.3.1.1712345999.0.0.0", false},
		{"GS2.1.s1712345678$o3$g1$t1712345999$j60$l0$h0", "GS2.1.s1712345678$o3$g1$t1712345999$j60$l0$h0", false},
		{"not set yet", "not set yet", false},
		{"unknown", "unknown", false},
		{"n/a", "n/a", false},
		{"undefined", "undefined", false},
		{"12345", "12345", false},
		{"111.222", "111.222", true},
		{"GA1.1.111.222", "111.222", true},
	} {
		got, ok := CookieID(c.in)
		assert.Equal(t, c.want, got, c.in)
		assert.Equal(t, c.ok, ok, c.in)
	}
}

func FuzzCookieID(f *testing.F) {
	for _, s := range []string{"GA1.1.1.2", "GA1.1.1234567890.1712345678", "x@y", "GS1.1.1",
		"_ga=GA1.2.123.456", `"GA1.1.1234567890.1712345678"`, "12345678.caf\xe9", "1234.5678\x00", "unknown", "  "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := CookieID(s)
		if ok && BadText("cookie id", id) != "" {
			t.Fatalf("CookieID(%q) = %q, true: %s", s, id, BadText("cookie id", id))
		}
		if ok && id != "" {
			again, ok2 := CookieID(id)
			if !ok2 || again != id {
				t.Fatalf("CookieID(%q) = %q, but CookieID(%q) = %q, %v: not idempotent", s, id, id, again, ok2)
			}
		}
	})
}
