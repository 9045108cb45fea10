package hubspot

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"closedloop/extract"
)

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
		if !utf8.Valid(b) {
			// encoding/json made U+FFFD of the bad bytes: keep the string as it came
			// (escapes and all), for the text check to refuse the row.
			s = string(b[1 : len(b)-1])
		}
		*v = value{s: s, valid: true}
		return nil
	case b[0] == '{' || b[0] == '[':
		return fmt.Errorf("want a string, got %.40q", b)
	default:
		*v = value{s: string(b), valid: true}
		return nil
	}
}

// str returns the value with surrounding blanks removed, "" when null.
func (v value) str() string { return strings.TrimSpace(v.s) }

// object is a CRM v3 object as the API returns it. The Fivetran layout is mapped
// onto it too, so that every layout goes through the same rules.
type object struct {
	ID         value            `json:"id"`
	Properties map[string]value `json:"properties"`
	CreatedAt  value            `json:"createdAt"`
	UpdatedAt  value            `json:"updatedAt"`
	Archived   bool             `json:"archived"`
	// History holds the propertiesWithHistory the request asked for (deals:
	// dealstage), newest first as HubSpot returns them.
	History map[string][]historyEntry `json:"propertiesWithHistory"`

	names map[string]string // property names seen, when the object is reused: see reusable
}

// historyEntry is one value a property had: {"value", "timestamp", "sourceType", ...}.
type historyEntry struct {
	Value     value
	Timestamp value
	raw       []byte // the entry as written, for rejections
}

// UnmarshalJSON implements json.Unmarshaler, keeping the entry as written.
func (h *historyEntry) UnmarshalJSON(b []byte) error {
	var e struct {
		Value     value `json:"value"`
		Timestamp value `json:"timestamp"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return err
	}
	*h = historyEntry{Value: e.Value, Timestamp: e.Timestamp, raw: append([]byte(nil), b...)}
	return nil
}

// reusable returns an object to decode many records into, one after the other: its
// properties map and property names are allocated once.
func reusable() object {
	return object{Properties: map[string]value{}, names: map[string]string{}}
}

// prop returns a property's value with surrounding blanks removed, "" when null or absent.
func (o *object) prop(name string) string {
	return strings.TrimSpace(o.Properties[name].s)
}

// badProps says why one of the properties names cannot be stored as text, "" when
// all can. Check values before changing them: strings.ToLower turns bad bytes into
// U+FFFD.
func (o *object) badProps(names ...string) string {
	for _, n := range names {
		if reason := extract.BadText("property "+n, o.prop(n)); reason != "" {
			return reason
		}
	}
	return ""
}

// propTypes maps property names to their declared HubSpot type (datetime, date,
// number, string, enumeration, bool), as GET /crm/v3/properties/{object} lists them.
// A nil map means the types are unknown: values are then told apart by their shape.
type propTypes map[string]string

// propertiesDoc is the GET /crm/v3/properties/{object} response.
type propertiesDoc struct {
	Results []struct {
		Name value `json:"name"`
		Type value `json:"type"`
	} `json:"results"`
}

// types returns the declared types of a properties response.
func (d *propertiesDoc) types() propTypes {
	t := propTypes{}
	for _, p := range d.Results {
		if n := p.Name.str(); n != "" {
			t[n] = strings.ToLower(p.Type.str())
		}
	}
	return t
}

// badField is a property that could not be read: it becomes a rejection.
type badField struct {
	name string
	err  error
}

func (b *badField) Error() string { return fmt.Sprintf("property %s: %v", b.name, b.err) }

// times reads datetime properties of one object, remembering the first failure.
type times struct {
	o     *object
	types propTypes
	bad   *badField
}

// get parses property name ("" or null is the zero time).
func (t *times) get(name string) time.Time {
	return t.parse(name, t.types[name], t.o.prop(name))
}

// parse parses s, the value of field name of declared type typ ("" when unknown).
func (t *times) parse(name, typ, s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	ts, err := parseTime(typ, s)
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
			return t.parse(n, t.types[n], s)
		}
	}
	return time.Time{}
}

// orTop falls back to a top-level field (createdAt, updatedAt) when ts is zero.
func (t *times) orTop(ts time.Time, name string, v value) time.Time {
	if !ts.IsZero() || t.bad != nil {
		return ts
	}
	return t.parse(name, "datetime", v.str())
}

// parseTime reads a HubSpot date or datetime value by its declared type. HubSpot
// sends datetime and date properties as ISO-8601 strings in the v3 API and as epoch
// milliseconds in exports and older APIs: digits are milliseconds for both types
// (never seconds, whatever their size), and a date is the UTC day. With no declared
// type, extract.ParseTime tells the forms apart by shape and magnitude.
func parseTime(typ, s string) (time.Time, error) {
	switch typ {
	case "datetime", "date":
		var ts time.Time
		if ms, ok := digits(s); ok {
			ts = time.UnixMilli(ms).UTC()
		} else {
			var err error
			if ts, err = isoTime(s); err != nil {
				return time.Time{}, err
			}
		}
		if typ == "date" {
			ts = ts.Truncate(24 * time.Hour)
		}
		return ts, nil
	case "", "string":
		if _, ok := digits(s); ok {
			return extract.ParseTime(s)
		}
		return isoTime(s)
	default:
		return time.Time{}, fmt.Errorf("%q: the property is declared %s, not a date", s, typ)
	}
}

// warehouseLayout is the form warehouses (Fivetran) write timestamps in: UTC,
// without zone.
const warehouseLayout = "2006-01-02 15:04:05.999999999"

// isoTime reads an RFC 3339 time, the v3 API's form, and a warehouse timestamp
// directly; other forms go through extract.ParseTime, which reads those two the same
// way, after failed tries that cost an error each.
func isoTime(s string) (time.Time, error) {
	layout := time.RFC3339Nano
	if len(s) > 10 && s[10] == ' ' {
		layout = warehouseLayout
	}
	if t, err := time.Parse(layout, s); err == nil {
		return t.UTC(), nil
	}
	return extract.ParseTime(s)
}

// digits reads s as a signed integer when it is nothing else.
func digits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && !(i == 0 && c == '-' && len(s) > 1) {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
