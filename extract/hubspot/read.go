package hubspot

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"closedloop/extract"
)

// checkEvery is how many lines go by between two looks at the context.
const checkEvery = 1024

// value is a HubSpot property value: a string or null. Numbers and booleans, which
// some exports write unquoted, are kept as their JSON text.
type value struct {
	s     string
	valid bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *value) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0 || string(b) == "null":
		*v = value{}
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = value{s: s, valid: true}
		return nil
	case b[0] == '{' || b[0] == '[':
		return fmt.Errorf("want a string, got %.40s", b)
	default:
		*v = value{s: string(b), valid: true}
		return nil
	}
}

// object is a CRM v3 object as the API returns it.
type object struct {
	ID         value            `json:"id"`
	Properties map[string]value `json:"properties"`
	CreatedAt  value            `json:"createdAt"`
	UpdatedAt  value            `json:"updatedAt"`
	Archived   bool             `json:"archived"`
}

// prop returns a property's value with surrounding blanks removed, "" when null or absent.
func (o *object) prop(name string) string {
	return strings.TrimSpace(o.Properties[name].s)
}

// badField is a property that could not be read: it becomes a rejection.
type badField struct {
	name string
	err  error
}

func (b *badField) Error() string { return fmt.Sprintf("property %s: %v", b.name, b.err) }

// times reads datetime properties, remembering the first failure.
type times struct {
	o   *object
	bad *badField
}

// get parses property name ("" or null is the zero time).
func (t *times) get(name string) time.Time {
	return t.parse(name, t.o.prop(name))
}

// parse parses s, the value of field name.
func (t *times) parse(name, s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	ts, err := extract.ParseTime(s)
	if err != nil {
		if t.bad == nil {
			t.bad = &badField{name: name, err: err}
		}
		return time.Time{}
	}
	return ts
}

// first returns the first non-empty of the properties names, parsed.
func (t *times) first(names ...string) time.Time {
	for _, n := range names {
		if s := t.o.prop(n); s != "" {
			return t.parse(n, s)
		}
	}
	return time.Time{}
}

// orTop falls back to a top-level field (createdAt, updatedAt) when ts is zero.
func (t *times) orTop(ts time.Time, name string, v value) time.Time {
	if !ts.IsZero() || t.bad != nil {
		return ts
	}
	return t.parse(name, strings.TrimSpace(v.s))
}

// lineReader reads an NDJSON file line by line. Lines longer than MaxLineBytes are
// returned cut, with long set, so the caller rejects them and reading goes on.
type lineReader struct {
	f    *os.File
	r    *bufio.Reader
	buf  []byte
	name string // file name, for locations
	n    int    // number of the line last returned
}

func openLines(dir, name string) (*lineReader, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	return &lineReader{f: f, r: bufio.NewReaderSize(f, 64<<10), name: name}, nil
}

// next returns the next line without its line end, valid until the following call.
// It returns io.EOF at the end.
func (l *lineReader) next() (line []byte, long bool, err error) {
	l.buf = l.buf[:0]
	started := false
	for {
		chunk, err := l.r.ReadSlice('\n')
		if len(chunk) > 0 {
			started = true
		}
		if err == nil && len(l.buf) == 0 && !long {
			line = chunk // the common case: the whole line sits in the reader's buffer
			break
		}
		if !long && len(l.buf)+len(chunk) > MaxLineBytes {
			long = true
			if len(l.buf) < extract.MaxRawBytes {
				l.buf = append(l.buf, chunk[:min(len(chunk), extract.MaxRawBytes-len(l.buf))]...)
			}
		} else if !long {
			l.buf = append(l.buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF {
			if !started {
				return nil, false, io.EOF
			}
			line = l.buf
			break
		}
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", l.name, err)
		}
		line = l.buf
		break
	}
	l.n++
	line = bytes.TrimRight(line, "\r\n")
	if l.n == 1 {
		line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
	}
	return line, long, nil
}

func (l *lineReader) Close() error { return l.f.Close() }

// location names line n of the reader's file, and the object when its id is known.
func (l *lineReader) location(kind, id string) string {
	loc := l.name + ":" + strconv.Itoa(l.n)
	if id != "" {
		loc += " (hubspot " + kind + " " + id + ")"
	}
	return loc
}

// raw returns a line for a rejection, cut to extract.MaxRawBytes.
func raw(line []byte) string {
	if len(line) > extract.MaxRawBytes {
		return string(line[:extract.MaxRawBytes]) + "…"
	}
	return string(line)
}

// eachLine calls fn for every non-blank line of file name. Overlong lines are
// rejected here.
func (e *Extractor) eachLine(ctx context.Context, w extract.Writer, name string, fn func(l *lineReader, line []byte) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l, err := openLines(e.cfg.Dir, name)
	if err != nil {
		return fmt.Errorf("%s: %w", e.cfg.Spec, err)
	}
	defer l.Close()
	for {
		line, long, err := l.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", e.cfg.Spec, err)
		}
		if l.n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if long {
			if err := e.reject(ctx, w, l.location("", ""), fmt.Sprintf("line longer than %d MiB: not a HubSpot object; check the export", MaxLineBytes>>20), line); err != nil {
				return err
			}
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := fn(l, line); err != nil {
			return err
		}
	}
}

// reject records one unusable line.
func (e *Extractor) reject(ctx context.Context, w extract.Writer, location, reason string, line []byte) error {
	return w.Reject(ctx, extract.Rejection{Input: e.cfg.Spec, Location: location, Reason: reason, Raw: raw(line)})
}

// decode parses one v3 object line. It returns a rejection reason when the line is
// not a usable object.
func decode(line []byte, o *object) (reason string) {
	*o = object{}
	if err := json.Unmarshal(line, o); err != nil {
		return "invalid JSON: " + err.Error()
	}
	return ""
}
