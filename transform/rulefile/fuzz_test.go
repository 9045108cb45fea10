package rulefile

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

func TestScanRefusesBadText(t *testing.T) {
	err := Scan(strings.NewReader("# caf\xe9 in a comment is fine\nchannel: Caf\xe9\n"), "rules.txt", func(Line) error { return nil })
	require.ErrorContains(t, err, "rules.txt: line 2: the line is not valid UTF-8 (byte 0xe9 at offset 12)")
	err = Scan(strings.NewReader("a: b\x00\n"), "rules.txt", func(Line) error { return nil })
	require.ErrorContains(t, err, "rules.txt: line 1: the line holds a NUL byte at offset 4")
}

// seedFiles are the rules files of the repository, as fuzz seeds.
func seedFiles(f *testing.F) []string {
	var out []string
	for _, p := range []string{"../channel/testdata/rules.txt", "../../testdata/sample/personas.txt"} {
		if b, err := os.ReadFile(p); err == nil {
			out = append(out, string(b))
		}
	}
	return append(out, "\ufeff# c\n\nkey: value: more\nno colon\n  KEY :  x  \n", "a: b\x00\n", "channel: caf\xe9\n")
}

func FuzzScan(f *testing.F) {
	for _, s := range seedFiles(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		last := 0
		err := Scan(strings.NewReader(s), "f", func(l Line) error {
			require.Greater(t, l.N, last)
			last = l.N
			require.Empty(t, extract.BadText("line", l.Value), "%q", l.Value)
			require.Empty(t, extract.BadText("key", l.Key), "%q", l.Key)
			require.Equal(t, strings.TrimSpace(l.Key), l.Key)
			require.Equal(t, strings.ToLower(l.Key), l.Key)
			require.Equal(t, strings.TrimSpace(l.Value), l.Value)
			require.NotEmpty(t, l.Key+l.Value)
			require.False(t, l.Key == "" && strings.HasPrefix(l.Value, "#"))
			return nil
		})
		if err != nil {
			require.Contains(t, err.Error(), "f: line ")
		}
	})
}

func FuzzParseValues(f *testing.F) {
	for _, v := range []string{"a, b", `!""`, "~^brand", "!~(a|b", "", "!", "a,,b", `"", x`, "~", "~(?i)x{1000}"} {
		f.Add("source", v, true)
	}
	f.Fuzz(func(t *testing.T, key, value string, exprOK bool) {
		vs, err := ParseValues(key, value, exprOK, nil)
		if err != nil {
			require.Contains(t, err.Error(), key)
			return
		}
		require.True(t, (vs.Re == nil) != (vs.List == nil), "%+v", vs)
		if !exprOK {
			require.Nil(t, vs.Re)
		}
		for _, v := range vs.List {
			require.Equal(t, strings.ToLower(strings.TrimSpace(v)), v)
		}
		if vs.Re != nil {
			vs.Re.MatchString(value)
		}
	})
}
