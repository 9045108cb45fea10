package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestREADMEFirstHour: every closedloop run and check command of the README's "Your
// first hour" passes the command's configuration loader (flags, sources, warehouse),
// and the section shows the report's screenshot.
func TestREADMEFirstHour(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(b), "\n## Your first hour\n")
	require.True(t, ok, "README: no section \"Your first hour\"")
	section, _, _ = strings.Cut(section, "\n## ")
	require.Contains(t, section, "![closedloop report](docs/report.png)")
	for _, s := range settings() {
		t.Setenv(s.env, "")
		os.Unsetenv(s.env)
	}
	t.Setenv("CLOSEDLOOP_HUBSPOT_TOKEN", "pat-na1-from-the-environment")
	var cmds [][]string
	in := false
	var line string
	for _, l := range strings.Split(section, "\n") {
		switch {
		case l == "```sh":
			in = true
		case l == "```":
			in = false
		case in && strings.HasSuffix(l, "\\"):
			line += strings.TrimSuffix(l, "\\")
		case in:
			full := line + l
			line = ""
			if !strings.Contains(full, "closedloop run ") && !strings.Contains(full, "closedloop check ") {
				continue
			}
			full, _, _ = strings.Cut(full, " #") // a comment
			words := shellWords(t, full)
			for i, w := range words {
				if (w == "./closedloop" || w == "closedloop") && i+1 < len(words) {
					cmds = append(cmds, words[i+1:])
					break
				}
			}
		}
	}
	require.GreaterOrEqual(t, len(cmds), 5, "the section's closedloop commands")
	for _, c := range cmds {
		require.Contains(t, []string{"run", "check"}, c[0], c)
		_, err := loadConfig(c[0], c[1:], io.Discard)
		require.NoError(t, err, "README: closedloop %s", strings.Join(c, " "))
	}
}
