package ga4

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// row is the part of one export row (BigQuery events_YYYYMMDD schema) the extractor
// reads; encoding/json skips the rest (device, geo, items, user_properties...).
//
// traffic_source is left out on purpose: it is the user's first-touch source, the
// same on every event of a user_pseudo_id, and using it as the event's campaign is
// the classic GA4 mistake (SOURCES.md §1).
type row struct {
	EventTimestamp jsonInt   `json:"event_timestamp"`
	EventName      string    `json:"event_name"`
	EventParams    []param   `json:"event_params"`
	UserID         jsonStr   `json:"user_id"`
	UserPseudoID   jsonStr   `json:"user_pseudo_id"`
	Collected      collected `json:"collected_traffic_source"`
	Ecommerce      ecommerce `json:"ecommerce"`
}

// collected is the event-scoped collected_traffic_source record (since June 2023).
type collected struct {
	ManualSource       jsonStr `json:"manual_source"`
	ManualMedium       jsonStr `json:"manual_medium"`
	ManualCampaignName jsonStr `json:"manual_campaign_name"`
	ManualTerm         jsonStr `json:"manual_term"`
	ManualContent      jsonStr `json:"manual_content"`
	Gclid              jsonStr `json:"gclid"`
}

// ecommerce is the part of the ecommerce record used for conversion values.
type ecommerce struct {
	PurchaseRevenue jsonFloat `json:"purchase_revenue"` // in the event's currency param
}

// param is one entry of event_params.
type param struct {
	Key   string `json:"key"`
	Value value  `json:"value"`
}

// value is an event_params value: at most one of its fields is set.
type value struct {
	StringValue jsonStr   `json:"string_value"`
	IntValue    jsonInt   `json:"int_value"`
	FloatValue  jsonFloat `json:"float_value"`
	DoubleValue jsonFloat `json:"double_value"`
}

// String renders whichever field is set as text ("" when none is): integers in
// decimal, so an int_value ga_session_id gives the same key as a string one.
func (v *value) String() string {
	switch {
	case v.StringValue.Set:
		return v.StringValue.V
	case v.IntValue.Set:
		return v.IntValue.String()
	case v.DoubleValue.Set:
		return strconv.FormatFloat(v.DoubleValue.V, 'f', -1, 64)
	case v.FloatValue.Set:
		return strconv.FormatFloat(v.FloatValue.V, 'f', -1, 64)
	}
	return "" // nothing set, or a number that was none: no value
}

// jsonStr is a STRING column. It also takes a JSON number or boolean as its text,
// since hand-made files write ids such as user_id as numbers. Null leaves it unset.
type jsonStr struct {
	V   string
	Set bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (s *jsonStr) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		// Fast path: no escapes and valid UTF-8 need no decoding.
		if inner := b[1 : len(b)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			s.V, s.Set = string(inner), true
			return nil
		}
		if err := json.Unmarshal(b, &s.V); err != nil {
			return err
		}
	case b[0] == '{' || b[0] == '[':
		return fmt.Errorf("want a string, got %.20s", b)
	default: // number, true, false
		s.V = string(b)
	}
	s.Set = true
	return nil
}

// jsonInt is an INT64 column, which BigQuery's JSON export writes as a string
// ("1700000000123456") and hand-made files as a number: both are taken. Raw keeps
// the text of a value that is no integer, for the rejection that names it.
type jsonInt struct {
	V   int64
	Set bool
	Raw string
}

// UnmarshalJSON implements json.Unmarshaler. A value that is no integer is kept in
// Raw with Set false rather than failing the whole row: the caller decides.
func (n *jsonInt) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	s := unquote(b)
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		n.V, n.Set = v, true
		return nil
	}
	// 1.7e9 or 1700000000.0 from a spreadsheet or a float-happy generator.
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
		n.V, n.Set = int64(f), true
		return nil
	}
	n.Raw = string(b)
	return nil
}

// String renders the integer in decimal, "" when unset.
func (n *jsonInt) String() string {
	if !n.Set {
		return ""
	}
	return strconv.FormatInt(n.V, 10)
}

// jsonFloat is a FLOAT64 column: a JSON number, or a string holding one (BigQuery
// writes "NaN" and "Infinity" as strings). Null leaves it unset; Raw keeps the text
// of a value that is no number.
type jsonFloat struct {
	V   float64
	Set bool
	Raw string
}

// UnmarshalJSON implements json.Unmarshaler. Like jsonInt it never fails the row.
func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	v, err := strconv.ParseFloat(unquote(b), 64)
	if err != nil {
		f.Raw = string(b)
		return nil
	}
	f.V, f.Set = v, true
	return nil
}

// unquote strips the quotes of a JSON string without escapes (numbers have none).
func unquote(b []byte) string {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	}
	return string(b)
}
