package synth

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// JSON is written by hand, field by field: the field order is part of the output's
// bytes, and encoding/json costs several times more per event at millions of events.

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			_, size := utf8.DecodeRuneInString(s[i:])
			b = append(b, s[i:i+size]...)
			i += size
			continue
		}
		i++
	}
	return append(b, '"')
}

// strParam appends a GA4 event parameter with a string value.
func strParam(b []byte, key, v string) []byte {
	b = append(b, `{"key":`...)
	b = appendJSONString(b, key)
	b = append(b, `,"value":{"string_value":`...)
	b = appendJSONString(b, v)
	return append(b, "}}"...)
}

// intParam appends a GA4 event parameter with an int value, as a string: BigQuery's
// JSON export writes INT64 that way.
func intParam(b []byte, key string, v int64) []byte {
	b = append(b, `{"key":`...)
	b = appendJSONString(b, key)
	b = append(b, `,"value":{"int_value":"`...)
	b = strconv.AppendInt(b, v, 10)
	return append(b, `"}}`...)
}

// object writes one JSON object with its keys in the order they are added.
type object struct {
	b   []byte
	any bool
}

func (o *object) key(k string) {
	if o.any {
		o.b = append(o.b, ',')
	} else {
		o.b = append(o.b, '{')
	}
	o.any = true
	o.b = appendJSONString(o.b, k)
	o.b = append(o.b, ':')
}

// str adds a string field.
func (o *object) str(k, v string) {
	o.key(k)
	o.b = appendJSONString(o.b, v)
}

// strOrNull adds a string field, null when v is "".
func (o *object) strOrNull(k, v string) {
	if v == "" {
		o.null(k)
		return
	}
	o.str(k, v)
}

// null adds a null field.
func (o *object) null(k string) {
	o.key(k)
	o.b = append(o.b, "null"...)
}

// raw adds a field whose value is already JSON.
func (o *object) raw(k, v string) {
	o.key(k)
	o.b = append(o.b, v...)
}

// close ends the object and returns the buffer.
func (o *object) close() []byte {
	if !o.any {
		o.b = append(o.b, '{')
	}
	o.b = append(o.b, '}')
	return o.b
}

// isoTime formats t (µs) as HubSpot does: 2026-01-05T10:00:00.000Z.
func isoTime(t int64) string {
	return time.UnixMicro(t).UTC().Format("2006-01-02T15:04:05.000Z")
}

// hubspotTime formats a date property: ISO, or epoch milliseconds (HubSpot returns
// both, depending on the property and the API).
func hubspotTime(t int64, epoch bool) string {
	if t == 0 {
		return ""
	}
	if epoch {
		return itoa(t / 1000)
	}
	return isoTime(t)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func lower(s string) string { return strings.ToLower(s) }
