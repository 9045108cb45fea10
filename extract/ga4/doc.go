// Package ga4 reads the Google Analytics 4 BigQuery export into extract.TableEvents:
// export files as newline-delimited JSON (plain or gzipped) and Parquet, and Arrow
// record batches in the export schema, as the BigQuery Storage Read API returns them
// (Decoder.DecodeRecord). Every format fills the same format-neutral row, which one
// function maps to the canonical columns, so that the formats give identical rows and
// identical rejections.
//
// # Files
//
// The Extractor reads the files of a glob in sorted order; one glob may mix formats.
// A file is Parquet when its name ends in .parquet or it starts with Parquet's magic
// bytes (sharded exports may have no extension); any other file is NDJSON, gzipped or
// not as its magic bytes say, a leading BOM dropped. NDJSON holds one export row per
// line in BigQuery's JSON export shape: INT64 written as strings ("1767603600123456")
// or numbers, FLOAT64 as numbers (NaN and Infinity as strings), RECORD as objects,
// REPEATED as arrays, nulls written or left out. Parquet is read row group by row
// group, in batches of extract.BatchRows rows, and only the leaf columns the decoder
// uses; an Arrow schema stored in the file is ignored.
//
// An empty file, an NDJSON file none of whose lines is a JSON object (what its first
// bytes look like is in the error: gzip twice, zip, a JSON array, HTML, binary), and a
// corrupt Parquet file are errors, not rejections. With Config.Range set, a day of the
// range that no file's name carries is a rejection located at the glob and the day,
// as a missing table is for BigQuery.
//
// Export tables are events_YYYYMMDD (daily) and events_intraday_YYYYMMDD (streaming),
// told by the file name; anything may follow the date but a digit. Intraday files read
// like daily ones, except that an intraday file whose day has a daily file in the
// same folder is skipped (and logged): GA4 deletes the intraday table once the daily
// one is complete, so the daily file holds the day's final rows and reading both
// would count the day twice.
//
// # Arrow records
//
// Columns are found by name, in any order, at any nesting of structs; lists may name
// their element anything (the Storage Read API says "item", Parquet "element").
// Required: event_timestamp, event_name, event_params (a list of struct<key, value
// struct<string_value, int_value, float_value, double_value>>) and user_pseudo_id;
// a record or Parquet file without one of them is an error, as is a column whose
// type cannot hold the export's (a struct where a string is due). Optional: user_id,
// stream_id, collected_traffic_source, session_traffic_source_last_click, ecommerce,
// and every field inside them. A STRING column may also be an integer, float, boolean
// or binary column; an INT64 one a float (without fraction), timestamp or string
// column; a FLOAT64 one an integer or string column.
//
// # Locations
//
// A row is located as file:line for NDJSON (lines counted from 1, blank ones too),
// file.parquet:row N for Parquet (rows counted from 1 across the file's row groups),
// and LOC:row N for a record given to DecodeRecord with location LOC (for instance
// bigquery://project/dataset/events_20260105 stream 0:row 65537). A rejection's raw text is
// the line, or the row's read columns as a JSON object.
//
// # Columns
//
//   - occurred_at: event_timestamp, microseconds since the epoch in UTC. kind:
//     page_view for page_view and screen_view events, else event. event_name as is.
//   - anonymous_id: user_pseudo_id. user_id as is. session_key: the ga_session_id
//     param in decimal, whatever its value type: the transform keys sessions by it
//     per user_pseudo_id, as GA4 does.
//   - page_location, page_title, page_referrer, email and currency: the event params
//     of those names.
//   - link_url: the link_url param (enhanced measurement's file_download and click
//     events: the file downloaded, the outbound link followed), else the file_name
//     param (a download tagged by hand may send only that, often a path such as
//     "/assets/guide.pdf"); kept as sent, on any event that has one.
//   - utm_source, utm_medium, utm_campaign, utm_term, utm_content: what the event
//     states itself: collected_traffic_source.manual_source, manual_medium,
//     manual_campaign_name, manual_term, manual_content (what GA4 read off this
//     event's URL), else the source, medium, campaign, term and content params (older
//     exports, apps). The user-scoped traffic_source is the user's first touch, not
//     this event's, and is never read. A utm_* in page_location is left to the
//     transform, which reads the URL.
//   - gclid: collected_traffic_source.gclid, else the gclid param. A
//     collected_traffic_source.dclid (there is no column for it) makes an event
//     without source or gclid of its own dv360 / cpm, what the transform reads a
//     dclid in a URL as.
//   - conversion_value: for purchase events only, ecommerce.purchase_revenue, else
//     the value param. is_conversion is false: which
//     events convert is the transform's configuration. channel is null: channel
//     grouping derives it.
//
// engagement_time_msec and session_engaged (an int, or the string "1") have no
// canonical column; like every param the decoder does not use, any value type is
// taken.
//
// # Session source: session_traffic_source_last_click
//
// GA4's last click of a session is last-non-direct: a direct session carries over the
// source of an earlier session. Copied into the utm_* columns of a session without
// campaign information of its own, it would credit that earlier source a second
// time in multi-touch attribution; and on a session that does have a source, it
// repeats what the event already states. It is therefore used only where it is
// demonstrably the event's own click, on an event that opens its session
// (session_start, first_visit, or the entrances param 1):
//
//   - the event carries a Google Ads click id (its own gclid, or gclid, gbraid or
//     wbraid in page_location) and names no source: source google, medium cpc, and
//     the campaign google_ads_campaign.campaign_name, else
//     cross_channel_campaign.campaign_name when that says google / cpc;
//   - the event names a source and medium (compared without case) that
//     manual_campaign states too: manual_campaign fills the event's empty campaign,
//     term and content (a utm_id-only link whose name GA4 imported); likewise
//     google_ads_campaign for google / cpc, and cross_channel_campaign.
//
// GA4's placeholders ("(not set)", "(direct)", "(organic)" ...) fill nothing. In every
// other case the last click is ignored: the transform takes a session's source from
// its first event with campaign information, the URL, a click id or the referrer.
//
// # Rejections
//
// A row that cannot be used is an extract.Rejection: a line that is not JSON (with
// encoding/json's message), or not one export row (a value of the wrong type); no or
// a non-microsecond event_timestamp; no event_name; neither user_pseudo_id nor
// user_id, which is consent mode (cookieless pings of users who denied
// analytics_storage), not a broken file; a ga_session_id or another used param whose
// number does not parse; a purchase's ecommerce.purchase_revenue or value param that
// is no number; a line over 16 MiB. So is a row outside extract's value limits: a
// string the decoder keeps that is not UTF-8 or holds a NUL (invalid UTF-8 is kept as
// it is to be refused, not turned into U+FFFD as encoding/json does), an
// event_timestamp before 2000 or after the run's start (Config.Now) plus a day, a
// purchase value that is negative, NaN, infinite or above extract.MaxRevenue.
//
// # Duplicates
//
// The export can hold the same row twice. A Decoder drops exact duplicates among the
// rows it is given; an Extractor reads its files in order of the day in their names
// and forgets the rows seen at each new day, so duplicates are dropped among the files
// of one day (its shards, a second copy of it; files without a day count as one day)
// and the rows remembered are one day's: a row's day is its table's. Rows with the
// same stream_id, user_pseudo_id, event_name, event_timestamp and event_params
// (every key and typed value, in order; "5" and 5 for an INT64 are the same) are one
// event, which is dbt-ga4's key but for event_date, which event_timestamp and the
// property's time zone determine. Each duplicate is a rejection naming the row it
// repeats, and Stats counts them, so a purchase sent twice is counted once. The
// decoder keeps a 128-bit hash and a location per event of the day: about 30 bytes
// of memory per event of the largest day.
package ga4
