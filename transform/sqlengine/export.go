package sqlengine

import "strings"

// ExportColumn is a column of the GA4 export's events_YYYYMMDD tables that the
// engine reads, with its type in each dialect.
type ExportColumn struct {
	Name, BigQuery string
}

// ExportColumns are the columns of the GA4 export the steps read, typed as the export
// types them (../shared/docs/SOURCES.md): every other column is left unread, and
// so unbilled.
var ExportColumns = []ExportColumn{
	{"event_date", "STRING"},
	{"event_timestamp", "INT64"},
	{"event_name", "STRING"},
	{"event_params", "ARRAY<STRUCT<key STRING, value STRUCT<string_value STRING, int_value INT64, float_value FLOAT64, double_value FLOAT64>>>"},
	{"user_pseudo_id", "STRING"},
	{"user_id", "STRING"},
	{"stream_id", "STRING"},
	{"collected_traffic_source", "STRUCT<manual_campaign_id STRING, manual_campaign_name STRING, manual_source STRING, " +
		"manual_medium STRING, manual_term STRING, manual_content STRING, gclid STRING, dclid STRING, srsltid STRING>"},
	{"session_traffic_source_last_click", "STRUCT<manual_campaign STRUCT<campaign_id STRING, campaign_name STRING, source STRING, " +
		"medium STRING, term STRING, content STRING>, google_ads_campaign STRUCT<customer_id STRING, campaign_id STRING, " +
		"campaign_name STRING>, cross_channel_campaign STRUCT<campaign_id STRING, campaign_name STRING, source STRING, medium STRING>>"},
	{"ecommerce", "STRUCT<purchase_revenue FLOAT64>"},
}

// DuckDBType is t (a BigQuery type of ExportColumns) as DuckDB spells it.
func DuckDBType(t string) string {
	r := strings.NewReplacer("INT64", "BIGINT", "FLOAT64", "DOUBLE", "STRING", "VARCHAR")
	t = r.Replace(t)
	// ARRAY<STRUCT<a T>> -> STRUCT(a T)[]; STRUCT<...> -> STRUCT(...)
	var b strings.Builder
	var stack []bool // per open '<': an ARRAY
	for i := 0; i < len(t); i++ {
		switch {
		case strings.HasPrefix(t[i:], "ARRAY<"):
			stack = append(stack, true)
			i += len("ARRAY<") - 1
		case strings.HasPrefix(t[i:], "STRUCT<"):
			stack = append(stack, false)
			b.WriteString("STRUCT(")
			i += len("STRUCT<") - 1
		case t[i] == '>':
			if stack[len(stack)-1] {
				b.WriteString("[]")
			} else {
				b.WriteByte(')')
			}
			stack = stack[:len(stack)-1]
		default:
			b.WriteByte(t[i])
		}
	}
	return b.String()
}
