package segment

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// fields lists every value the decoder keeps, by its path in the event.
var fields = []struct {
	path []string
	get  func(m *message) val
}{
	{[]string{"type"}, func(m *message) val { return m.typ }},
	{[]string{"event"}, func(m *message) val { return m.event }},
	{[]string{"name"}, func(m *message) val { return m.name }},
	{[]string{"anonymousId"}, func(m *message) val { return m.anonymousID }},
	{[]string{"userId"}, func(m *message) val { return m.userID }},
	{[]string{"previousId"}, func(m *message) val { return m.previousID }},
	{[]string{"messageId"}, func(m *message) val { return m.messageID }},
	{[]string{"timestamp"}, func(m *message) val { return m.timestamp }},
	{[]string{"batch"}, func(m *message) val { return m.batch }},
	{[]string{"context"}, func(m *message) val { return m.context }},
	{[]string{"context", "campaign"}, func(m *message) val { return m.ctx.campaignObj }},
	{[]string{"context", "campaign", "source"}, func(m *message) val { return m.ctx.campaign.source }},
	{[]string{"context", "campaign", "medium"}, func(m *message) val { return m.ctx.campaign.medium }},
	{[]string{"context", "campaign", "name"}, func(m *message) val { return m.ctx.campaign.name }},
	{[]string{"context", "campaign", "term"}, func(m *message) val { return m.ctx.campaign.term }},
	{[]string{"context", "campaign", "content"}, func(m *message) val { return m.ctx.campaign.content }},
	{[]string{"context", "page"}, func(m *message) val { return m.ctx.pageObj }},
	{[]string{"context", "page", "url"}, func(m *message) val { return m.ctx.page.url }},
	{[]string{"context", "page", "title"}, func(m *message) val { return m.ctx.page.title }},
	{[]string{"context", "page", "referrer"}, func(m *message) val { return m.ctx.page.referrer }},
	{[]string{"context", "referrer"}, func(m *message) val { return m.ctx.referrerObj }},
	{[]string{"context", "referrer", "url"}, func(m *message) val { return m.ctx.referrer.url }},
	{[]string{"context", "referrer", "link"}, func(m *message) val { return m.ctx.referrer.link }},
	{[]string{"context", "traits"}, func(m *message) val { return m.ctx.traitsObj }},
	{[]string{"context", "traits", "email"}, func(m *message) val { return m.ctx.traitsEmail }},
	{[]string{"context", "sessionId"}, func(m *message) val { return m.ctx.sessionID }},
	{[]string{"properties"}, func(m *message) val { return m.properties }},
	{[]string{"properties", "url"}, func(m *message) val { return m.props.url }},
	{[]string{"properties", "title"}, func(m *message) val { return m.props.title }},
	{[]string{"properties", "referrer"}, func(m *message) val { return m.props.referrer }},
	{[]string{"properties", "revenue"}, func(m *message) val { return m.props.revenue }},
	{[]string{"properties", "total"}, func(m *message) val { return m.props.total }},
	{[]string{"properties", "value"}, func(m *message) val { return m.props.value }},
	{[]string{"properties", "currency"}, func(m *message) val { return m.props.currency }},
	{[]string{"properties", "email"}, func(m *message) val { return m.props.email }},
	{[]string{"properties", "link_url"}, func(m *message) val { return m.props.linkURL }},
	{[]string{"properties", "file_url"}, func(m *message) val { return m.props.fileURL }},
	{[]string{"traits"}, func(m *message) val { return m.traits }},
	{[]string{"traits", "email"}, func(m *message) val { return m.traitsEmail }},
}

// refVal is what encoding/json makes of v, as a val.
func refVal(v any) val {
	switch v := v.(type) {
	case nil:
		return val{}
	case string:
		return val{kind: jString, text: v}
	case json.Number:
		return val{kind: jNumber, text: string(v)}
	case bool:
		if v {
			return val{kind: jBool, text: "true"}
		}
		return val{kind: jBool, text: "false"}
	case map[string]any:
		return val{kind: jObject}
	case []any:
		return val{kind: jArray}
	}
	panic("unexpected value")
}

func refDecode(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// checkDecode decodes line with the decoder and with encoding/json (into
// map[string]any) and fails on any difference.
func checkDecode(t *testing.T, line []byte) {
	t.Helper()
	var m message
	var d decoder
	top, err := decode(line, &m, &d)
	valid := json.Valid(line)
	require.Equal(t, valid, err == nil, "valid: encoding/json %v, decoder error %v", valid, err)
	if !valid {
		return
	}
	ref, err := refDecode(line)
	require.NoError(t, err)
	if rv := refVal(ref); rv.kind != jObject {
		require.Equal(t, rv.kind, top)
		return
	}
	require.Equal(t, jObject, top)
	for _, f := range fields {
		var v any = ref
		for _, k := range f.path {
			if obj, ok := v.(map[string]any); ok {
				v = obj[k]
			} else {
				v = nil
			}
		}
		require.Equal(t, refVal(v), asJSON(f.get(&m)), strings.Join(f.path, "."))
	}
	elems, _ := ref.(map[string]any)["batch"].([]any)
	require.Len(t, m.elems, len(elems))
	for i, span := range m.elems {
		got, err := refDecode(line[span[0]:span[1]])
		require.NoError(t, err)
		require.Equal(t, elems[i], got, "batch element %d", i)
	}
	// Mapping must not panic on anything the decoder accepts.
	var ev event
	lim := newLimits(time.Now())
	mapEvent(&m, &ev, &lim)
}

// asJSON is v as encoding/json decodes it: every byte of invalid UTF-8 in a string as
// U+FFFD, where the decoder keeps it (and marks it bad) for the mapping to reject.
func asJSON(v val) val {
	v.bad = false
	if v.kind != jString || utf8.ValidString(v.text) {
		return v
	}
	var b []byte
	for _, r := range v.text {
		b = utf8.AppendRune(b, r)
	}
	v.text = string(b)
	return v
}

// decodeCases are lines that probe the decoder's edges, on top of the fixtures.
var decodeCases = []string{
	``, ` `, `{}`, `[]`, `null`, `nul`, `true`, `-`, `-0`, `01`, `1.`, `1.5e`, `1e+5`, `-1.5E-3`, `"x"`, `"x`,
	`{"type":"track"}`, `{"type":"track",}`, `{"type" "track"}`, `{"type":"track"}}`, `{"type":"track"} x`,
	`{type:"track"}`, `{'type':'track'}`, `{"a":[1,2,}`, `{"a":[1 2]}`, `{"a":{"b":}}`,
	`{"type":"\u0074rack","\u0074ype":"page"}`, `{"type":"a\u00e9\ud83d\ude00b"}`, `{"type":"\ud83d"}`,
	`{"type":"\ud83dx"}`, `{"type":"\ud83d\u0041"}`, `{"type":"\ude00\ud83d"}`, `{"type":"\u12"}`, `{"type":"\x"}`,
	`{"type":"a\/b\\c\"d\b\f\n\r\t"}`, "{\"type\":\"tab\there\"}", "{\"type\":\"caf\xe9\"}", "{\"type\":\"\xff\xfe\"}",
	"{\"type\":\"ok\xc3\xa9\"}", "{\"type\xe9\":\"x\"}", `{"context":{"page":{"url":"a"}},"context":null}`,
	`{"context":{"page":{"url":"a"}},"context":{"campaign":"x"}}`, `{"context":{"page":"x","page":{"title":"t"}}}`,
	`{"batch":[{"type":"track"},1,"x",[],{}],"batch":[{"type":"page"}]}`, `{"batch":[{"type":"track"}],"batch":7}`,
	`{"batch":[ {"a":1} , {"b":[2]} ]}`, `{"properties":{"revenue":1e400,"value":-0.0,"total":"NaN"}}`,
	`{"traits":{"email":["a"]},"context":{"traits":{"email":true},"sessionId":{"id":1}}}`,
	" \t\r\n{\"type\" : \"track\" , \"event\" :\"x\" }\n ",
	strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth),
	strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
	`{"a":` + strings.Repeat(`{"a":`, maxDepth-1) + `1` + strings.Repeat("}", maxDepth),
	`{"a":` + strings.Repeat(`{"a":`, maxDepth) + `1` + strings.Repeat("}", maxDepth+1),
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, c := range decodeCases {
		checkDecode(t, []byte(c))
	}
	for _, path := range []string{segmentFixture, rudderFixture} {
		f, err := os.Open(path)
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			checkDecode(t, sc.Bytes())
		}
		require.NoError(t, sc.Err())
		f.Close()
	}
}

// FuzzDecode checks the decoder against encoding/json on arbitrary input, and the
// mapping's output (checkLine): go test -fuzz FuzzDecode ./extract/segment/
func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases[:len(decodeCases)-4] { // not the deep ones: the fuzzer mutates seeds
		f.Add([]byte(c))
	}
	for _, path := range []string{segmentFixture, rudderFixture} {
		b, err := os.ReadFile(path)
		require.NoError(f, err)
		for _, l := range bytes.Split(b, []byte("\n")) {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		checkDecode(t, line)
		checkLine(t, line)
	})
}
