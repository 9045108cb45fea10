package bqfake

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ExportSchema is the Arrow schema BigQuery's Storage Read API gives a GA4 export
// table, events_YYYYMMDD (a subset of its columns, in table order; the columns from
// developers.google.com/analytics/bigquery/event-schema): STRING is utf8, INT64
// int64, FLOAT64 float64, BOOL bool, RECORD a struct, REPEATED RECORD a list of
// structs.
func ExportSchema() *arrow.Schema {
	str := func(name string) arrow.Field {
		return arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true}
	}
	i64 := func(name string) arrow.Field {
		return arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int64, Nullable: true}
	}
	f64 := func(name string) arrow.Field {
		return arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64, Nullable: true}
	}
	record := func(name string, fields ...arrow.Field) arrow.Field {
		return arrow.Field{Name: name, Type: arrow.StructOf(fields...), Nullable: true}
	}
	param := arrow.StructOf(str("key"), record("value", str("string_value"), i64("int_value"), f64("float_value"), f64("double_value")))
	return arrow.NewSchema([]arrow.Field{
		str("event_date"),
		i64("event_timestamp"),
		str("event_name"),
		{Name: "event_params", Type: arrow.ListOf(param), Nullable: true},
		i64("event_previous_timestamp"),
		f64("event_value_in_usd"),
		str("user_id"),
		str("user_pseudo_id"),
		record("privacy_info", str("analytics_storage"), str("ads_storage"), str("uses_transient_token")),
		str("stream_id"),
		str("platform"),
		record("collected_traffic_source", str("manual_campaign_id"), str("manual_campaign_name"), str("manual_source"),
			str("manual_medium"), str("manual_term"), str("manual_content"), str("gclid"), str("dclid"), str("srsltid")),
		record("session_traffic_source_last_click",
			record("manual_campaign", str("campaign_id"), str("campaign_name"), str("source"), str("medium"),
				str("term"), str("content"), str("source_platform"), str("creative_format"), str("marketing_tactic")),
			record("google_ads_campaign", str("customer_id"), str("account_name"), str("campaign_id"),
				str("campaign_name"), str("ad_group_id"), str("ad_group_name")),
			record("cross_channel_campaign", str("campaign_id"), str("campaign_name"), str("source"), str("medium"),
				str("source_platform"), str("default_channel_group"), str("primary_channel_group"))),
		record("ecommerce", i64("total_item_quantity"), f64("purchase_revenue_in_usd"), f64("purchase_revenue"),
			f64("tax_value"), str("transaction_id"), i64("unique_items")),
		{Name: "is_active_user", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
}

// WithoutField is s less the field at a dotted path: an export table from before that
// column existed (collected_traffic_source came in June 2023).
func WithoutField(s *arrow.Schema, path string) *arrow.Schema {
	return arrow.NewSchema(dropField(s.Fields(), strings.Split(path, ".")), nil)
}

func dropField(fields []arrow.Field, path []string) []arrow.Field {
	var out []arrow.Field
	for _, f := range fields {
		switch {
		case f.Name != path[0]:
			out = append(out, f)
		case len(path) > 1:
			if st, ok := f.Type.(*arrow.StructType); ok {
				f.Type = arrow.StructOf(dropField(st.Fields(), path[1:])...)
			}
			out = append(out, f)
		}
	}
	return out
}

// RowJSON is row i of rec as a JSON object of its top-level columns, for comparing
// the rows sent with those received. A row JSON cannot hold (a NaN) is printed with
// fmt instead.
func RowJSON(rec arrow.RecordBatch, i int) string {
	obj := map[string]any{}
	for c, f := range rec.Schema().Fields() {
		obj[f.Name] = rec.Column(c).GetOneForMarshal(i)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return fmt.Sprint(obj)
	}
	return string(b)
}

// recordFromJSON decodes NDJSON rows into one record of schema; keys the schema
// lacks are ignored.
func recordFromJSON(mem memory.Allocator, schema *arrow.Schema, rows []string) (arrow.RecordBatch, error) {
	rec, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(strings.Join(rows, "\n")), array.WithMultipleDocs())
	return rec, err
}

// project keeps the fields of s that selected names, whole or (dotted) in part, in
// table order, as the Storage Read API does; missing are the selections s lacks. No
// selection keeps every field.
func project(s *arrow.Schema, selected []string) (*arrow.Schema, []string) {
	if len(selected) == 0 {
		return s, nil
	}
	fields, used := projectFields(s.Fields(), selected, "")
	var missing []string
	for _, sel := range selected {
		if !used[sel] {
			missing = append(missing, sel)
		}
	}
	return arrow.NewSchema(fields, nil), missing
}

func projectFields(fields []arrow.Field, selected []string, prefix string) ([]arrow.Field, map[string]bool) {
	used := map[string]bool{}
	var out []arrow.Field
	for _, f := range fields {
		path := prefix + f.Name
		if slices.Contains(selected, path) {
			out, used[path] = append(out, f), true
			continue
		}
		st, ok := f.Type.(*arrow.StructType)
		if !ok {
			continue
		}
		children, childUsed := projectFields(st.Fields(), selected, path+".")
		for k := range childUsed {
			used[k] = true
		}
		if len(children) > 0 {
			out = append(out, arrow.Field{Name: f.Name, Type: arrow.StructOf(children...), Nullable: f.Nullable})
		}
	}
	return out, used
}

// projectRecord returns rec's columns in schema, a projection of rec's schema made
// by project: whole columns are shared, records keep the selected children.
func projectRecord(rec arrow.RecordBatch, schema *arrow.Schema) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, 0, schema.NumFields())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for _, f := range schema.Fields() {
		idx := rec.Schema().FieldIndices(f.Name)
		if len(idx) != 1 {
			return nil, fmt.Errorf("column %s: not in the table's record", f.Name)
		}
		d, err := projectData(rec.Column(idx[0]).Data(), f.Type)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", f.Name, err)
		}
		cols = append(cols, array.MakeFromData(d))
		d.Release()
	}
	return array.NewRecordBatch(schema, cols, rec.NumRows()), nil
}

// projectData returns d as typ: d itself when the types are equal, else a struct of
// the children typ names, sharing d's validity bitmap, offset and children.
func projectData(d arrow.ArrayData, typ arrow.DataType) (arrow.ArrayData, error) {
	if arrow.TypeEqual(d.DataType(), typ) {
		d.Retain()
		return d, nil
	}
	src, ok := d.DataType().(*arrow.StructType)
	dst, ok2 := typ.(*arrow.StructType)
	if !ok || !ok2 {
		return nil, fmt.Errorf("type %s is not a projection of %s", typ, d.DataType())
	}
	children := make([]arrow.ArrayData, 0, dst.NumFields())
	defer func() {
		for _, c := range children {
			c.Release()
		}
	}()
	for _, f := range dst.Fields() {
		k, found := src.FieldIdx(f.Name)
		if !found {
			return nil, fmt.Errorf("no field %s in %s", f.Name, src)
		}
		c, err := projectData(d.Children()[k], f.Type)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		children = append(children, c)
	}
	return array.NewData(typ, d.Len(), d.Buffers()[:1], children, d.NullN(), d.Offset()), nil
}
