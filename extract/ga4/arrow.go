package ga4

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// required are the top-level export columns a record or file must have: what every
// export table since 2018 has and a row cannot be read without.
var required = []string{"event_timestamp", "event_name", "event_params", "user_pseudo_id"}

// The export's nested columns the decoder reads, by record.
var (
	collectedNames = [...]string{"manual_source", "manual_medium", "manual_campaign_name", "manual_term", "manual_content", "gclid", "dclid"}
	manualNames    = [...]string{"source", "medium", "campaign_name", "term", "content"}
	crossNames     = [...]string{"source", "medium", "campaign_name"}
	valueNames     = [...]string{"string_value", "int_value", "float_value", "double_value"}
)

// leafKind is what a leaf column holds in the export.
type leafKind int

const (
	kString leafKind = iota
	kInt
	kFloat
)

// leaf is one leaf column of a record: arr, nil when the record lacks the column
// (every value null), and the struct arrays above it, whose nulls make it null.
type leaf struct {
	arr     arrow.Array
	parents []arrow.Array
}

func (l *leaf) null(i int) bool {
	if l.arr == nil || l.arr.IsNull(i) {
		return true
	}
	for _, p := range l.parents {
		if p.IsNull(i) {
			return true
		}
	}
	return false
}

// str returns value i as text ("" when null), as the NDJSON decoder reads a STRING
// column: numbers and booleans as their text.
func (l *leaf) str(i int) string {
	if l.null(i) {
		return ""
	}
	switch a := l.arr.(type) {
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	case *array.StringView:
		return a.Value(i)
	case *array.Binary:
		return a.ValueString(i)
	case *array.LargeBinary:
		return a.ValueString(i)
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i))
	case *array.Float32:
		return strconv.FormatFloat(float64(a.Value(i)), 'g', -1, 32)
	case *array.Float64:
		return strconv.FormatFloat(a.Value(i), 'g', -1, 64)
	}
	if v, ok := intAt(l.arr, i); ok {
		return strconv.FormatInt(v, 10)
	}
	return ""
}

// int returns value i as an INT64 column, with bad set for a string holding no
// integer.
func (l *leaf) int(i int) intVal {
	if l.null(i) {
		return intVal{}
	}
	switch a := l.arr.(type) {
	case *array.Float32, *array.Float64:
		f := l.float(i).v
		if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return intVal{v: int64(f), set: true}
		}
		return intVal{bad: strconv.FormatFloat(f, 'g', -1, 64)}
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return intVal{v: a.Value(i).ToTime(unit).UnixMicro(), set: true}
	}
	if v, ok := intAt(l.arr, i); ok {
		return intVal{v: v, set: true}
	}
	s := l.str(i)
	if v, ok := parseInt(s); ok {
		return intVal{v: v, set: true}
	}
	return intVal{bad: strconv.Quote(s)}
}

// float returns value i as a FLOAT64 column, with bad set for a string holding no
// number.
func (l *leaf) float(i int) floatVal {
	if l.null(i) {
		return floatVal{}
	}
	switch a := l.arr.(type) {
	case *array.Float64:
		return floatVal{v: a.Value(i), set: true}
	case *array.Float32:
		return floatVal{v: float64(a.Value(i)), set: true}
	}
	if v, ok := intAt(l.arr, i); ok {
		return floatVal{v: float64(v), set: true}
	}
	s := l.str(i)
	if v, ok := parseFloat(s); ok {
		return floatVal{v: v, set: true}
	}
	return floatVal{bad: strconv.Quote(s)}
}

// intAt returns value i of an integer array.
func intAt(a arrow.Array, i int) (int64, bool) {
	switch a := a.(type) {
	case *array.Int64:
		return a.Value(i), true
	case *array.Int32:
		return int64(a.Value(i)), true
	case *array.Int16:
		return int64(a.Value(i)), true
	case *array.Int8:
		return int64(a.Value(i)), true
	case *array.Uint64:
		return int64(a.Value(i)), a.Value(i) <= 1<<63-1
	case *array.Uint32:
		return int64(a.Value(i)), true
	case *array.Uint16:
		return int64(a.Value(i)), true
	case *array.Uint8:
		return int64(a.Value(i)), true
	}
	return 0, false
}

// accepts reports whether a column of type t can hold a value of kind k.
func accepts(k leafKind, t arrow.DataType) bool {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW, arrow.BINARY, arrow.LARGE_BINARY,
		arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64:
		return true
	case arrow.BOOL:
		return k == kString
	case arrow.TIMESTAMP:
		return k == kInt
	}
	return false
}

// columns are the leaves of one record the decoder reads, found by name.
type columns struct {
	timestamp, name, pseudoID, userID, streamID leaf
	collected                                   [len(collectedNames)]leaf
	manual                                      [len(manualNames)]leaf
	adsCampaign                                 leaf
	cross                                       [len(crossNames)]leaf
	revenue                                     leaf

	params arrow.Array // list of event_params structs
	pList  array.ListLike
	pKey   leaf
	pValue [len(valueNames)]leaf // indexed by the list's value index
}

// reset drops the references to the last record.
func (c *columns) reset() { *c = columns{} }

// resolve finds c's columns in rec. It fails on a missing required column and on a
// column whose type cannot hold what the export stores there.
func (c *columns) resolve(rec arrow.RecordBatch) error {
	*c = columns{}
	sc := rec.Schema()
	for _, name := range required {
		if len(sc.FieldIndices(name)) == 0 {
			return fmt.Errorf("no column %s: not a GA4 export table (events_YYYYMMDD schema); export or select the table's columns as they are", name)
		}
	}
	top := func(name string) arrow.Array {
		if idx := sc.FieldIndices(name); len(idx) > 0 {
			return rec.Column(idx[0])
		}
		return nil
	}
	var err error
	find := func(dst *leaf, k leafKind, arr arrow.Array, path ...string) {
		if err == nil {
			*dst, err = findLeaf(k, arr, path[0], path[1:]...)
		}
	}
	find(&c.timestamp, kInt, top("event_timestamp"), "event_timestamp")
	find(&c.name, kString, top("event_name"), "event_name")
	find(&c.pseudoID, kString, top("user_pseudo_id"), "user_pseudo_id")
	find(&c.userID, kString, top("user_id"), "user_id")
	find(&c.streamID, kString, top("stream_id"), "stream_id")
	for i, n := range collectedNames {
		find(&c.collected[i], kString, top("collected_traffic_source"), "collected_traffic_source", n)
	}
	lc := top("session_traffic_source_last_click")
	for i, n := range manualNames {
		find(&c.manual[i], kString, lc, "session_traffic_source_last_click", "manual_campaign", n)
	}
	find(&c.adsCampaign, kString, lc, "session_traffic_source_last_click", "google_ads_campaign", "campaign_name")
	for i, n := range crossNames {
		find(&c.cross[i], kString, lc, "session_traffic_source_last_click", "cross_channel_campaign", n)
	}
	find(&c.revenue, kFloat, top("ecommerce"), "ecommerce", "purchase_revenue")
	if err != nil {
		return err
	}

	c.params = top("event_params")
	list, ok := c.params.(array.ListLike)
	if !ok {
		return fmt.Errorf("column event_params is %s, want a list of struct<key, value>", c.params.DataType())
	}
	elem, ok := list.ListValues().(*array.Struct)
	if !ok {
		return fmt.Errorf("column event_params is %s, want a list of struct<key, value>", c.params.DataType())
	}
	c.pList = list
	find(&c.pKey, kString, elem, "event_params[]", "key")
	kinds := [len(valueNames)]leafKind{kString, kInt, kFloat, kFloat}
	for i, n := range valueNames {
		find(&c.pValue[i], kinds[i], elem, "event_params[]", "value", n)
	}
	return err
}

// findLeaf walks from arr, the column named name, down path through structs. A column
// missing on the way gives a leaf that is always null.
func findLeaf(k leafKind, arr arrow.Array, name string, path ...string) (leaf, error) {
	var l leaf
	for _, p := range path {
		if arr == nil {
			return leaf{}, nil
		}
		st, ok := arr.(*array.Struct)
		if !ok {
			return leaf{}, fmt.Errorf("column %s is %s, want a struct", name, arr.DataType())
		}
		idx, ok := st.DataType().(*arrow.StructType).FieldIdx(p)
		if !ok {
			return leaf{}, nil
		}
		l.parents = append(l.parents, st)
		arr, name = st.Field(idx), name+"."+p
	}
	if arr == nil {
		return leaf{}, nil
	}
	if !accepts(k, arr.DataType()) {
		want := [...]string{kString: "a string", kInt: "an integer", kFloat: "a number"}[k]
		return leaf{}, fmt.Errorf("column %s is %s, want %s", name, arr.DataType(), want)
	}
	l.arr = arr
	return l, nil
}

// fill reads row i into f.
func (c *columns) fill(i int, f *fields) {
	f.reset()
	f.timestamp = c.timestamp.int(i)
	f.name = c.name.str(i)
	f.pseudoID = c.pseudoID.str(i)
	f.userID = c.userID.str(i)
	f.streamID = c.streamID.str(i)
	f.revenue = c.revenue.float(i)
	cs := &f.collected
	for k, dst := range [...]*string{&cs.source, &cs.medium, &cs.campaign, &cs.term, &cs.content, &cs.gclid, &cs.dclid} {
		*dst = c.collected[k].str(i)
	}
	m := &f.lastClick.manual
	for k, dst := range [...]*string{&m.source, &m.medium, &m.campaign, &m.term, &m.content} {
		*dst = c.manual[k].str(i)
	}
	f.lastClick.ads.campaign = c.adsCampaign.str(i)
	x := &f.lastClick.cross
	for k, dst := range [...]*string{&x.source, &x.medium, &x.campaign} {
		*dst = c.cross[k].str(i)
	}
	if !c.params.IsNull(i) {
		start, end := c.pList.ValueOffsets(i)
		for j := int(start); j < int(end); j++ {
			p := param{key: c.pKey.str(j)}
			if !c.pValue[0].null(j) {
				p.str, p.hasStr = c.pValue[0].str(j), true
			}
			p.int = c.pValue[1].int(j)
			p.float = c.pValue[2].float(j)
			p.double = c.pValue[3].float(j)
			f.params = append(f.params, p)
		}
	}
}

// rowJSON renders row i of rec as a JSON object, for the raw text of a rejection.
func rowJSON(rec arrow.RecordBatch, i int) string {
	var b bytes.Buffer
	b.WriteByte('{')
	for c, fl := range rec.Schema().Fields() {
		if c > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(fl.Name)
		b.Write(name)
		b.WriteByte(':')
		v, err := json.Marshal(rec.Column(c).GetOneForMarshal(i))
		if err != nil {
			v = []byte("null")
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.String()
}
