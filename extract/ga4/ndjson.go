package ga4

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// scanner decodes one NDJSON line of the export into fields without reflection: the
// values fields holds are decoded, every other value is only checked to be valid
// JSON. It reads BigQuery's JSON export (INT64 as strings, FLOAT64 as numbers, NaN and
// Infinity as strings, nulls written or left out) and also takes numbers for INT64 and
// numbers or booleans for STRING ids, as hand-made files write them. Object keys are
// matched exactly; a key given twice takes its last value, a record given twice
// merges, null leaves a value as it was, as with encoding/json.
//
// Decoded strings are views of the line, or of arena when they had escapes: valid
// until the next line. Unlike encoding/json, the scanner keeps invalid UTF-8 as it is
// rather than turn it into U+FFFD: the row is then rejected (extract.BadText), not
// loaded altered.
type scanner struct {
	b        []byte
	i        int
	depth    int
	arena    []byte
	msg      string // what is wrong, when a call returned false
	syntax   bool   // msg is a JSON syntax error, not a type mismatch
	isObject bool   // after decode: the line is a JSON object, an export row or not
	dirty    bool   // a string decoded had an escape or a byte beyond ASCII
}

// maxDepth is encoding/json's nesting limit, kept so both accept the same lines.
const maxDepth = 10000

// decode decodes line into f, which it resets first. It returns why the line is not
// a usable export row, or "".
func (s *scanner) decode(line []byte, f *fields) string {
	*s = scanner{b: line, arena: s.arena[:0]}
	f.reset()
	if s.row(f) {
		s.isObject = true
		f.clean = !s.dirty
		return ""
	}
	if s.syntax || !json.Valid(line) {
		s.isObject = false
		// encoding/json's message, for errors worded the same in every source.
		var v any
		var syn *json.SyntaxError
		if err := json.Unmarshal(line, &v); errors.As(err, &syn) {
			return fmt.Sprintf("invalid JSON: %v; each line must be one export row", err)
		}
		return fmt.Sprintf("invalid JSON: %s; each line must be one export row", s.msg)
	}
	return "not a GA4 export row: " + s.msg
}

// row decodes the line's one object.
func (s *scanner) row(f *fields) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] != '{' {
		c := s.b[s.i]
		return s.skip() && s.typeError("the line", c, "an object (one export row)")
	}
	s.isObject = s.i < len(s.b)
	ok := s.object("the line", func(key []byte) bool {
		switch string(key) {
		case "event_timestamp":
			return s.integer(&f.timestamp)
		case "event_name":
			return s.plain(&f.name, "event_name")
		case "user_pseudo_id":
			return s.text(&f.pseudoID, nil, "user_pseudo_id", nil)
		case "user_id":
			return s.text(&f.userID, nil, "user_id", nil)
		case "stream_id":
			return s.text(&f.streamID, nil, "stream_id", nil)
		case "event_params":
			return s.params(f)
		case "collected_traffic_source":
			return s.collected(&f.collected)
		case "session_traffic_source_last_click":
			return s.lastClick(&f.lastClick)
		case "ecommerce":
			return s.object("ecommerce", func(key []byte) bool {
				if string(key) == "purchase_revenue" {
					return s.float(&f.revenue)
				}
				return s.skip()
			})
		}
		return s.skip()
	})
	if !ok {
		return false
	}
	s.ws()
	if s.i < len(s.b) {
		return s.syntaxError("data after the row's closing brace")
	}
	return true
}

// params decodes event_params into f.params.
func (s *scanner) params(f *fields) bool {
	if s.null() {
		f.params = f.params[:0]
		return s.literal("null")
	}
	if s.i >= len(s.b) {
		return s.syntaxError("unexpected end of line")
	}
	if s.b[s.i] != '[' {
		return s.typeError("event_params", s.b[s.i], "an array of {key, value}")
	}
	f.params = f.params[:0]
	return s.array(func() bool {
		f.params = append(f.params, param{})
		p := &f.params[len(f.params)-1]
		return s.object("an event_params entry", func(key []byte) bool {
			switch string(key) {
			case "key":
				return s.plain(&p.key, "event_params key")
			case "value":
				return s.object("event_params value", func(key []byte) bool {
					switch string(key) {
					case "string_value":
						return s.text(&p.str, &p.hasStr, "event_params value string_value", nil)
					case "int_value":
						return s.integer(&p.int)
					case "float_value":
						return s.float(&p.float)
					case "double_value":
						return s.float(&p.double)
					}
					return s.skip()
				})
			}
			return s.skip()
		})
	})
}

// collected decodes collected_traffic_source into c.
func (s *scanner) collected(c *collected) bool {
	return s.object("collected_traffic_source", func(key []byte) bool {
		var dst *string
		switch string(key) {
		case "manual_source":
			dst = &c.source
		case "manual_medium":
			dst = &c.medium
		case "manual_campaign_name":
			dst = &c.campaign
		case "manual_term":
			dst = &c.term
		case "manual_content":
			dst = &c.content
		case "gclid":
			dst = &c.gclid
		case "dclid":
			dst = &c.dclid
		default:
			return s.skip()
		}
		return s.text(dst, nil, "collected_traffic_source.", key)
	})
}

// lastClick decodes session_traffic_source_last_click into lc.
func (s *scanner) lastClick(lc *lastClick) bool {
	const name = "session_traffic_source_last_click"
	return s.object(name, func(key []byte) bool {
		switch string(key) {
		case "manual_campaign":
			m := &lc.manual
			return s.object(name+".manual_campaign", func(key []byte) bool {
				var dst *string
				switch string(key) {
				case "source":
					dst = &m.source
				case "medium":
					dst = &m.medium
				case "campaign_name":
					dst = &m.campaign
				case "term":
					dst = &m.term
				case "content":
					dst = &m.content
				default:
					return s.skip()
				}
				return s.text(dst, nil, name+".manual_campaign.", key)
			})
		case "google_ads_campaign":
			return s.object(name+".google_ads_campaign", func(key []byte) bool {
				if string(key) == "campaign_name" {
					return s.text(&lc.ads.campaign, nil, name+".google_ads_campaign.campaign_name", nil)
				}
				return s.skip()
			})
		case "cross_channel_campaign":
			x := &lc.cross
			return s.object(name+".cross_channel_campaign", func(key []byte) bool {
				var dst *string
				switch string(key) {
				case "source":
					dst = &x.source
				case "medium":
					dst = &x.medium
				case "campaign_name":
					dst = &x.campaign
				default:
					return s.skip()
				}
				return s.text(dst, nil, name+".cross_channel_campaign.", key)
			})
		}
		return s.skip()
	})
}

// object decodes an object, calling member with each key, the scanner on its value;
// null is taken as an absent record. name is the object's name in error messages.
func (s *scanner) object(name string, member func(key []byte) bool) bool {
	if s.null() {
		return s.literal("null")
	}
	if s.i >= len(s.b) {
		return s.syntaxError("unexpected end of line")
	}
	if s.b[s.i] != '{' {
		return s.typeError(name, s.b[s.i], "an object")
	}
	if !s.enter() {
		return false
	}
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		s.depth--
		return true
	}
	for {
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.syntaxError("want an object key")
		}
		key, ok := s.str()
		if !ok {
			return false
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.syntaxError("want ':' after an object key")
		}
		s.i++
		s.ws()
		if !member(key) {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return s.syntaxError("unexpected end of line in an object")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
			s.ws()
		case '}':
			s.i++
			s.depth--
			return true
		default:
			return s.syntaxError("want ',' or '}' in an object")
		}
	}
}

// array decodes an array whose opening bracket is next, calling elem with the scanner
// on each element.
func (s *scanner) array(elem func() bool) bool {
	if !s.enter() {
		return false
	}
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		s.depth--
		return true
	}
	for {
		if !elem() {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return s.syntaxError("unexpected end of line in an array")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
			s.ws()
		case ']':
			s.i++
			s.depth--
			return true
		default:
			return s.syntaxError("want ',' or ']' in an array")
		}
	}
}

// enter steps into the object or array whose opening character is next.
func (s *scanner) enter() bool {
	s.i++
	if s.depth++; s.depth > maxDepth {
		return s.syntaxError("exceeded max depth")
	}
	return true
}

// plain decodes a string that must be one (event_name, a param key); null leaves dst.
func (s *scanner) plain(dst *string, name string) bool {
	switch {
	case s.null():
		return s.literal("null")
	case s.i < len(s.b) && s.b[s.i] == '"':
		v, ok := s.str()
		*dst = view(v)
		return ok
	case s.i < len(s.b):
		return s.typeError(name, s.b[s.i], "a string")
	}
	return s.syntaxError("unexpected end of line")
}

// text decodes a STRING column: a string, or a number or boolean as its text. null
// leaves dst; set, when given, tells whether a value was there. The column is named
// name + key in errors.
func (s *scanner) text(dst *string, set *bool, name string, key []byte) bool {
	if s.null() {
		return s.literal("null")
	}
	if s.i >= len(s.b) {
		return s.syntaxError("unexpected end of line")
	}
	var v []byte
	switch c := s.b[s.i]; c {
	case '"':
		var ok bool
		if v, ok = s.str(); !ok {
			return false
		}
	case '{', '[':
		return s.typeError(name+string(key), c, "a string")
	default:
		start := s.i
		if !s.skip() {
			return false
		}
		v = s.b[start:s.i]
	}
	*dst = view(v)
	if set != nil {
		*set = true
	}
	return true
}

// integer decodes an INT64 column: a number or a string holding one. Any other
// value is kept as bad, for the caller to reject the row if it needs the value.
func (s *scanner) integer(dst *intVal) bool {
	if s.null() {
		return s.literal("null")
	}
	raw, inner, ok := s.scalar()
	if !ok {
		return false
	}
	if v, ok := parseInt(view(inner)); ok {
		*dst = intVal{v: v, set: true}
	} else {
		*dst = intVal{bad: view(raw)}
	}
	return true
}

// float decodes a FLOAT64 column, as integer does.
func (s *scanner) float(dst *floatVal) bool {
	if s.null() {
		return s.literal("null")
	}
	raw, inner, ok := s.scalar()
	if !ok {
		return false
	}
	if v, ok := parseFloat(view(inner)); ok {
		*dst = floatVal{v: v, set: true}
	} else {
		*dst = floatVal{bad: view(raw)}
	}
	return true
}

// scalar skips the next value, returning its text and, for a string, its text
// between the quotes (escapes left as they are).
func (s *scanner) scalar() (raw, inner []byte, ok bool) {
	start := s.i
	if !s.skip() {
		return nil, nil, false
	}
	raw = s.b[start:s.i]
	inner = raw
	if len(raw) >= 2 && raw[0] == '"' {
		inner = raw[1 : len(raw)-1]
	}
	return raw, inner, true
}

// str decodes the string that starts at s.i.
func (s *scanner) str() ([]byte, bool) {
	s.i++ // the quote
	start := s.i
	plain := true // no escape
	for {
		b, i := s.b, s.i
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			if special(x)|x&hiBits != 0 {
				break
			}
			i += 8
		}
		for i < len(b) && plainByte[b[i]] {
			i++
		}
		s.i = i
		if i >= len(b) {
			return nil, s.syntaxError("unexpected end of line in a string")
		}
		switch c := b[i]; {
		case c == '"':
			v := b[start:i]
			s.i++
			if plain {
				return v, true
			}
			return s.unquote(v), true
		case c == '\\':
			plain, s.dirty = false, true
			if !s.escape() {
				return nil, false
			}
		case c < 0x20:
			return nil, s.syntaxError("control character in a string")
		default:
			s.dirty = true
			s.i++
		}
	}
}

// Bytes repeated over a word, for special.
const (
	loBits = 0x0101010101010101
	hiBits = 0x8080808080808080
)

// special tells whether one of the 8 bytes of x ends a string scan's fast path: a
// quote, a backslash or a control character (the classic has-zero-byte and
// has-less-than tests, exact for "any").
func special(x uint64) uint64 {
	q, b := x^(loBits*'"'), x^(loBits*'\\')
	return ((x-loBits*0x20)&^x | (q-loBits)&^q | (b-loBits)&^b) & hiBits
}

// plainByte marks the bytes a string scan steps over without a look: printable ASCII
// but the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// escape checks the escape sequence at s.i and steps over it.
func (s *scanner) escape() bool {
	if s.i+1 >= len(s.b) {
		return s.syntaxError("unexpected end of line in a string")
	}
	switch s.b[s.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.i += 2
		return true
	case 'u':
		if s.i+6 > len(s.b) {
			return s.syntaxError("unexpected end of line in a string")
		}
		for _, h := range s.b[s.i+2 : s.i+6] {
			if hexVal(h) < 0 {
				return s.syntaxError("bad \\u escape in a string")
			}
		}
		s.i += 6
		return true
	}
	return s.syntaxError("bad escape in a string")
}

// unquote decodes the checked contents of a string with escapes into the arena, as
// encoding/json does (a lone surrogate becomes U+FFFD), but for invalid UTF-8, kept
// as it is.
func (s *scanner) unquote(v []byte) []byte {
	start := len(s.arena)
	for r := 0; r < len(v); {
		c := v[r]
		switch {
		case c == '\\':
			switch v[r+1] {
			case 'b':
				s.arena = append(s.arena, '\b')
			case 'f':
				s.arena = append(s.arena, '\f')
			case 'n':
				s.arena = append(s.arena, '\n')
			case 'r':
				s.arena = append(s.arena, '\r')
			case 't':
				s.arena = append(s.arena, '\t')
			case 'u':
				rr := hex4(v[r+2:])
				r += 6
				if utf16.IsSurrogate(rr) {
					if r+6 <= len(v) && v[r] == '\\' && v[r+1] == 'u' {
						if dec := utf16.DecodeRune(rr, hex4(v[r+2:])); dec != unicode.ReplacementChar {
							s.arena = utf8.AppendRune(s.arena, dec)
							r += 6
							continue
						}
					}
					rr = unicode.ReplacementChar
				}
				s.arena = utf8.AppendRune(s.arena, rr)
				continue
			default: // " \ /
				s.arena = append(s.arena, v[r+1])
			}
			r += 2
		default:
			s.arena = append(s.arena, c)
			r++
		}
	}
	return s.arena[start:]
}

func hexVal(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

func hex4(b []byte) rune {
	return hexVal(b[0])<<12 | hexVal(b[1])<<8 | hexVal(b[2])<<4 | hexVal(b[3])
}

// skip steps over the next value, checking that it is valid JSON.
func (s *scanner) skip() bool {
	if s.i >= len(s.b) {
		return s.syntaxError("unexpected end of line")
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, ok := s.skipString()
		return ok
	case c == '{':
		return s.object("", func([]byte) bool { return s.skip() })
	case c == '[':
		return s.array(s.skip)
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	}
	return s.syntaxError(fmt.Sprintf("invalid character %q looking for a value", s.b[s.i]))
}

// skipString steps over a string without decoding it.
func (s *scanner) skipString() (int, bool) {
	s.i++
	for {
		b, i := s.b, s.i
		for i+8 <= len(b) && special(binary.LittleEndian.Uint64(b[i:])) == 0 {
			i += 8
		}
		for i < len(b) && (plainByte[b[i]] || b[i] >= utf8.RuneSelf) {
			i++
		}
		s.i = i
		if i >= len(b) {
			return 0, s.syntaxError("unexpected end of line in a string")
		}
		switch c := b[i]; {
		case c == '"':
			s.i++
			return s.i, true
		case c == '\\':
			if !s.escape() {
				return 0, false
			}
		default:
			return 0, s.syntaxError("control character in a string")
		}
	}
}

// number steps over a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return s.syntaxError("bad number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == d {
			return s.syntaxError("bad number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == d {
			return s.syntaxError("bad number")
		}
	}
	s.i = i
	return true
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.syntaxError("bad literal")
	}
	s.i += len(lit)
	return true
}

// null reports whether the next value is null (not stepping over it).
func (s *scanner) null() bool {
	return s.i < len(s.b) && s.b[s.i] == 'n'
}

func (s *scanner) ws() {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) syntaxError(msg string) bool {
	s.msg, s.syntax = fmt.Sprintf("%s at byte %d", msg, s.i+1), true
	return false
}

// typeError reports a value of the wrong JSON type; first is its first character.
func (s *scanner) typeError(name string, first byte, want string) bool {
	got := "a number"
	switch first {
	case '"':
		got = "a string"
	case '{':
		got = "an object"
	case '[':
		got = "an array"
	case 't', 'f':
		got = "a boolean"
	case 'n':
		got = "null"
	}
	s.msg = fmt.Sprintf("%s is %s, want %s", name, got, want)
	return false
}

// view returns b as a string without copying: b must not change while the string is
// in use (the line and the arena do not, until the next line).
func view(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
