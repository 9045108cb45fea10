// Package spend reads daily ad spend from the ad platforms' CSV exports (a file or a
// glob of files, plain or gzipped) into extract.TableSpend, one row per input row: a
// day of cost for a campaign. Rows are not summed here: an export with several rows
// per day and campaign (devices, networks, keywords) adds up downstream. A row that
// cannot be used becomes an extract.Rejection located as file:line, with what is wrong
// and what to do.
//
// # Layouts
//
// Each file's layout is recognised by its header row, searched for in the first 10
// lines: UI exports put a report title, the date range and the account above it, and
// the lines before the header row are skipped. Header names are compared trimmed, in
// any case, with runs of spaces as one; columns come in any order and unknown columns
// are ignored. The layouts, tried in this order on each line, each recognised by one
// column:
//
//  1. Google Ads, recognised by segments.date. The GAQL / API export names columns
//     with dots (segments.date, campaign.id, campaign.name, metrics.cost_micros,
//     metrics.clicks, metrics.impressions, customer.currency_code,
//     ad_group_criterion.keyword.text); the BigQuery Data Transfer tables
//     (p_ads_CampaignBasicStats_<customer id>: segments_date, campaign_id,
//     metrics_cost_micros, ...) with underscores: in this layout a dot and an
//     underscore are the same. Required: the date, cost_micros, and campaign name or
//     id. Cost is cost_micros / 1,000,000. The keyword text, when present, is the
//     term. Source google, medium cpc.
//  2. Meta Ads Insights, recognised by date_start. Required: date_start, spend, and
//     campaign_name or campaign_id; optional: date_stop, inline_link_clicks, clicks,
//     impressions, account_currency. Spend is in currency units. When the file has
//     inline_link_clicks, clicks are those link clicks, since they are what reach the
//     site; else Meta's clicks (all clicks). A row whose date_start and date_stop
//     differ is not one day's and is rejected: export with time_increment=1. Source
//     facebook, medium paid_social.
//  3. LinkedIn Campaign Manager campaign performance export (English headers),
//     recognised by "Start Date (in UTC)". Required: it, "Total Spent" (the account
//     currency), and "Campaign Name" or "Campaign ID"; optional: "Impressions",
//     "Clicks", "Clicks to Landing Page" (preferred to Clicks, like Meta's link
//     clicks), "Currency". Export with the daily time breakdown: a row is taken as the
//     day of its start date. Source linkedin, medium paid_social.
//  4. generic, recognised by date: source, medium and campaign as the site's UTM
//     values, cost in currency units. Required: date, source, medium, campaign, cost;
//     optional: term, channel, clicks, impressions, currency. Source and medium are
//     lower-cased.
//
// A generic file:
//
//	date,source,medium,campaign,cost,clicks,impressions,currency
//	2026-01-05,google,cpc,brand_search,152.37,311,10422,EUR
//
// The channel is left empty for the platforms' layouts: the transform derives it from
// source and medium. A file with none of these headers in its first 10 lines is an
// extract.ErrConfig error naming the file, its first line and the layouts accepted; a
// header that lacks a required column or has one twice is one naming the file and
// line, the header found and what its layout needs.
//
// # Tables
//
// Config.Source reads a warehouse dataset or schema (package extract/tables: BigQuery,
// PostgreSQL, DuckDB) instead of files, each row through the decoder of its layout,
// as a file's record is. The layout is told by the tables present:
//
//   - Fivetran Google Ads: campaign_stats (date, id, cost_micros; optional clicks,
//     impressions), each campaign's name from campaign_history (required) and the
//     currency from account_history by customer_id (optional). Google Ads layout.
//   - Fivetran Facebook Ads: basic_ad (date, spend; optional inline_link_clicks as the
//     clicks, impressions), per ad: its campaign from ad_history by ad_id and the
//     campaign's name from campaign_history (both required), the currency from
//     account_history by account_id (optional). Meta layout.
//   - Fivetran LinkedIn Ads: ad_analytics_by_campaign (day, campaign_id, cost_in_usd;
//     optional clicks, which are all clicks, impressions), names from campaign_history
//     (required). The cost is cost_in_usd, in USD, as Fivetran's dbt package uses by
//     default. LinkedIn layout.
//   - BigQuery Data Transfer for Google Ads: every p_ads_CampaignBasicStats_<customer
//     id> table, names from p_ads_Campaign_<customer id> and the currency from
//     p_ads_Customer_<customer id> when they are there (else the campaign_id:<id>
//     fallback and Config.Currency, as for the file). The views without p_ are not read.
//   - Airbyte: the Google Ads campaign stream and the Facebook Marketing ads_insights
//     stream, by their columns (segments.date or segments_date, ...; date_start, ...).
//     Their other streams (ad_group, ads_insights_country, ...) hold the same spend
//     again and are not read.
//   - Without any of these: every table whose columns are a file layout's (its
//     signature and required columns), such as a table loaded from the exports; a table
//     with a signature but without a required column is named in the error when no
//     table fits.
//
// A history table gives a record's latest row: by its version columns (updated_at,
// updated_time, last_modified_time, or the snapshot's _DATA_DATE; then
// _fivetran_synced), as Fivetran's dbt packages pick it; versions that tie take the
// greater value, so the result does not depend on the rows' order. The join is made in
// Go on the record's id: a report row whose id is in no history row gets no name (the
// campaign_id:<id> fallback); a Facebook ad in no ad_history row has no campaign and
// is rejected. Only the columns used are read; with Config.Range set, the rows of a
// report table on other days are not read at all (the filter is pushed down on its
// date column; history tables are read whole; a LinkedIn UI export's M/D/YYYY text
// cannot be filtered and is read whole). Rows whose _fivetran_deleted is true are
// skipped (history rows too) and the report's are counted: Extractor.Deleted.
//
// A report table without a required table or column, or a source without any spend
// table, is an extract.ErrConfig error naming what is missing; Extractor.Check says
// the same without reading a row. A rejected row is located as
// "TABLE: date D, id N" (rows of a table have no line number) and its raw text is
// its cells as name=value.
//
// # File format
//
// Files are UTF-8, with or without BOM (UTF-16 is refused: save as UTF-8); gzip is told
// by its magic bytes, not the name. The field separator is sniffed from the header
// row: the most frequent of ',', ';' and tab outside quotes (',' on a tie). Fields may
// be quoted as in RFC 4180; a row with another number of fields than the header, or
// broken quoting, is rejected, and so is a row whose text cells are not valid UTF-8 or
// hold a NUL byte (extract.BadText: a Latin-1 export).
//
// Numbers are decimals with '.' as the decimal separator: no currency sign, no
// exponent. In a file separated by ';' or tabs a ',' is read as a thousands separator
// when it groups digits by three ("1,234.50", "12,345"), except for a cost with one
// group and no decimals ("1,234"), which also reads as a decimal comma and is
// rejected. In a comma-separated file a ',' inside a number is rejected as ambiguous.
// Costs must be >= 0: refunds and credits are rejected, and so is a cost above
// extract.MaxRevenue in the reporting currency. Clicks and impressions are whole
// numbers >= 0; an empty cell is null.
//
// Dates are YYYY-MM-DD (a time after it is checked and ignored: the date is taken as
// written) or YYYY/MM/DD. LinkedIn's UI export writes M/D/YYYY: a slashed date with the
// year last is read month first in the LinkedIn layout, and rejected there when its
// first number is no month (an export in a day-first language); in the other layouts
// it is rejected as ambiguous. A day before extract.MinTime or after the run's start
// (Config.Now) plus extract.ClockSkew is rejected (extract.BadTime).
//
// # Days and time zones
//
// Ad platforms report a day of spend in the ad account's time zone (Google Ads, Meta);
// LinkedIn's export states its days in UTC. Dates are taken as the platform reports
// them and never shifted: a day of spend is the account's day, not the UTC day.
// Touches are in UTC, so spend and touches joined by day disagree by the account's
// UTC offset near midnight; where that matters, give the ad accounts the time zone
// the reports use.
//
// # Total and summary rows
//
// A row whose date cell holds no day is a total or summary row when its date cell is
// empty and it names no campaign (campaign name and id empty), or when its date cell,
// its first cell or its campaign cell starts with "Total" or "Grand total" (any case,
// such as "Total: Account"). Such rows are skipped without a rejection, and counted,
// not logged: Extractor.Skipped returns the count of the last Extract. A row with a
// campaign but an empty date is rejected: it may be a subtotal, but it may as well be
// a day of spend that lost its date, and its cost must not vanish unseen.
//
// # Campaign mapping
//
// Config.CampaignMap names an optional CSV file (same format rules; rows of blank
// cells are skipped) mapping the ad platforms' campaigns to the utm_campaign values
// the site's touches carry, so that spend joins touches by campaign:
//
//	platform,campaign_id,campaign_name,utm_campaign
//	google_ads,1234567890,,brand_search
//	meta_ads,,Winter Sale 2026,winter_sale
//	,,ABM Q1 Decision Makers,abm_q1
//
// platform is google_ads, meta_ads, linkedin_ads, or empty for any platform; it and one
// of campaign_id and campaign_name may be left out of the header. A row of spend is
// matched by campaign id first, then by campaign name (case-insensitive), each time
// trying the entry of its own platform before an entry for any platform. Without a
// match the campaign is the platform's campaign name as is. An export without names
// (the BigQuery Data Transfer stats tables carry campaign_id only) gets the campaign
// "campaign_id:<id>" for an unmapped id: map those ids. That fallback is deliberate
// and produces no rejection. Generic files are not mapped: they are written in UTM
// values already. A bad mapping file (an unknown platform, a row without campaign id
// and name or without utm_campaign, an id or name mapped to two different values) is
// an extract.ErrConfig error naming its line.
//
// # Currencies
//
// Config.Currency is the reporting currency. A row's currency is its currency cell
// (customer.currency_code, account_currency, Currency, currency), else
// Config.Currency. A cost in another currency is converted with Config.Rates, an
// optional CSV file (same format rules, as for the campaign map):
//
//	date,currency,rate
//	2026-01-05,USD,0.92
//	,GBP,1.17
//
// rate is how many units of the reporting currency 1 unit of currency is worth on
// that day; a row with an empty date holds for any day and is used for the days
// without a rate of their own. The cost becomes cost × rate, unrounded. A cost with no
// rate for its currency and day is rejected, with a reason naming the currency, the
// day and the rates file to fix: costs in different currencies are never summed.
// Rows in the reporting currency need no rate. The currency written is always the
// reporting currency. Without Config.Currency (the command always sets one) nothing
// is converted and each row keeps its own currency; Config.Rates is then a
// configuration error. A bad rates file is an extract.ErrConfig error naming its line.
package spend
