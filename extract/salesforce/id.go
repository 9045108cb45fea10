package salesforce

import (
	"fmt"
	"strings"
)

// suffixChars maps five case bits to one character of an 18-character id's suffix.
const suffixChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

// ID18 returns the 18-character, case-insensitive form of a Salesforce id: a
// 15-character id gets the three-character suffix that encodes the case of its
// letters (the CASESAFEID algorithm: each suffix character holds the upper-case bits
// of five characters, first character lowest); an 18-character id is checked against
// its suffix and returned with the suffix in upper case. An 18-character id whose
// letters were all lower- or all upper-cased by another system gets its case back
// from the suffix. Anything else is an error saying what is wrong.
func ID18(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) != 15 && len(s) != 18 {
		return "", fmt.Errorf("id %q has %d characters: a Salesforce id has 15 or 18", s, len(s))
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return "", fmt.Errorf("id %q: a Salesforce id holds only letters and digits", s)
		}
	}
	head := s[:15]
	sum := suffixOf(head)
	want := sum[:]
	if len(s) == 15 {
		return head + string(want), nil
	}
	got := strings.ToUpper(s[15:])
	if got == string(want) {
		if got == s[15:] { // already in its 18-character form: no copy
			return s, nil
		}
		return head + got, nil
	}
	if restored, ok := restoreCase(head, got); ok {
		return restored + got, nil
	}
	return "", fmt.Errorf("id %q: its last 3 characters do not match the first 15 (a truncated, mistyped or hand-edited id)", s)
}

// suffix computes the three suffix characters of a 15-character id.
func suffix(head string) string {
	out := suffixOf(head)
	return string(out[:])
}

// suffixOf is suffix without an allocation.
func suffixOf(head string) [3]byte {
	var out [3]byte
	for chunk := 0; chunk < 3; chunk++ {
		bits := 0
		for j := 0; j < 5; j++ {
			if c := head[chunk*5+j]; c >= 'A' && c <= 'Z' {
				bits |= 1 << j
			}
		}
		out[chunk] = suffixChars[bits]
	}
	return out
}

// restoreCase rebuilds the case of head from suffix suf, when head's letters are all
// of one case (the case was lost, not changed letter by letter). ok is false when the
// suffix contradicts head.
func restoreCase(head, suf string) (string, bool) {
	hasLower, hasUpper := false, false
	for i := 0; i < len(head); i++ {
		hasLower = hasLower || head[i] >= 'a' && head[i] <= 'z'
		hasUpper = hasUpper || head[i] >= 'A' && head[i] <= 'Z'
	}
	if hasLower && hasUpper {
		return "", false
	}
	b := []byte(head)
	for i := range b {
		bits := strings.IndexByte(suffixChars, suf[i/5])
		if bits < 0 {
			return "", false
		}
		upper := bits>>(i%5)&1 == 1
		switch c := b[i]; {
		case c >= '0' && c <= '9':
			if upper {
				return "", false
			}
		case upper:
			b[i] = c &^ 0x20
		default:
			b[i] = c | 0x20
		}
	}
	out := string(b)
	return out, suffix(out) == suf
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// Key prefixes of the objects whose ids this package tells apart.
const (
	prefixLead        = "00Q"
	prefixContact     = "003"
	prefixOpportunity = "006"
	prefixAccount     = "001"
)

// personType is the bridge_identity type of a lead or contact id, "" for any other.
func personType(id string) string {
	switch {
	case strings.HasPrefix(id, prefixLead):
		return "salesforce_lead"
	case strings.HasPrefix(id, prefixContact):
		return "salesforce_contact"
	}
	return ""
}
