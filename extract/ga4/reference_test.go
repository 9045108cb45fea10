package ga4

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// refDecode is the specification of the NDJSON decoder written with encoding/json:
// slow, but with encoding/json's grammar, string decoding and number parsing. It
// walks objects key by key (exact keys, the last of a repeated key winning, records
// merging) and decodes what fields holds with the rules of the scanner's doc. It
// returns "" for a usable line, "syntax" or "type".
func refDecode(line []byte, f *fields) string {
	*f = fields{}
	if !json.Valid(line) {
		return "syntax"
	}
	top := bytes.TrimSpace(line)
	if top[0] != '{' {
		return "type"
	}
	err := refObject(top, func(key string, v json.RawMessage) error {
		switch key {
		case "event_timestamp":
			f.timestamp = refInt(v, f.timestamp)
		case "event_name":
			return refPlain(v, &f.name)
		case "user_pseudo_id":
			return refText(v, &f.pseudoID, nil)
		case "user_id":
			return refText(v, &f.userID, nil)
		case "stream_id":
			return refText(v, &f.streamID, nil)
		case "event_params":
			if string(v) == "null" {
				f.params = nil
				return nil
			}
			var elems []json.RawMessage
			if err := json.Unmarshal(v, &elems); err != nil {
				return err
			}
			f.params = []param{}
			for _, e := range elems {
				var p param
				err := refObject(e, func(key string, v json.RawMessage) error {
					switch key {
					case "key":
						return refPlain(v, &p.key)
					case "value":
						return refObject(v, func(key string, v json.RawMessage) error {
							switch key {
							case "string_value":
								return refText(v, &p.str, &p.hasStr)
							case "int_value":
								p.int = refInt(v, p.int)
							case "float_value":
								p.float = refFloat(v, p.float)
							case "double_value":
								p.double = refFloat(v, p.double)
							}
							return nil
						})
					}
					return nil
				})
				if err != nil {
					return err
				}
				f.params = append(f.params, p)
			}
		case "collected_traffic_source":
			c := &f.collected
			return refStrings(v, map[string]*string{"manual_source": &c.source, "manual_medium": &c.medium,
				"manual_campaign_name": &c.campaign, "manual_term": &c.term, "manual_content": &c.content, "gclid": &c.gclid, "dclid": &c.dclid})
		case "session_traffic_source_last_click":
			lc := &f.lastClick
			return refObject(v, func(key string, v json.RawMessage) error {
				switch key {
				case "manual_campaign":
					m := &lc.manual
					return refStrings(v, map[string]*string{"source": &m.source, "medium": &m.medium, "campaign_name": &m.campaign,
						"term": &m.term, "content": &m.content})
				case "google_ads_campaign":
					return refStrings(v, map[string]*string{"campaign_name": &lc.ads.campaign})
				case "cross_channel_campaign":
					x := &lc.cross
					return refStrings(v, map[string]*string{"source": &x.source, "medium": &x.medium, "campaign_name": &x.campaign})
				}
				return nil
			})
		case "ecommerce":
			return refObject(v, func(key string, v json.RawMessage) error {
				if key == "purchase_revenue" {
					f.revenue = refFloat(v, f.revenue)
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return "type"
	}
	return ""
}

// refObject calls member for each key of the object v, in order; null is no object.
func refObject(v json.RawMessage, member func(key string, v json.RawMessage) error) error {
	if string(v) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("not an object: %.20s", v)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if err := member(tok.(string), raw); err != nil {
			return err
		}
	}
	return nil
}

func refStrings(v json.RawMessage, dst map[string]*string) error {
	return refObject(v, func(key string, v json.RawMessage) error {
		if d, ok := dst[key]; ok {
			return refText(v, d, nil)
		}
		return nil
	})
}

func refPlain(v json.RawMessage, dst *string) error {
	if string(v) == "null" {
		return nil
	}
	return json.Unmarshal(v, dst)
}

func refText(v json.RawMessage, dst *string, set *bool) error {
	switch {
	case string(v) == "null":
		return nil
	case v[0] == '"':
		if err := json.Unmarshal(v, dst); err != nil {
			return err
		}
	case v[0] == '{' || v[0] == '[':
		return fmt.Errorf("want a string")
	default:
		*dst = string(v)
	}
	if set != nil {
		*set = true
	}
	return nil
}

func refUnquote(v json.RawMessage) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return string(v[1 : len(v)-1])
	}
	return string(v)
}

func refInt(v json.RawMessage, old intVal) intVal {
	if string(v) == "null" {
		return old
	}
	if n, ok := parseInt(refUnquote(v)); ok {
		return intVal{v: n, set: true}
	}
	return intVal{bad: string(v)}
}

func refFloat(v json.RawMessage, old floatVal) floatVal {
	if string(v) == "null" {
		return old
	}
	if x, ok := parseFloat(refUnquote(v)); ok {
		return floatVal{v: x, set: true}
	}
	return floatVal{bad: string(v)}
}

// checkAgainstReference decodes line with the scanner and the reference and fails
// on any difference: usable or not, syntax or type error, every field.
func checkAgainstReference(t *testing.T, line []byte) {
	var got, want fields
	var s scanner
	reason := s.decode(line, &got)
	kind := refDecode(line, &want)
	gotKind := ""
	switch {
	case strings.HasPrefix(reason, "invalid JSON"):
		gotKind = "syntax"
	case reason != "":
		gotKind = "type"
	}
	require.Equal(t, kind, gotKind, "line %q: reason %q", line, reason)
	if kind != "" {
		return
	}
	if len(got.params) == 0 && len(want.params) == 0 {
		got.params, want.params = nil, nil
	}
	asJSON(&got)
	// Compare floats by their bits: NaN is not equal to itself.
	norm := func(f *fields) string { return fmt.Sprintf("%#v", *f) }
	require.Equal(t, norm(&want), norm(&got), "line %q", line)
}

// asJSON turns every byte of invalid UTF-8 in f's strings into U+FFFD, as
// encoding/json decodes them: the scanner keeps them for the rules to reject. It
// drops the scanner's note that the strings are clean, which the reference has not.
func asJSON(f *fields) {
	f.clean = false
	fix := func(s *string) {
		if !utf8.ValidString(*s) {
			var b []byte
			for _, r := range *s {
				b = utf8.AppendRune(b, r)
			}
			*s = string(b)
		}
	}
	c, m, x := &f.collected, &f.lastClick.manual, &f.lastClick.cross
	for _, s := range []*string{&f.name, &f.pseudoID, &f.userID, &f.streamID,
		&c.source, &c.medium, &c.campaign, &c.term, &c.content, &c.gclid, &c.dclid,
		&m.source, &m.medium, &m.campaign, &m.term, &m.content, &f.lastClick.ads.campaign,
		&x.source, &x.medium, &x.campaign} {
		fix(s)
	}
	for i := range f.params {
		fix(&f.params[i].key)
		fix(&f.params[i].str)
	}
}

// refCorpus are lines that probe the grammar and the decoding rules.
var refCorpus = []string{
	`{}`, `[]`, `null`, `"x"`, `5`, `{"a":1}x`, `{"a":1}{}`, `{"a" 1}`, `{"a":}`, `{"a":1,}`, `{,}`, `{"a":[1,]}`,
	`{"a":[1 2]}`, `{"a":tru}`, `{"a":nul}`, `{"a":-}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":1e+}`,
	`{"a":-0.0e-0}`, `{"a":"\q"}`, `{"a":"\u12"}`, `{"a":"\u12G4"}`, "{\"a\":\"\x01\"}", `{"a":"\/\b\f\n\r\t\"\\"}`,
	`{"event_name":"a\u0000b","user_pseudo_id":"\ud800\udc00\udc00\ud800x"}`, "{\"event_name\":\"\xc3\x28\xe2\x82\"}",
	`{"event_timestamp":"1767603600123456","event_timestamp":null}`, `{"event_timestamp":"x","event_timestamp":"1"}`,
	`{"event_timestamp":{"a":[1,{"b":null}]}}`, `{"event_timestamp":[1]}`, `{"event_timestamp":true}`,
	`{"event_timestamp":"\u0031"}`, `{"event_timestamp":1e400}`, `{"event_timestamp":-9223372036854775808}`,
	`{"event_timestamp":9223372036854775808}`, `{"event_timestamp":"+5"}`, `{"event_timestamp":" 5"}`,
	`{"user_id":true,"user_pseudo_id":-1.5e3,"stream_id":null}`, `{"user_id":{}}`, `{"user_id":[]}`,
	`{"event_name":null}`, `{"event_name":1}`, `{"event_name":"x","event_name":"\u00e9"}`,
	`{"event_params":null}`, `{"event_params":{}}`, `{"event_params":[null,{},{"key":null,"value":null}]}`,
	`{"event_params":[{"key":"a","value":{"string_value":null,"int_value":null,"float_value":null,"double_value":null}}]}`,
	`{"event_params":[{"key":"a","value":{"string_value":"","int_value":"7","double_value":"NaN","float_value":"-Infinity"}}]}`,
	`{"event_params":[{"key":"a","value":{"int_value":"7"},"value":{"string_value":"s"}}]}`,
	`{"event_params":[{"key":"a","value":{"int_value":1.5}}],"event_params":[{"key":"b"}]}`,
	`{"event_params":[{"key":1}]}`, `{"event_params":[{"value":[]}]}`, `{"event_params":[[]]}`, `{"event_params":"x"}`,
	`{"collected_traffic_source":{"manual_source":"a"},"collected_traffic_source":{"manual_medium":"b"}}`,
	`{"collected_traffic_source":{"manual_source":"a"},"collected_traffic_source":null}`,
	`{"collected_traffic_source":{"gclid":{}}}`, `{"collected_traffic_source":[]}`,
	`{"session_traffic_source_last_click":{"manual_campaign":{"source":1},"google_ads_campaign":null,"cross_channel_campaign":{"campaign_name":"c"}}}`,
	`{"session_traffic_source_last_click":{"google_ads_campaign":"x"}}`,
	`{"ecommerce":{"purchase_revenue":"1,5"}}`, `{"ecommerce":{"purchase_revenue":[1]}}`, `{"ecommerce":5}`,
	`{"EVENT_NAME":"x","Event_Params":[]}`, `  {"a":[{"b":[[[]]]}]}  `, "\t{\"a\" :\r\n1 }",
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001), `{"a":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
	`{"a":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
}

// TestScannerMatchesReference runs the scanner and the reference over the fixture,
// the corpus and every line of the line tests.
func TestScannerMatchesReference(t *testing.T) {
	data, err := os.ReadFile(fixture)
	require.NoError(t, err)
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	for _, c := range refCorpus {
		lines = append(lines, []byte(c))
	}
	for i, l := range lines {
		t.Run(strconv.Itoa(i), func(t *testing.T) { checkAgainstReference(t, l) })
	}
}

// FuzzScanner looks for lines the scanner and the reference decode differently, and
// checks what the rules make of them (checkLine):
// go test ./extract/ga4 -run '^$' -fuzz FuzzScanner -fuzztime 1m
func FuzzScanner(f *testing.F) {
	data, err := os.ReadFile(fixture)
	require.NoError(f, err)
	for _, l := range bytes.Split(data, []byte("\n")) {
		f.Add(l)
	}
	for _, c := range refCorpus {
		f.Add([]byte(c))
	}
	for _, l := range badLines() {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if len(bytes.TrimSpace(line)) == 0 || bytes.ContainsAny(line, "\n") {
			return // the line splitter's business
		}
		checkAgainstReference(t, line)
		checkLine(t, line)
	})
}
