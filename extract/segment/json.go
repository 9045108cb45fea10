package segment

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"closedloop/extract"
)

// The decoder below reads the few fields of an event the extractor needs in one pass
// over the line, checking the syntax of the rest as it skips it, without allocating.
// Measured on BenchmarkDecode's events: encoding/json into a struct (with extract/ga4's
// fast path for plain strings) decoded 100-130k events/s, this decoder 0.7-1.3M/s, which
// halves the time of the whole Extract. Its semantics are those of encoding/json
// decoding into map[string]any, which json_test.go checks by fuzzing: the same inputs
// are valid, keys match exactly, the last of duplicate keys wins, escapes decode the
// same way. Unlike encoding/json, invalid UTF-8 is kept as it is, not turned into
// U+FFFD: the mapping rejects an event whose text is not UTF-8 (extract.BadText),
// rather than load it altered.

// kind is the JSON type of a value the decoder met.
type kind uint8

const (
	absent  kind = iota // no such key, or null
	jString             // text is the decoded string
	jNumber             // text is the number as written
	jBool               // text is "true" or "false"
	jObject
	jArray
)

func (k kind) String() string {
	return [...]string{"absent", "a string", "a number", "a boolean", "an object", "an array"}[k]
}

// val is one decoded value: its kind, and its text for strings, numbers and booleans.
// text may share memory with the line: it is valid only until the line's buffer is
// reused (the next line read), and must be copied to be kept longer.
type val struct {
	kind kind
	text string
	bad  bool // a string that is no storable text (extract.BadText): invalid UTF-8, an escaped NUL
}

// alias returns b as a string without copying. Every value of an event goes into the
// Arrow builders (which copy) or into a rejection's reason (formatted anew) before
// the next line is read, so copying each into a string of its own first only fed the
// garbage collector: 12 allocations an event, a tenth of BenchmarkExtract's time.
func alias(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// message holds the fields of one event (or one {"batch":[...]} line) the mapping
// reads. Object-valued fields keep their kind, so that a string where the spec has an
// object is told apart from no value at all.
type message struct {
	typ, event, name                   val
	anonymousID, userID, previousID    val
	messageID, timestamp               val
	context, properties, traits, batch val

	ctx         contextFields
	props       propertyFields
	traitsEmail val

	elems [][2]int // offsets of batch's elements in the line
	snake bool     // a snake_case column of Segment's warehouse tables was seen
}

// contextFields is what is read of context. The *Obj fields hold the value of the key
// itself (an object, or what stands in its place).
type contextFields struct {
	campaignObj, pageObj, referrerObj, traitsObj val

	campaign campaignFields
	page     pageFields
	referrer referrerFields

	traitsEmail, sessionID val
}

type campaignFields struct{ source, medium, name, term, content val }

type pageFields struct{ url, title, referrer val }

type referrerFields struct{ url, link val }

type propertyFields struct {
	url, title, referrer            val
	revenue, total, value, currency val
	email, linkURL, fileURL         val
}

// maxDepth is encoding/json's nesting limit, kept so that both accept the same
// inputs; it also bounds the decoder's recursion.
const maxDepth = 10000

// syntaxError is a line that is not valid JSON.
type syntaxError struct {
	msg string
	off int // byte offset in the line
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at byte %d", e.msg, e.off) }

// decoder reads one JSON text.
type decoder struct {
	b     []byte
	i     int
	depth int
	buf   []byte // unescaped keys
	plain bool   // the last string read was ASCII without escapes
}

// decode reads line into m, which it resets (keeping the capacity of m.elems). It
// returns the kind of the top-level value; m is filled only for an object.
func decode(line []byte, m *message, d *decoder) (kind, error) {
	elems := m.elems[:0]
	*m = message{elems: elems}
	*d = decoder{b: line, buf: d.buf[:0]}
	d.ws()
	var top val
	var err error
	if d.i < len(d.b) && d.b[d.i] == '{' {
		top.kind = jObject
		err = d.object(m, topMember)
	} else {
		err = d.scalar(&top)
	}
	if err != nil {
		return absent, err
	}
	d.ws()
	if d.i < len(d.b) {
		return absent, d.errf("invalid character %s after top-level value", quoteChar(d.b[d.i]))
	}
	if top.kind == absent { // null
		return absent, nil
	}
	return top.kind, nil
}

func topMember(d *decoder, m *message, key []byte) error {
	switch string(key) {
	case "type":
		return d.scalar(&m.typ)
	case "event":
		return d.scalar(&m.event)
	case "name":
		return d.scalar(&m.name)
	case "anonymousId":
		return d.scalar(&m.anonymousID)
	case "userId":
		return d.scalar(&m.userID)
	case "previousId":
		return d.scalar(&m.previousID)
	case "messageId":
		return d.scalar(&m.messageID)
	case "timestamp":
		return d.scalar(&m.timestamp)
	case "context":
		m.ctx = contextFields{}
		return d.objectOr(&m.context, m, contextMember)
	case "properties":
		m.props = propertyFields{}
		return d.objectOr(&m.properties, m, propertyMember)
	case "traits":
		m.traitsEmail = val{}
		return d.objectOr(&m.traits, m, traitsMember)
	case "batch":
		m.elems = m.elems[:0]
		if d.peek() == '[' {
			m.batch.kind, m.batch.text = jArray, ""
			return d.elements(&m.elems)
		}
		return d.scalar(&m.batch)
	case "anonymous_id", "user_id", "message_id", "context_page_url", "received_at", "original_timestamp":
		m.snake = true
	}
	return d.skip()
}

func contextMember(d *decoder, m *message, key []byte) error {
	c := &m.ctx
	switch string(key) {
	case "campaign":
		c.campaign = campaignFields{}
		return d.objectOr(&c.campaignObj, m, campaignMember)
	case "page":
		c.page = pageFields{}
		return d.objectOr(&c.pageObj, m, pageMember)
	case "referrer":
		c.referrer = referrerFields{}
		return d.objectOr(&c.referrerObj, m, referrerMember)
	case "traits":
		c.traitsEmail = val{}
		return d.objectOr(&c.traitsObj, m, contextTraitsMember)
	case "sessionId":
		return d.scalar(&c.sessionID)
	}
	return d.skip()
}

func campaignMember(d *decoder, m *message, key []byte) error {
	c := &m.ctx.campaign
	switch string(key) {
	case "source":
		return d.scalar(&c.source)
	case "medium":
		return d.scalar(&c.medium)
	case "name":
		return d.scalar(&c.name)
	case "term":
		return d.scalar(&c.term)
	case "content":
		return d.scalar(&c.content)
	}
	return d.skip()
}

func pageMember(d *decoder, m *message, key []byte) error {
	p := &m.ctx.page
	switch string(key) {
	case "url":
		return d.scalar(&p.url)
	case "title":
		return d.scalar(&p.title)
	case "referrer":
		return d.scalar(&p.referrer)
	}
	return d.skip()
}

func referrerMember(d *decoder, m *message, key []byte) error {
	r := &m.ctx.referrer
	switch string(key) {
	case "url":
		return d.scalar(&r.url)
	case "link":
		return d.scalar(&r.link)
	}
	return d.skip()
}

func contextTraitsMember(d *decoder, m *message, key []byte) error {
	if string(key) == "email" {
		return d.scalar(&m.ctx.traitsEmail)
	}
	return d.skip()
}

func traitsMember(d *decoder, m *message, key []byte) error {
	if string(key) == "email" {
		return d.scalar(&m.traitsEmail)
	}
	return d.skip()
}

func propertyMember(d *decoder, m *message, key []byte) error {
	p := &m.props
	switch string(key) {
	case "url":
		return d.scalar(&p.url)
	case "title":
		return d.scalar(&p.title)
	case "referrer":
		return d.scalar(&p.referrer)
	case "revenue":
		return d.scalar(&p.revenue)
	case "total":
		return d.scalar(&p.total)
	case "value":
		return d.scalar(&p.value)
	case "currency":
		return d.scalar(&p.currency)
	case "email":
		return d.scalar(&p.email)
	case "link_url":
		return d.scalar(&p.linkURL)
	case "file_url":
		return d.scalar(&p.fileURL)
	}
	return d.skip()
}

// member reads the value of key, the decoder standing at the value.
type member func(d *decoder, m *message, key []byte) error

// objectOr reads an object through fn and records v as an object; any other value
// is read into v as by scalar.
func (d *decoder) objectOr(v *val, m *message, fn member) error {
	if d.peek() != '{' {
		return d.scalar(v)
	}
	*v = val{kind: jObject}
	return d.object(m, fn)
}

// object reads the object at d.i, calling fn for every member.
func (d *decoder) object(m *message, fn member) error {
	if err := d.enter(); err != nil {
		return err
	}
	d.i++ // {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		d.depth--
		return nil
	}
	for {
		d.ws()
		if d.i >= len(d.b) {
			return d.eof()
		}
		if d.b[d.i] != '"' {
			return d.errf("invalid character %s looking for beginning of object key string", quoteChar(d.b[d.i]))
		}
		key, err := d.strBytes(true)
		if err != nil {
			return err
		}
		d.ws()
		if d.i >= len(d.b) {
			return d.eof()
		}
		if d.b[d.i] != ':' {
			return d.errf("invalid character %s after object key", quoteChar(d.b[d.i]))
		}
		d.i++
		if err := fn(d, m, key); err != nil {
			return err
		}
		d.ws()
		if d.i >= len(d.b) {
			return d.eof()
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			d.depth--
			return nil
		default:
			return d.errf("invalid character %s after object key:value pair", quoteChar(d.b[d.i]))
		}
	}
}

// elements reads the array at d.i, appending the offsets of each element to spans.
func (d *decoder) elements(spans *[][2]int) error {
	if err := d.enter(); err != nil {
		return err
	}
	d.i++ // [
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		d.depth--
		return nil
	}
	for {
		d.ws()
		start := d.i
		if err := d.skip(); err != nil {
			return err
		}
		*spans = append(*spans, [2]int{start, d.i})
		d.ws()
		if d.i >= len(d.b) {
			return d.eof()
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			d.depth--
			return nil
		default:
			return d.errf("invalid character %s after array element", quoteChar(d.b[d.i]))
		}
	}
}

// scalar reads any value into v: strings, numbers and booleans with their text,
// objects and arrays (skipped) by kind only, null as absent.
func (d *decoder) scalar(v *val) error {
	d.ws()
	if d.i >= len(d.b) {
		return d.eof()
	}
	switch c := d.b[d.i]; {
	case c == '"':
		s, err := d.strBytes(false)
		if err != nil {
			return err
		}
		*v = val{kind: jString, text: alias(s)}
		v.bad = !d.plain && extract.BadText("", v.text) != ""
	case c == '-' || c >= '0' && c <= '9':
		start := d.i
		if err := d.number(); err != nil {
			return err
		}
		*v = val{kind: jNumber, text: alias(d.b[start:d.i])}
	case c == 't':
		*v = val{kind: jBool, text: "true"}
		return d.literal("true")
	case c == 'f':
		*v = val{kind: jBool, text: "false"}
		return d.literal("false")
	case c == 'n':
		*v = val{}
		return d.literal("null")
	case c == '{':
		*v = val{kind: jObject}
		return d.skip()
	case c == '[':
		*v = val{kind: jArray}
		return d.skip()
	default:
		return d.errf("invalid character %s looking for beginning of value", quoteChar(c))
	}
	return nil
}

// skip reads past any value, checking its syntax.
func (d *decoder) skip() error {
	d.ws()
	if d.i >= len(d.b) {
		return d.eof()
	}
	switch c := d.b[d.i]; {
	case c == '"':
		return d.skipString()
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '{':
		if err := d.enter(); err != nil {
			return err
		}
		d.i++
		d.ws()
		if d.i < len(d.b) && d.b[d.i] == '}' {
			d.i++
			d.depth--
			return nil
		}
		for {
			d.ws()
			if d.i >= len(d.b) {
				return d.eof()
			}
			if d.b[d.i] != '"' {
				return d.errf("invalid character %s looking for beginning of object key string", quoteChar(d.b[d.i]))
			}
			if err := d.skipString(); err != nil {
				return err
			}
			d.ws()
			if d.i >= len(d.b) {
				return d.eof()
			}
			if d.b[d.i] != ':' {
				return d.errf("invalid character %s after object key", quoteChar(d.b[d.i]))
			}
			d.i++
			if err := d.skip(); err != nil {
				return err
			}
			d.ws()
			if d.i >= len(d.b) {
				return d.eof()
			}
			switch d.b[d.i] {
			case ',':
				d.i++
			case '}':
				d.i++
				d.depth--
				return nil
			default:
				return d.errf("invalid character %s after object key:value pair", quoteChar(d.b[d.i]))
			}
		}
	case c == '[':
		if err := d.enter(); err != nil {
			return err
		}
		d.i++
		d.ws()
		if d.i < len(d.b) && d.b[d.i] == ']' {
			d.i++
			d.depth--
			return nil
		}
		for {
			if err := d.skip(); err != nil {
				return err
			}
			d.ws()
			if d.i >= len(d.b) {
				return d.eof()
			}
			switch d.b[d.i] {
			case ',':
				d.i++
			case ']':
				d.i++
				d.depth--
				return nil
			default:
				return d.errf("invalid character %s after array element", quoteChar(d.b[d.i]))
			}
		}
	default:
		return d.errf("invalid character %s looking for beginning of value", quoteChar(c))
	}
}

func (d *decoder) enter() error {
	if d.depth++; d.depth > maxDepth {
		return d.errf("exceeded max depth")
	}
	return nil
}

// peek returns the first byte of the next value, 0 at the end.
func (d *decoder) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) literal(lit string) error {
	for j := 0; j < len(lit); j++ {
		if d.i+j >= len(d.b) {
			d.i += j
			return d.eof()
		}
		if d.b[d.i+j] != lit[j] {
			d.i += j
			return d.errf("invalid character %s in literal %s", quoteChar(d.b[d.i]), lit)
		}
	}
	d.i += len(lit)
	return nil
}

// number reads past a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *decoder) number() error {
	if d.b[d.i] == '-' {
		d.i++
	}
	if d.i >= len(d.b) {
		return d.eof()
	}
	switch c := d.b[d.i]; {
	case c == '0':
		d.i++
	case c >= '1' && c <= '9':
		d.digits()
	default:
		return d.errf("invalid character %s in numeric literal", quoteChar(c))
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if d.i >= len(d.b) {
			return d.eof()
		}
		if c := d.b[d.i]; c < '0' || c > '9' {
			return d.errf("invalid character %s after decimal point in numeric literal", quoteChar(c))
		}
		d.digits()
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if d.i >= len(d.b) {
			return d.eof()
		}
		if c := d.b[d.i]; c < '0' || c > '9' {
			return d.errf("invalid character %s in exponent of numeric literal", quoteChar(c))
		}
		d.digits()
	}
	return nil
}

func (d *decoder) digits() {
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
}

// skipString reads past the string at d.i, checking its escapes.
func (d *decoder) skipString() error {
	i := d.i + 1
	for i < len(d.b) {
		switch c := d.b[i]; {
		case c == '"':
			d.i = i + 1
			return nil
		case c == '\\':
			n, err := d.escape(i)
			if err != nil {
				return err
			}
			i += n
		case c < 0x20:
			d.i = i
			return d.errf("invalid character %s in string literal", quoteChar(c))
		default:
			i++
		}
	}
	d.i = i
	return d.eof()
}

// escape checks the escape at b[i] (a backslash) and returns its length.
func (d *decoder) escape(i int) (int, error) {
	if i+1 >= len(d.b) {
		d.i = len(d.b)
		return 0, d.eof()
	}
	switch c := d.b[i+1]; c {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
		for j := i + 2; j < i+6; j++ {
			if j >= len(d.b) {
				d.i = len(d.b)
				return 0, d.eof()
			}
			if !isHex(d.b[j]) {
				d.i = j
				return 0, d.errf("invalid character %s in \\u hexadecimal character escape", quoteChar(d.b[j]))
			}
		}
		return 6, nil
	default:
		d.i = i + 1
		return 0, d.errf("invalid character %s in string escape code", quoteChar(c))
	}
}

// strBytes reads the string at d.i and returns its value: a slice of the line when
// it has no escape, else decoded into a new slice (into d.buf when scratch is set:
// valid until the next call). d.plain tells whether it was ASCII without escapes.
func (d *decoder) strBytes(scratch bool) ([]byte, error) {
	start := d.i + 1
	d.plain = false
	ascii := true
	for i := start; i < len(d.b); i++ {
		switch c := d.b[i]; {
		case c == '"':
			d.i = i + 1
			d.plain = ascii
			return d.b[start:i], nil
		case c == '\\':
			return d.unquote(start, scratch)
		case c < 0x20:
			d.i = i
			return nil, d.errf("invalid character %s in string literal", quoteChar(c))
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	d.i = len(d.b)
	return nil, d.eof()
}

// unquote decodes the string whose content starts at b[start] as encoding/json does
// (escapes, a lone or broken surrogate as U+FFFD), but for invalid UTF-8, kept as it is.
func (d *decoder) unquote(start int, scratch bool) ([]byte, error) {
	var out []byte
	if scratch {
		out = d.buf[:0]
	}
	i := start
	for i < len(d.b) {
		c := d.b[i]
		switch {
		case c == '"':
			d.i = i + 1
			if scratch {
				d.buf = out
			}
			return out, nil
		case c == '\\':
			n, err := d.escape(i)
			if err != nil {
				return nil, err
			}
			switch e := d.b[i+1]; e {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r := hex4(d.b[i+2 : i+6])
				if utf16.IsSurrogate(r) {
					if i+12 <= len(d.b) && d.b[i+6] == '\\' && d.b[i+7] == 'u' && allHex(d.b[i+8:i+12]) {
						if dec := utf16.DecodeRune(r, hex4(d.b[i+8:i+12])); dec != unicode.ReplacementChar {
							out = utf8.AppendRune(out, dec)
							i += 12
							continue
						}
					}
					r = unicode.ReplacementChar
				}
				out = utf8.AppendRune(out, r)
			default: // " \ /
				out = append(out, e)
			}
			i += n
		case c < 0x20:
			d.i = i
			return nil, d.errf("invalid character %s in string literal", quoteChar(c))
		default:
			out = append(out, c)
			i++
		}
	}
	d.i = len(d.b)
	return nil, d.eof()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func allHex(b []byte) bool {
	for _, c := range b {
		if !isHex(c) {
			return false
		}
	}
	return true
}

// hex4 reads four hex digits (checked by the caller).
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

func (d *decoder) eof() error {
	return &syntaxError{msg: "unexpected end of JSON input", off: len(d.b)}
}

func (d *decoder) errf(format string, args ...any) error {
	return &syntaxError{msg: fmt.Sprintf(format, args...), off: d.i}
}

// quoteChar renders c as encoding/json's errors do.
func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(c))
	return "'" + s[1:len(s)-1] + "'"
}
