package hubspot

import (
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
)

// decodeObject parses one CRM v3 object into o (its properties map is reused). It
// returns a rejection reason when b is not one.
//
// encoding/json spends most of a large export's time validating every property
// value twice (once for the object, once in value.UnmarshalJSON); this scanner reads
// the few shapes a v3 object has in one pass. Anything it does not accept is handed
// to encoding/json, so the two agree on what is valid and the reasons are
// encoding/json's.
func decodeObject(b []byte, o *object) (reason string) {
	props, names := o.Properties, o.names
	clear(props)
	*o = object{Properties: props, names: names}
	d := objectDecoder{b: b}
	if d.object(o) == nil {
		return ""
	}
	*o = object{Properties: props, names: names}
	clear(props)
	if err := json.Unmarshal(b, o); err != nil {
		return "invalid JSON: " + err.Error()
	}
	return ""
}

// isField reports whether key names a field of object in another case.
func isField(key []byte) bool {
	for _, f := range []string{"id", "createdAt", "updatedAt", "archived", "properties", "propertiesWithHistory"} {
		if strings.EqualFold(string(key), f) {
			return true
		}
	}
	return false
}

// maxNames bounds the property names an object keeps for reuse (an account has a
// few thousand properties at most).
const maxNames = 1 << 14

// errSlow sends a record to encoding/json.
var errSlow = errors.New("not the fast path")

// objectDecoder scans one JSON text.
type objectDecoder struct {
	b []byte
	i int
}

func (d *objectDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// consume skips blanks and then byte c, if it is next.
func (d *objectDecoder) consume(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// object reads the top-level object into o.
func (d *objectDecoder) object(o *object) error {
	if !d.consume('{') {
		return errSlow
	}
	if !d.consume('}') {
		for {
			key, err := d.rawString()
			if err != nil || !d.consume(':') {
				return errSlow
			}
			switch string(key) {
			case "id":
				err = d.value(&o.ID)
			case "createdAt":
				err = d.value(&o.CreatedAt)
			case "updatedAt":
				err = d.value(&o.UpdatedAt)
			case "archived":
				o.Archived, err = d.boolean()
			case "properties":
				err = d.properties(o)
			case "propertiesWithHistory":
				err = d.histories(o)
			default:
				if isField(key) {
					return errSlow // encoding/json matches field names in any case
				}
				err = d.skip(0)
			}
			if err != nil {
				return err
			}
			if d.consume('}') {
				break
			}
			if !d.consume(',') {
				return errSlow
			}
		}
	}
	d.ws()
	if d.i != len(d.b) {
		return errSlow
	}
	return nil
}

// properties reads the properties object (or null).
func (d *objectDecoder) properties(o *object) error {
	if d.literal("null") {
		return nil
	}
	if !d.consume('{') {
		return errSlow
	}
	if o.Properties == nil {
		o.Properties = map[string]value{}
	}
	if d.consume('}') {
		return nil
	}
	for {
		key, err := d.rawString()
		if err != nil || !d.consume(':') {
			return errSlow
		}
		var v value
		if err := d.value(&v); err != nil {
			return err
		}
		name, ok := o.names[string(key)]
		if !ok {
			name = string(key)
			if o.names != nil && len(o.names) < maxNames {
				o.names[name] = name
			}
		}
		o.Properties[name] = v
		if d.consume('}') {
			return nil
		}
		if !d.consume(',') {
			return errSlow
		}
	}
}

// histories reads the propertiesWithHistory object (or null): per property, an
// array of {"value", "timestamp", ...} entries.
func (d *objectDecoder) histories(o *object) error {
	if d.literal("null") {
		return nil
	}
	if !d.consume('{') {
		return errSlow
	}
	if o.History == nil { // a repeated key adds to the map, as encoding/json does
		o.History = map[string][]historyEntry{}
	}
	if d.consume('}') {
		return nil
	}
	for {
		key, err := d.rawString()
		if err != nil || !d.consume(':') {
			return errSlow
		}
		var entries []historyEntry
		if !d.literal("null") {
			if !d.consume('[') {
				return errSlow
			}
			entries = []historyEntry{}
			if !d.consume(']') {
				for {
					var h historyEntry
					if err := d.historyEntry(&h); err != nil {
						return err
					}
					entries = append(entries, h)
					if d.consume(']') {
						break
					}
					if !d.consume(',') {
						return errSlow
					}
				}
			}
		}
		o.History[string(key)] = entries
		if d.consume('}') {
			return nil
		}
		if !d.consume(',') {
			return errSlow
		}
	}
}

// historyEntry reads one history entry, keeping its text.
func (d *objectDecoder) historyEntry(h *historyEntry) error {
	d.ws()
	start := d.i
	if !d.consume('{') {
		return errSlow
	}
	if !d.consume('}') {
		for {
			key, err := d.rawString()
			if err != nil || !d.consume(':') {
				return errSlow
			}
			switch string(key) {
			case "value":
				err = d.value(&h.Value)
			case "timestamp":
				err = d.value(&h.Timestamp)
			default:
				if strings.EqualFold(string(key), "value") || strings.EqualFold(string(key), "timestamp") {
					return errSlow
				}
				err = d.skip(0)
			}
			if err != nil {
				return err
			}
			if d.consume('}') {
				break
			}
			if !d.consume(',') {
				return errSlow
			}
		}
	}
	h.raw = append([]byte(nil), d.b[start:d.i]...)
	return nil
}

// value reads a string, null, number or boolean as value.UnmarshalJSON does.
func (d *objectDecoder) value(v *value) error {
	d.ws()
	if d.i >= len(d.b) {
		return errSlow
	}
	switch c := d.b[d.i]; {
	case c == '"':
		s, err := d.rawString()
		if err != nil {
			return err
		}
		*v = value{s: string(s), valid: true}
	case c == 'n':
		if !d.literal("null") {
			return errSlow
		}
		*v = value{}
	case c == 't' || c == 'f':
		start := d.i
		if _, err := d.boolean(); err != nil {
			return err
		}
		*v = value{s: string(d.b[start:d.i]), valid: true}
	case c == '-' || c >= '0' && c <= '9':
		start := d.i
		if err := d.number(); err != nil {
			return err
		}
		*v = value{s: string(d.b[start:d.i]), valid: true}
	default:
		return errSlow
	}
	return nil
}

// rawString reads a string without escapes and of valid UTF-8, returning its bytes;
// any other string goes the slow way.
func (d *objectDecoder) rawString() ([]byte, error) {
	if !d.consume('"') {
		return nil, errSlow
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if !utf8.Valid(s) {
				return nil, errSlow
			}
			return s, nil
		case c == '\\' || c < 0x20:
			return nil, errSlow
		}
		d.i++
	}
	return nil, errSlow
}

// literal consumes word if it is next.
func (d *objectDecoder) literal(word string) bool {
	d.ws()
	if len(d.b)-d.i >= len(word) && string(d.b[d.i:d.i+len(word)]) == word {
		d.i += len(word)
		return true
	}
	return false
}

// boolean reads true, false or null (false).
func (d *objectDecoder) boolean() (bool, error) {
	switch {
	case d.literal("true"):
		return true, nil
	case d.literal("false"), d.literal("null"):
		return false, nil
	}
	return false, errSlow
}

// number reads a JSON number.
func (d *objectDecoder) number() error {
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := func() int {
		n := 0
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	intStart := d.i
	if n := digits(); n == 0 || n > 1 && d.b[intStart] == '0' {
		return errSlow
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return errSlow
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return errSlow
		}
	}
	if d.i == start {
		return errSlow
	}
	return nil
}

// skip skips one JSON value of any kind.
func (d *objectDecoder) skip(depth int) error {
	if depth > 64 {
		return errSlow
	}
	d.ws()
	if d.i >= len(d.b) {
		return errSlow
	}
	switch d.b[d.i] {
	case '{', '[':
		open, end := d.b[d.i], byte('}')
		if open == '[' {
			end = ']'
		}
		d.i++
		if d.consume(end) {
			return nil
		}
		for {
			if open == '{' {
				if _, err := d.rawString(); err != nil || !d.consume(':') {
					return errSlow
				}
			}
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			if d.consume(end) {
				return nil
			}
			if !d.consume(',') {
				return errSlow
			}
		}
	default:
		var v value
		return d.value(&v)
	}
}
