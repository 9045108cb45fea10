// Package redact removes credentials from the specs and messages closedloop prints or
// stores: a warehouse or source spec in a log line, the run's summary on stdout,
// run_log's warehouse and inputs columns (which the LookML exposes), error messages.
//
// It knows the two ways a credential sits in a connection string: a URL's userinfo
// (postgres://user:PASSWORD@host/db) and a key=value pair (libpq's "password=...",
// a URL query's "?password=...", tokens and secrets named so). The value is replaced by
// Mask; the user name, host and everything else stay, so the message still says
// where the run went.
package redact

import (
	"regexp"
	"strings"
)

// Mask replaces a credential, as net/url's Redacted and pgx do.
const Mask = "xxxxx"

var (
	// userinfo: scheme://user:password@ — the password ends at the last "@" before the
	// host (a password may hold "@" when not escaped, as libpq accepts).
	userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@]*):([^\s/]*)@`)
	// keyValue: password=..., sslpassword=..., PGPASSWORD=..., token=..., secret=...,
	// api_key=..., client_secret=... (case-insensitive); the value is quoted (libpq
	// 'a b', "a b") or runs to a space, '&' or ';'.
	keyValue = regexp.MustCompile(`(?i)\b([a-z_]*(?:password|passwd|pwd|secret|token|api_?key))(\s*=\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s&;,'"]+)`)
)

// String returns s with every credential it recognizes replaced by Mask.
func String(s string) string {
	if !strings.ContainsAny(s, "=:") {
		return s
	}
	s = userinfo.ReplaceAllString(s, "${1}:"+Mask+"@")
	return keyValue.ReplaceAllStringFunc(s, func(m string) string {
		sub := keyValue.FindStringSubmatch(m)
		if sub[3] == Mask {
			return m
		}
		return sub[1] + sub[2] + Mask
	})
}

// Spec returns a source or warehouse spec (KIND:LOCATION) fit to print or store.
func Spec(spec string) string { return String(spec) }

// Specs redacts each spec of a list.
func Specs(specs []string) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = Spec(s)
	}
	return out
}
