// Package rulefile reads the line format of closedloop's rules files (channel rules,
// persona rules): UTF-8 text, one "key: value" per line, blank lines and lines starting
// with "#" ignored, an optional byte-order mark. What the keys mean is the caller's.
package rulefile

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Line is one line of a rules file that is neither blank nor a comment.
type Line struct {
	N     int    // line number, from 1
	Key   string // lower-cased and trimmed; "" when the line has no ":"
	Value string // trimmed; the whole line when it has no ":"
}

// Scan calls fn for every line of r that is neither blank nor a comment, in order, and
// stops at fn's first error, which it returns as is. A read error (a line longer than
// 1 MiB) is returned naming name and the line.
func Scan(r io.Reader, name string, fn func(Line) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		text := strings.TrimSpace(sc.Text())
		if n == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		l := Line{N: n, Value: text}
		if key, value, ok := strings.Cut(text, ":"); ok {
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
