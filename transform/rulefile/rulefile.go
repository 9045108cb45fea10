// Package rulefile reads the line format of closedloop's rules files (channel rules,
// persona rules): UTF-8 text, one "key: value" per line, blank lines and lines starting
// with "#" ignored, an optional byte-order mark; and their conditions' values: a list,
// an expression, negated or not. What the keys mean is the caller's.
package rulefile

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"

	"closedloop/extract"
)

// Line is one line of a rules file that is neither blank nor a comment.
type Line struct {
	N     int    // line number, from 1
	Key   string // lower-cased and trimmed; "" when the line has no ":" or nothing before it
	Value string // trimmed; the whole line when Key is ""
}

// Scan calls fn for every line of r that is neither blank nor a comment, in order, and
// stops at fn's first error, which it returns as is. A read error (a line longer than
// 1 MiB) and a line that is not text (not UTF-8, or holding a NUL byte: its names
// could not be stored) are returned naming name and the line.
func Scan(r io.Reader, name string, fn func(Line) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		text := sc.Text()
		if n == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		text = strings.TrimSpace(text)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if reason := extract.BadText("the line", text); reason != "" {
			return fmt.Errorf("%s: line %d: %s", name, n, strings.Replace(reason, "re-export the file", "save the file", 1))
		}
		l := Line{N: n, Value: text}
		if key, value, ok := strings.Cut(text, ":"); ok && strings.TrimSpace(key) != "" {
			l.Key, l.Value = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(value)
		}
		if err := fn(l); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: line %d: %w", name, n+1, err)
	}
	return nil
}

// Values is the value of a condition: a list of exact values, lower-cased ("" is the
// empty value), or a regular expression matched ignoring case; Negate when the value
// was written with "!" in front.
type Values struct {
	Negate bool
	List   []string
	Re     *regexp.Regexp
}

// ParseValues reads the value of condition key: "!" in front negates it, "~" and an
// RE2 expression is a regular expression (refused unless exprOK), else a
// comma-separated list in which `""` is the empty value. item, when not nil, checks
// and rewrites each lower-cased list item (the empty one included). Errors name key and
// say what to write.
func ParseValues(key, value string, exprOK bool, item func(string) (string, error)) (Values, error) {
	var vs Values
	if rest, ok := strings.CutPrefix(value, "!"); ok {
		vs.Negate, value = true, strings.TrimSpace(rest)
	}
	if value == "" {
		return vs, fmt.Errorf("%s has no value: write a value, a list (a, b), \"\" for empty, or ~EXPRESSION", key)
	}
	if expr, ok := strings.CutPrefix(value, "~"); ok {
		if !exprOK {
			return vs, fmt.Errorf("%s takes a list of names, not an expression", key)
		}
		re, err := regexp.Compile("(?i)" + strings.TrimSpace(expr))
		if err != nil {
			return vs, fmt.Errorf("%s: bad regular expression %q: %v", key, expr, err)
		}
		vs.Re = re
		return vs, nil
	}
	for _, v := range strings.Split(value, ",") {
		v = strings.ToLower(strings.TrimSpace(v))
		switch {
		case v == `""`:
			v = ""
		case v == "":
			return vs, fmt.Errorf("%s: empty item in %q: write \"\" for the empty value", key, value)
		}
		if item != nil {
			var err error
			if v, err = item(v); err != nil {
				return vs, err
			}
		}
		vs.List = append(vs.List, v)
	}
	return vs, nil
}
