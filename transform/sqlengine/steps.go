package sqlengine

// The SQL of each step, as text/template over Dialect.funcs. Work tables ({{t}}) hold
// one row per event (cl_events, cl_classified), per session (cl_sessions) or per row
// of a warehouse table (cl_touchpoints, cl_page_views); the tables Go fills between
// the phases (cl_devices, cl_referrers, cl_channels) hold one row per distinct key.
// Strings are '' rather than NULL inside the steps; NULLIF gives the warehouse its
// NULLs when a row is written.

// flattenSQL is step "flatten": the export's rows of the days read as canonical
// events, with what package ga4 reads of them (extract/ga4/fields.go): the
// parameters, collected_traffic_source before the event's own source parameters, the
// session-scoped last-click campaign on session starts, the purchase's revenue.
const flattenSQL = `CREATE OR REPLACE TABLE {{t "cl_events"}}{{expire}} AS
WITH x AS (
  SELECT
    event_timestamp AS at_us,
    event_name,
    COALESCE(user_pseudo_id, '') AS anon,
    COALESCE(user_id, '') AS user_id,
    {{param "ga_session_id"}} AS session_key,
    {{param "page_location"}} AS page_location,
    {{param "page_title"}} AS page_title,
    {{param "page_referrer"}} AS page_referrer,
    {{param "email"}} AS email,
    {{param "currency"}} AS currency,
    {{param "link_url"}} AS p_link_url,
    {{param "file_name"}} AS p_file_name,
    {{param "entrances"}} AS p_entrances,
    {{number "value"}} AS p_value,
    ecommerce.purchase_revenue AS revenue,
    COALESCE(NULLIF(collected_traffic_source.manual_source, ''), {{param "source"}}) AS src,
    COALESCE(NULLIF(collected_traffic_source.manual_medium, ''), {{param "medium"}}) AS med,
    COALESCE(NULLIF(collected_traffic_source.manual_campaign_name, ''), {{param "campaign"}}) AS campaign,
    COALESCE(NULLIF(collected_traffic_source.manual_term, ''), {{param "term"}}) AS term,
    COALESCE(NULLIF(collected_traffic_source.manual_content, ''), {{param "content"}}) AS content,
    COALESCE(NULLIF(collected_traffic_source.gclid, ''), {{param "gclid"}}) AS gclid,
    COALESCE(collected_traffic_source.dclid, '') AS dclid,
    COALESCE(session_traffic_source_last_click.manual_campaign.source, '') AS lm_source,
    COALESCE(session_traffic_source_last_click.manual_campaign.medium, '') AS lm_medium,
    COALESCE(session_traffic_source_last_click.manual_campaign.campaign_name, '') AS lm_campaign,
    COALESCE(session_traffic_source_last_click.manual_campaign.term, '') AS lm_term,
    COALESCE(session_traffic_source_last_click.manual_campaign.content, '') AS lm_content,
    COALESCE(session_traffic_source_last_click.google_ads_campaign.campaign_name, '') AS la_campaign,
    COALESCE(session_traffic_source_last_click.cross_channel_campaign.source, '') AS lx_source,
    COALESCE(session_traffic_source_last_click.cross_channel_campaign.medium, '') AS lx_medium,
    COALESCE(session_traffic_source_last_click.cross_channel_campaign.campaign_name, '') AS lx_campaign,
    {{suffix}} AS export_day,
    CASE
      WHEN event_timestamp IS NULL THEN 'no event_timestamp'
      WHEN event_timestamp < {{int .MinMicros}} THEN 'event_timestamp before 2000 or not in microseconds'
      WHEN event_timestamp > {{int .MaxMicros}} THEN 'event_timestamp after the run started plus a day of clock skew'
      WHEN COALESCE(event_name, '') = '' THEN 'no event_name'
      WHEN COALESCE(user_pseudo_id, '') = '' AND COALESCE(user_id, '') = '' THEN 'no user_pseudo_id or user_id (consent mode: a cookieless ping)'
      WHEN ROW_NUMBER() OVER (PARTITION BY stream_id, user_pseudo_id, event_name, event_timestamp, {{paramskey}}) > 1
        THEN 'exact duplicate (same stream_id, user_pseudo_id, event_name, event_timestamp and event_params)'
      ELSE '' END AS reject
  FROM {{export}}
  WHERE {{suffix}} BETWEEN {{lit .ReadFrom}} AND {{lit .ReadTo}}
),
y AS (
  SELECT x.*,
    CASE WHEN dclid <> '' AND src = '' AND gclid = '' THEN 'dv360' ELSE src END AS src1,
    CASE WHEN dclid <> '' AND src = '' AND gclid = '' THEN 'cpm' ELSE med END AS med1,
    (event_name IN ('session_start', 'first_visit') OR p_entrances = '1') AS scoped,
    CASE WHEN {{known "la_campaign"}} THEN la_campaign
      WHEN LOWER(lx_source) = 'google' AND LOWER(lx_medium) = 'cpc' THEN lx_campaign
      ELSE la_campaign END AS ads_name
  FROM x
),
z AS (
  SELECT y.*,
    scoped AND src1 = '' AND (gclid <> '' OR {{googleclick "page_location"}}) AS ads_branch,
    scoped AND src1 <> '' AND med1 <> '' AND LOWER(lm_source) = LOWER(src1) AND LOWER(lm_medium) = LOWER(med1) AS same_m,
    scoped AND src1 <> '' AND med1 <> '' AND LOWER(src1) = 'google' AND LOWER(med1) = 'cpc' AND {{known "la_campaign"}} AS same_g,
    scoped AND src1 <> '' AND med1 <> '' AND LOWER(lx_source) = LOWER(src1) AND LOWER(lx_medium) = LOWER(med1) AS same_x
  FROM y
)
SELECT
  at_us,
  event_name,
  CASE WHEN event_name IN ('page_view', 'screen_view') THEN 'page_view' ELSE 'event' END AS kind,
  anon, user_id, email, session_key, page_location, page_title, page_referrer,
  CASE WHEN ads_branch AND {{known "ads_name"}} THEN 'google' ELSE src1 END AS utm_source,
  CASE WHEN ads_branch AND {{known "ads_name"}} THEN 'cpc' ELSE med1 END AS utm_medium,
  CASE
    WHEN campaign <> '' THEN campaign
    WHEN ads_branch AND {{known "ads_name"}} THEN ads_name
    WHEN same_m AND {{known "lm_campaign"}} THEN lm_campaign
    WHEN same_m THEN campaign
    WHEN same_g THEN la_campaign
    WHEN same_x AND {{known "lx_campaign"}} THEN lx_campaign
    ELSE campaign END AS utm_campaign,
  CASE WHEN term = '' AND same_m AND {{known "lm_term"}} THEN lm_term ELSE term END AS utm_term,
  CASE WHEN content = '' AND same_m AND {{known "lm_content"}} THEN lm_content ELSE content END AS utm_content,
  gclid,
  CASE WHEN p_link_url <> '' THEN p_link_url ELSE p_file_name END AS link_url,
  currency,
  CASE WHEN event_name = 'purchase' THEN COALESCE(revenue, p_value) END AS value,
  {{base "page_referrer"}} AS ref_base,
  {{origin "page_location"}} AS page_origin,
  export_day, reject
FROM z`

// rejectsQuery is the export's rows the steps cannot use, per day and reason (package
// ga4 rejects the same rows one by one).
const rejectsQuery = `SELECT export_day, reject, COUNT(*) AS n
FROM {{t "cl_events"}}
WHERE reject <> ''
GROUP BY export_day, reject
ORDER BY export_day, reject`

// eventsQuery is how many of the export's rows the steps use.
const eventsQuery = `SELECT COUNT(*) AS events FROM {{t "cl_events"}} WHERE reject = ''`

// idsQuery is the distinct identifiers the events carry together, with the time each
// combination was first seen: what identity needs of the events (package transform's
// eventNodes), far fewer rows than events.
const idsQuery = `SELECT anon, user_id, email, MIN(at_us) AS first_us
FROM {{t "cl_events"}}
WHERE reject = ''
GROUP BY anon, user_id, email
ORDER BY first_us, anon, user_id, email`

// referrersQuery is the distinct referrers without their query strings, with the
// site they referred to.
const referrersQuery = `SELECT DISTINCT ref_base, page_origin
FROM {{t "cl_events"}}
WHERE ref_base <> '' AND reject = ''`

// classifySQL is step "classify": every event with its device and person
// (cl_devices), the traffic it states or implies (package normalize's Classify: the
// referrer from cl_referrers, click ids and UTM parameters from the URL) and its
// session: by device and the export's ga_session_id, or, without one, split where
// the session timeout passed or (unless kept) the campaign changed.
const classifySQL = `CREATE OR REPLACE TABLE {{t "cl_classified"}}{{expire}} AS
WITH q AS (
  SELECT e.*, d.dev, d.person_id,
    {{query "e.page_location"}} AS pq,
    {{query "e.page_referrer"}} AS rq,
    COALESCE(r.ref_host, '') AS ref_host,
    COALESCE(r.ref_source, '') AS ref_source,
    COALESCE(r.ref_medium, '') AS ref_medium,
    COALESCE(r.ref_engine, '') AS ref_engine,
    COALESCE(r.kw1, '') AS kw1,
    COALESCE(r.kw2, '') AS kw2
  FROM {{t "cl_events"}} AS e
  JOIN {{t "cl_devices"}} AS d ON d.anon = e.anon AND d.user_id = e.user_id AND d.email = e.email
  LEFT JOIN {{t "cl_referrers"}} AS r ON r.ref_base = e.ref_base AND r.page_origin = e.page_origin
  WHERE e.reject = ''{{if .Incremental}} AND e.at_us >= {{int .WalkFromMicros}}{{end}}
),
p AS (
  SELECT q.*,
    {{pick "utm_source" "utm_source"}} AS p_source,
    {{pick "utm_medium" "utm_medium"}} AS p_medium,
    {{pick "utm_campaign" "utm_campaign"}} AS p_campaign,
    {{pick "utm_term" "utm_term"}} AS p_term,
    {{pick "utm_content" "utm_content"}} AS p_content,
    {{trim (qp "utm_source_platform")}} AS p_platform,
    {{clickid}} AS click,
    {{keyword}} AS keyword
  FROM q
),
c AS (
  SELECT p.*,
    (LOWER(p_source) = '(direct)' AND (p_medium = '' OR LOWER(p_medium) IN ('(none)', '(not set)'))) AS own_direct
  FROM p
),
k AS (
  SELECT c.*,
    CASE WHEN own_direct THEN '' ELSE p_source END AS s2,
    CASE WHEN own_direct THEN '' ELSE p_medium END AS m2
  FROM c
),
r AS (
  SELECT k.*,
    CASE WHEN s2 <> '' OR m2 <> '' THEN 1 WHEN {{in "click" .PaidClicks}} THEN 2 WHEN ref_host <> '' THEN 3
      WHEN click <> '' THEN 4 ELSE 5 END AS rule
  FROM k
),
t AS (
  SELECT r.*,
    CASE rule WHEN 1 THEN (CASE WHEN s2 = '' THEN '(not set)' ELSE LOWER(s2) END) WHEN 3 THEN ref_source
      WHEN 5 THEN '(direct)' ELSE {{clicksource "click"}} END AS t_source,
    CASE rule WHEN 1 THEN (CASE WHEN m2 = '' THEN '(not set)' ELSE LOWER(m2) END) WHEN 3 THEN ref_medium
      WHEN 5 THEN '(none)' ELSE {{clickmedium "click"}} END AS t_medium,
    CASE WHEN p_term = '' AND (rule = 3 OR rule = 2 AND ref_engine <> '') THEN keyword ELSE p_term END AS t_term,
    rule < 5 AS explicit,
    (utm_source <> '' OR gclid <> '' OR page_referrer <> '' OR STRPOS(page_location, '?') > 0) AS may_change,
    CASE WHEN event_name = 'first_visit' THEN 0 WHEN event_name = 'session_start' THEN 1 ELSE 2 END AS start_rank
  FROM r
),
s1 AS (
  SELECT t.*,
    ROW_NUMBER() OVER (PARTITION BY dev ORDER BY at_us, start_rank, event_name, page_location, page_referrer, utm_source, utm_medium, utm_campaign) AS seq,
    CASE WHEN rule < 5 THEN CONCAT(t_source, {{sep}}, t_medium, {{sep}}, p_campaign) END AS tkey
  FROM t
),
s2 AS (
  SELECT s1.*,
    session_key = '' AND (LAG(at_us) OVER (PARTITION BY dev ORDER BY seq) IS NULL
      OR LAG(session_key) OVER (PARTITION BY dev ORDER BY seq) <> ''
      OR at_us - LAG(at_us) OVER (PARTITION BY dev ORDER BY seq) > {{int .TimeoutMicros}}) AS new_part
  FROM s1
),
s3 AS (
  SELECT s2.*,
    SUM(CASE WHEN session_key <> '' OR new_part THEN 1 ELSE 0 END) OVER (PARTITION BY dev ORDER BY seq ROWS UNBOUNDED PRECEDING) AS run
  FROM s2
),
s4 AS (
  SELECT s3.*,
    session_key = '' AND NOT new_part AND {{if .KeepSessionOnCampaignChange}}FALSE{{else}}TRUE{{end}} AND may_change AND rule < 5
      AND LAST_VALUE(tkey IGNORE NULLS) OVER (PARTITION BY dev, run ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) <> tkey AS split
  FROM s3
)
SELECT
  at_us, event_name, kind, anon, user_id, email, session_key, page_location, page_title, page_referrer,
  link_url, currency, value, dev, person_id, seq,
  CASE WHEN session_key <> '' THEN CONCAT('k', session_key)
    ELSE CONCAT('u', {{str "SUM(CASE WHEN session_key = '' AND (new_part OR split) THEN 1 ELSE 0 END) OVER (PARTITION BY dev ORDER BY seq ROWS UNBOUNDED PRECEDING)"}}) END AS sess,
  explicit, t_source, t_medium, p_campaign AS t_campaign, t_term, p_content AS t_content, click AS t_click,
  p_platform AS t_platform, ref_host AS t_ref_host
FROM s4`

// sessionsSQL is step "sessions": one row per session with its first event's cookie,
// its landing URL and the traffic of its earliest explicit event (none: direct).
const sessionsSQL = `CREATE OR REPLACE TABLE {{t "cl_sessions"}}{{expire}} AS
SELECT
  dev, sess,
  MIN(at_us) AS start_us,
  MIN(person_id) AS person_id,
  {{first "anon" "seq" "TRUE"}} AS anon,
  {{first "session_key" "seq" "TRUE"}} AS session_key,
  {{first "page_location" "seq" "page_location <> ''"}} AS landing_url,
  {{any "explicit"}} AS has_traffic,
  {{first "t_source" "seq" "explicit"}} AS t_source,
  {{first "t_medium" "seq" "explicit"}} AS t_medium,
  {{first "t_campaign" "seq" "explicit"}} AS t_campaign,
  {{first "t_term" "seq" "explicit"}} AS t_term,
  {{first "t_content" "seq" "explicit"}} AS t_content,
  {{first "t_click" "seq" "explicit"}} AS t_click,
  {{first "t_platform" "seq" "explicit"}} AS t_platform,
  {{first "t_ref_host" "seq" "explicit"}} AS t_ref_host
FROM {{t "cl_classified"}}
GROUP BY dev, sess`

// trafficQuery is the distinct traffic of the sessions, which Go groups into channels
// (cl_channels) by the run's channel rules.
const trafficQuery = `SELECT DISTINCT t_source, t_medium, t_campaign, t_term, t_content, t_click, t_platform
FROM {{t "cl_sessions"}}
WHERE has_traffic`

// touchesSQL is step "touches": every touch of the sessions read, a session start per
// session and a row per tracked interaction (Options.TouchEvents) with its session's
// traffic, in fct_touchpoint's columns with the time in µs (at_us): the journeys read
// them all, fct_touchpoint gets those of the range.
const touchesSQL = `CREATE OR REPLACE TABLE {{t "cl_touches"}}{{expire}} AS
WITH s AS (
  SELECT dev, sess, start_us, person_id, anon, landing_url,
    {{id "s_" "CONCAT(anon, '|', CASE WHEN session_key <> '' THEN session_key ELSE CAST(start_us AS STRING) END)"}} AS session_id,
    CASE WHEN has_traffic THEN t_source ELSE '(direct)' END AS source,
    CASE WHEN has_traffic THEN t_medium ELSE '(none)' END AS medium,
    CASE WHEN has_traffic THEN t_campaign ELSE '' END AS campaign,
    CASE WHEN has_traffic THEN t_term ELSE '' END AS term,
    CASE WHEN has_traffic THEN t_content ELSE '' END AS content,
    CASE WHEN has_traffic THEN t_click ELSE '' END AS click,
    CASE WHEN has_traffic THEN t_platform ELSE '' END AS platform,
    CASE WHEN has_traffic THEN t_ref_host ELSE '' END AS ref_host
  FROM {{t "cl_sessions"}}
),
sc AS (
  SELECT s.*, ch.channel, ch.term_out
  FROM s
  JOIN {{t "cl_channels"}} AS ch
    ON ch.t_source = s.source AND ch.t_medium = s.medium AND ch.t_campaign = s.campaign AND ch.t_term = s.term
    AND ch.t_content = s.content AND ch.t_click = s.click AND ch.t_platform = s.platform
),
tp_rows AS (
  SELECT person_id, anon, session_id, start_us AS at_us, channel, source, medium, campaign, term_out AS term, content,
    landing_url AS url, ref_host, 'session_start' AS event_name, 0 AS kind
  FROM sc
  UNION ALL
  SELECT sc.person_id, sc.anon, sc.session_id, e.at_us, sc.channel, sc.source, sc.medium, sc.campaign, sc.term_out, sc.content,
    e.page_location, sc.ref_host, e.event_name, 1
  FROM {{t "cl_classified"}} AS e
  JOIN sc ON sc.dev = e.dev AND sc.sess = e.sess
  WHERE {{in "e.event_name" .TouchEvents}}
)
SELECT
  {{id "t_" "CONCAT(CAST(kind AS STRING), '|', session_id, '|', CAST(at_us AS STRING), '|', event_name, '|', CAST(ROW_NUMBER() OVER (PARTITION BY kind, session_id, at_us, event_name ORDER BY url) AS STRING))"}} AS touchpoint_id,
  person_id, NULLIF(anon, '') AS anonymous_id, session_id, at_us, channel,
  NULLIF(source, '') AS source, NULLIF(medium, '') AS medium, NULLIF(campaign, '') AS campaign, NULLIF(term, '') AS term,
  NULLIF(content, '') AS content, NULLIF({{path "url"}}, '') AS landing_page, NULLIF(ref_host, '') AS referrer_host,
  event_name
FROM tp_rows{{if .Incremental}}
WHERE at_us >= {{int .SinceMicros}}{{end}}`

// touchpointsSQL is step "touchpoints": fct_touchpoint's rows of the range.
const touchpointsSQL = `CREATE OR REPLACE TABLE {{t "cl_touchpoints"}}{{expire}} AS
SELECT touchpoint_id, person_id, anonymous_id, session_id, {{ts "at_us"}} AS occurred_at, channel, source, medium, campaign,
  term, content, landing_page, referrer_host, event_name
FROM {{t "cl_touches"}}
WHERE at_us >= {{int .FromMicros}} AND at_us < {{int .EndMicros}}`

// pageViewsSQL is step "page views": fct_page_view's rows of the range.
const pageViewsSQL = `CREATE OR REPLACE TABLE {{t "cl_page_views"}}{{expire}} AS
SELECT
  e.person_id, NULLIF(e.anon, '') AS anonymous_id,
  {{id "s_" "CONCAT(s.anon, '|', CASE WHEN s.session_key <> '' THEN s.session_key ELSE CAST(s.start_us AS STRING) END)"}} AS session_id,
  {{ts "e.at_us"}} AS occurred_at,
  NULLIF(e.page_location, '') AS page_location,
  NULLIF({{path "e.page_location"}}, '') AS page_path,
  NULLIF(e.page_title, '') AS page_title,
  NULLIF({{host "e.page_referrer"}}, '') AS referrer_host
FROM {{t "cl_classified"}} AS e
JOIN {{t "cl_sessions"}} AS s ON s.dev = e.dev AND s.sess = e.sess
WHERE e.kind = 'page_view' AND e.at_us >= {{int .FromMicros}} AND e.at_us < {{int .EndMicros}}`

// countsQuery is what the sessions steps made, for the run's statistics.
const countsQuery = `SELECT
  (SELECT COUNT(*) FROM {{t "cl_events"}} WHERE reject = '') AS events,
  (SELECT COUNT(*) FROM {{t "cl_sessions"}}) AS sessions,
  (SELECT COUNT(*) FROM {{t "cl_touchpoints"}}) AS touchpoints,
  (SELECT COUNT(*) FROM {{t "cl_page_views"}}) AS page_views`

// lastSeenQuery is each device's last event (the persons step's last_seen_at).
const lastSeenQuery = `SELECT dev, MAX(at_us) AS last_us FROM {{t "cl_classified"}} GROUP BY dev`

// seenQuery is what the persona rules read of each device's events: distinct pages
// viewed, files downloaded and event names (only the kinds .Needs asks for).
const seenQuery = `SELECT DISTINCT dev, kind, value FROM (
  SELECT dev, 'page' AS kind, {{path "page_location"}} AS value FROM {{t "cl_classified"}} WHERE {{.NeedPages}} AND kind = 'page_view'
  UNION ALL
  SELECT dev, 'download', link_url FROM {{t "cl_classified"}} WHERE {{.NeedDownloads}} AND STRPOS(LOWER(event_name), 'download') > 0
  UNION ALL
  SELECT dev, 'event', event_name FROM {{t "cl_classified"}} WHERE {{.NeedEvents}}
) AS x
WHERE value <> ''`

// conversionsQuery is the events that are conversions (Options.MicroConversions by
// name), with their value.
const conversionsQuery = `SELECT dev, at_us, anon, event_name, COALESCE(value, {{nan}}) AS value, currency
FROM {{t "cl_classified"}}
WHERE {{in "event_name" .MicroConversions}}`

// journeysSQL is step "journeys": each conversion's touches (cl_conversions, which Go
// wrote with each journey's start) in order, the engine's and Go's (cl_go_touches);
// then each conversion's journey shape: its channels and milestone positions.
const journeysSQL = `CREATE OR REPLACE TABLE {{t "cl_journeys"}}{{expire}} AS
WITH touches AS (
  SELECT touchpoint_id, person_id, at_us, channel, COALESCE(campaign, '') AS campaign, COALESCE(term, '') AS term
  FROM {{t "cl_touches"}}
  WHERE {{if .AttributeSalesTouches}}TRUE{{else}}NOT STARTS_WITH(channel, {{lit .SalesPrefix}}){{end}}
  UNION ALL
  SELECT touchpoint_id, person_id, at_us, channel, campaign, term FROM {{t "cl_go_touches"}}
)
SELECT c.conversion_id, t.touchpoint_id, t.at_us, t.channel, t.campaign, t.term,
  ROW_NUMBER() OVER (PARTITION BY c.conversion_id ORDER BY t.at_us, t.touchpoint_id) - 1 AS pos
FROM {{t "cl_conversions"}} AS c
JOIN touches AS t ON t.person_id = c.person_id AND t.at_us >= c.from_us AND t.at_us <= c.at_us`

const shapesSQL = `CREATE OR REPLACE TABLE {{t "cl_journey_shapes"}}{{expire}} AS
SELECT c.conversion_id, c.conversion_type, c.attributed, c.revenue,
  STRING_AGG(j.channel, {{sep}} ORDER BY j.pos) AS path,
  COUNT(*) AS n,
  CASE WHEN c.lead_ref = 0 THEN -1 ELSE SUM(CASE WHEN j.at_us <= c.lead_ref THEN 1 ELSE 0 END) - 1 END AS lead_idx,
  CASE WHEN c.opp_ref = 0 THEN -1 ELSE SUM(CASE WHEN j.at_us <= c.opp_ref THEN 1 ELSE 0 END) - 1 END AS opp_idx,
  CASE WHEN c.won_ref = 0 THEN -1 ELSE SUM(CASE WHEN j.at_us <= c.won_ref THEN 1 ELSE 0 END) - 1 END AS won_idx
FROM {{t "cl_conversions"}} AS c
JOIN {{t "cl_journeys"}} AS j ON j.conversion_id = c.conversion_id
GROUP BY c.conversion_id, c.conversion_type, c.attributed, c.revenue, c.lead_ref, c.opp_ref, c.won_ref`

// shapesQuery is the distinct journeys of the conversions credited this run: Go
// weighs each once per model.
const shapesQuery = `SELECT conversion_type, path, lead_idx, opp_idx, won_idx
FROM {{t "cl_journey_shapes"}}
WHERE attributed = 1
GROUP BY conversion_type, path, lead_idx, opp_idx, won_idx
ORDER BY conversion_type, path, lead_idx, opp_idx, won_idx`

// convPathsQuery is the converting paths per type (the data-driven models' fit).
const convPathsQuery = `SELECT conversion_type, path, COUNT(*) AS conversions, SUM(COALESCE(revenue, 0)) AS value
FROM {{t "cl_journey_shapes"}}
GROUP BY conversion_type, path
ORDER BY conversion_type, path`

// nullPathsQuery is, per conversion type, each person's touches since the last
// conversion of the type within the lookback of the last touch: the paths that did
// not convert (package transform's journeys.paths).
const nullPathsQuery = `WITH touches AS (
  SELECT touchpoint_id, person_id, at_us, channel FROM {{t "cl_touches"}}
  WHERE {{if .AttributeSalesTouches}}TRUE{{else}}NOT STARTS_WITH(channel, {{lit .SalesPrefix}}){{end}}
  UNION ALL
  SELECT touchpoint_id, person_id, at_us, channel FROM {{t "cl_go_touches"}}
),
last_touch AS (SELECT person_id, MAX(at_us) AS last_us FROM touches GROUP BY person_id),
types AS (SELECT DISTINCT conversion_type FROM {{t "cl_conversions"}}),
last_conv AS (SELECT person_id, conversion_type, MAX(at_us) AS last_us FROM {{t "cl_conversions"}} GROUP BY person_id, conversion_type),
starts AS (
  SELECT p.person_id, ty.conversion_type,
    CASE WHEN lc.last_us IS NOT NULL AND lc.last_us + 1 > p.last_us - {{int .LookbackMicros}} THEN lc.last_us + 1
      ELSE p.last_us - {{int .LookbackMicros}} END AS from_us
  FROM last_touch AS p
  CROSS JOIN types AS ty
  LEFT JOIN last_conv AS lc ON lc.person_id = p.person_id AND lc.conversion_type = ty.conversion_type
),
paths AS (
  SELECT s.conversion_type, STRING_AGG(t.channel, {{sep}} ORDER BY t.at_us, t.touchpoint_id) AS path
  FROM starts AS s
  JOIN touches AS t ON t.person_id = s.person_id AND t.at_us >= s.from_us
  GROUP BY s.person_id, s.conversion_type
)
SELECT conversion_type, path, COUNT(*) AS null_paths
FROM paths
GROUP BY conversion_type, path
ORDER BY conversion_type, path`

// creditsSQL is step "credits": fct_attribution's rows of the conversions credited
// this run: each touch of a journey with the weight Go's model gave its position in
// the journey's shape (cl_weights), time_decay from the touch times, and one (none)
// row per model for a conversion without touches.
const creditsSQL = `CREATE OR REPLACE TABLE {{t "cl_attribution"}}{{expire}} AS
WITH j AS (
  SELECT j.*, s.conversion_type, s.path, s.lead_idx, s.opp_idx, s.won_idx, s.revenue
  FROM {{t "cl_journeys"}} AS j
  JOIN {{t "cl_journey_shapes"}} AS s ON s.conversion_id = j.conversion_id
  WHERE s.attributed = 1
),
w AS (
  SELECT j.conversion_id, j.touchpoint_id, wt.model, wt.weight AS credit, j.revenue, j.channel, j.campaign, j.term, j.at_us
  FROM j
  JOIN {{t "cl_weights"}} AS wt
    ON wt.conversion_type = j.conversion_type AND wt.path = j.path AND wt.lead_idx = j.lead_idx
    AND wt.opp_idx = j.opp_idx AND wt.won_idx = j.won_idx AND wt.pos = j.pos
  {{- if .HalfLife}}
  UNION ALL
  SELECT conversion_id, touchpoint_id, 'time_decay', raw / SUM(raw) OVER (PARTITION BY conversion_id),
    revenue, channel, campaign, term, at_us
  FROM (
    SELECT j.*, POW(2, -(MAX(at_us) OVER (PARTITION BY conversion_id) - at_us) / {{.HalfLife}}) AS raw
    FROM j
  ) AS td
  {{- end}}
),
none AS (
  SELECT c.conversion_id, m.model
  FROM {{t "cl_conversions"}} AS c
  CROSS JOIN {{t "cl_models"}} AS m
  WHERE c.attributed = 1 AND NOT EXISTS (SELECT 1 FROM {{t "cl_journeys"}} AS j WHERE j.conversion_id = c.conversion_id)
)
SELECT w.conversion_id, w.touchpoint_id, w.model, w.credit, w.credit * w.revenue AS revenue_credit, w.channel,
  NULLIF(w.campaign, '') AS campaign, NULLIF(w.term, '') AS term, c.conversion_type, {{ts "c.at_us"}} AS occurred_at,
  {{ts "w.at_us"}} AS touch_occurred_at, c.person_id, 'person' AS scope, c.person_id AS touch_person_id
FROM w
JOIN {{t "cl_conversions"}} AS c ON c.conversion_id = w.conversion_id
WHERE w.credit > 0
UNION ALL
SELECT c.conversion_id, CAST(NULL AS STRING), n.model, 1, c.revenue, '(none)', CAST(NULL AS STRING), CAST(NULL AS STRING),
  c.conversion_type, {{ts "c.at_us"}}, {{ts "CAST(NULL AS INT64)"}}, c.person_id, 'person', CAST(NULL AS STRING)
FROM none AS n
JOIN {{t "cl_conversions"}} AS c ON c.conversion_id = n.conversion_id`

// creditCountsQuery is the journeys credited and those without a touch.
const creditCountsQuery = `SELECT
  (SELECT COUNT(*) FROM {{t "cl_conversions"}} WHERE attributed = 1) AS journeys,
  (SELECT COUNT(*) FROM {{t "cl_conversions"}} AS c WHERE attributed = 1
    AND NOT EXISTS (SELECT 1 FROM {{t "cl_journeys"}} AS j WHERE j.conversion_id = c.conversion_id)) AS without_touch`
