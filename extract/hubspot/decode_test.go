package hubspot

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// decodeCorpus are objects in every shape the decoder meets, valid or not.
var decodeCorpus = []string{
	`{"id":"1","properties":{"email":"a@b.c"},"archived":false}`,
	` { "id" : 12 , "properties" : { "n" : -1.5e+3 , "b" : true , "z" : null } , "archived" : true } `,
	`{"id":"1","properties":{"name":"Zoë \"Z\" \u00e9\n","emoji":"\ud83d\ude00"}}`,
	`{"id":"1","properties":{"bad":"\xff\xfe"}}`,
	`{"ID":"7","Properties":{"email":"x@y.z"},"ARCHIVED":true}`,
	`{"id":"1","associations":{"contacts":{"results":[{"id":"2","type":"deal_to_contact"}]}},"properties":{}}`,
	`{"id":"1","properties":null,"createdAt":"2026-01-01T00:00:00Z","updatedAt":null}`,
	`{"id":"1","properties":{"a":{"nested":1}}}`,
	`{"id":["1"]}`,
	`{"id":"1","archived":"yes"}`,
	`{"id":"1","properties":{"a":"1"},"properties":{"b":"2"}}`,
	`{"id":"1",}`,
	`{"id":"1"} trailing`,
	`{"id":"1","properties":{"a":01}}`,
	`{"id":"1","properties":{"a":"unterminated}}`,
	`null`,
	`[]`,
	``,
	`{}`,
	`{"id":"1","x":[1,[2,{"y":"z"}],{}]}`,
	`{"id":"1","propertiesWithHistory":{"dealstage":[{"value":"a","timestamp":"2026-01-01T00:00:00Z","sourceType":"CRM_UI","updatedByUserId":7},{ "value" : null }]}}`,
	`{"id":"1","propertiesWithHistory":{"dealstage":[],"amount":null}}`,
	`{"id":"1","propertiesWithHistory":null}`,
	`{"id":"1","propertiesWithHistory":{"a":[{"value":"1"}]},"propertiesWithHistory":{"b":[]}}`,
	`{"id":"1","propertiesWithHistory":{"dealstage":[null]}}`,
	`{"id":"1","propertiesWithHistory":{"dealstage":[{"Value":"x"}]}}`,
	`{"id":"1","propertiesWithHistory":{"dealstage":[{"value":{"x":1}}]}}`,
	`{"id":"1","propertiesWithHistory":{"dealstage":{"value":"x"}}}`,
	`{"id":"1","PropertiesWithHistory":{"dealstage":[]}}`,
}

// decodeBoth decodes b with the scanner and with encoding/json alone.
func decodeBoth(b []byte) (fast object, fastReason string, slow object, slowErr error) {
	fastReason = decodeObject(b, &fast)
	slowErr = json.Unmarshal(b, &slow)
	return
}

func requireSameDecode(t *testing.T, in []byte) {
	t.Helper()
	fast, reason, slow, err := decodeBoth(in)
	if err != nil {
		require.Equal(t, "invalid JSON: "+err.Error(), reason, "%q", in)
		return
	}
	require.Empty(t, reason, "%q", in)
	fast.names = nil
	if len(slow.Properties) == 0 && len(fast.Properties) == 0 {
		slow.Properties, fast.Properties = nil, nil // nil and empty maps mean the same
	}
	require.Equal(t, slow, fast, "%q", in)
}

func TestDecodeObjectAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range decodeCorpus {
		requireSameDecode(t, []byte(s))
	}
	// Every line of the test folders.
	for _, dir := range []string{fixture, same} {
		paths, err := filepath.Glob(filepath.Join(dir, "*.ndjson"))
		require.NoError(t, err)
		for _, p := range paths {
			f, err := os.Open(p)
			require.NoError(t, err)
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				requireSameDecode(t, sc.Bytes())
			}
			require.NoError(t, f.Close())
		}
	}
}

func TestDecodeObjectReusesMap(t *testing.T) {
	o := reusable()
	require.Empty(t, decodeObject([]byte(`{"id":"1","properties":{"a":"1","b":"2"}}`), &o))
	require.Empty(t, decodeObject([]byte(`{"id":"2","properties":{"c":"3"}}`), &o))
	require.Equal(t, map[string]value{"c": {s: "3", valid: true}}, o.Properties, "no property of the line before")
	require.Equal(t, "2", o.ID.str())
}

func FuzzDecodeObject(f *testing.F) {
	for _, s := range decodeCorpus {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		requireSameDecode(t, b)
	})
}
