-- closedloop's nightly job in DuckDB SQL only, as a data team would write it: the GA4
-- BigQuery export (NDJSON.gz day files) and a HubSpot export folder -> sessions by
-- ga_session_id, a GA4 default channel CASE, cookie -> contact by the stored client id
-- and a shared user_id, lead and customer conversions, journeys over the lookback window
-- and five heuristic models with window functions. bench/peer fills in ${...}:
-- GA4_GLOB, HUBSPOT_DIR, FROM, TO (days, UTC), LOOKBACK_DAYS, HALF_LIFE_DAYS.
SET preserve_insertion_order = false;

CREATE TEMP MACRO url_param(u, k) AS
  nullif(url_decode(replace(regexp_extract(u, '[?&]' || k || '=([^&#]*)', 1), '+', ' ')), '');
CREATE TEMP MACRO url_host(u) AS
  regexp_replace(lower(regexp_extract(u, '^[a-zA-Z][a-zA-Z0-9+.-]*://([^/:?#]+)', 1)), '^www\.', '');
CREATE TEMP MACRO reg_domain(h) AS regexp_extract(h, '([^.]+\.[^.]+)$', 1);
-- HubSpot dates come as ISO strings or epoch milliseconds; everything here is µs since the epoch.
CREATE TEMP MACRO hs_time(v) AS CASE
  WHEN trim(coalesce(v, '')) = '' THEN NULL
  WHEN regexp_full_match(v, '[0-9]+') THEN v::BIGINT * 1000
  ELSE epoch_us(v::TIMESTAMPTZ) END;
CREATE TEMP MACRO search_engine(h) AS
  regexp_extract(h, '(^|\.)(google|bing|yahoo|baidu|duckduckgo|yandex|ecosia|naver)\.', 2);
-- An event's traffic source, NULL when it carries no campaign information: UTMs, a
-- Google click id, an external referrer (search engines organic), an fbclid.
CREATE TEMP MACRO utm(page, explicit, k) AS lower(coalesce(nullif(explicit, ''), url_param(page, k)));
CREATE TEMP MACRO external_host(page, referrer) AS
  CASE WHEN reg_domain(url_host(referrer)) <> reg_domain(url_host(page)) THEN url_host(referrer) END;
CREATE TEMP MACRO traffic_of(page, referrer, cts) AS CASE
  WHEN utm(page, cts.manual_source, 'utm_source') IS NOT NULL OR utm(page, cts.manual_medium, 'utm_medium') IS NOT NULL
    THEN {'s': coalesce(utm(page, cts.manual_source, 'utm_source'), '(not set)'),
          'm': coalesce(utm(page, cts.manual_medium, 'utm_medium'), '(not set)'),
          'c': coalesce(nullif(cts.manual_campaign_name, ''), url_param(page, 'utm_campaign'))}
  WHEN coalesce(nullif(cts.gclid, ''), url_param(page, 'gclid'), url_param(page, 'gbraid'), url_param(page, 'wbraid')) IS NOT NULL
    THEN {'s': 'google', 'm': 'cpc', 'c': url_param(page, 'utm_campaign')}
  WHEN search_engine(external_host(page, referrer)) <> ''
    THEN {'s': search_engine(external_host(page, referrer)), 'm': 'organic', 'c': url_param(page, 'utm_campaign')}
  WHEN external_host(page, referrer) <> ''
    THEN {'s': external_host(page, referrer), 'm': 'referral', 'c': url_param(page, 'utm_campaign')}
  WHEN url_param(page, 'fbclid') IS NOT NULL
    THEN {'s': 'facebook', 'm': 'referral', 'c': url_param(page, 'utm_campaign')} END;
CREATE TEMP MACRO is_paid(m) AS regexp_full_match(m, '.*cp.*|ppc|retargeting|paid.*');
CREATE TEMP MACRO is_search(s) AS s IN ('google', 'bing', 'yahoo', 'baidu', 'duckduckgo', 'yandex', 'ecosia', 'naver');
CREATE TEMP MACRO is_social(s) AS regexp_full_match(s,
  '((l|m|lm)\.)?(facebook|fb|instagram|linkedin|lnkd|t|twitter|x|tiktok|reddit|pinterest|snapchat|quora|stackoverflow|tumblr|threads|bsky|messenger|whatsapp)(\.(com|co|in|net|app))?');
CREATE TEMP MACRO is_video(s) AS regexp_full_match(s, '((m|www)\.)?(youtube|vimeo|twitch|dailymotion|wistia)(\.com|\.tv)?');
-- GA4's default channel group (support.google.com/analytics/answer/9756891), in Google's order.
CREATE TEMP MACRO ga4_channel(src, med, camp) AS CASE
  WHEN src = '(direct)' AND med IN ('(none)', '(not set)') THEN 'Direct'
  WHEN camp LIKE '%cross-network%' THEN 'Cross-network'
  WHEN regexp_matches(camp, '(^|[^a-df-z])shop|shopping') AND is_paid(med) THEN 'Paid Shopping'
  WHEN is_search(src) AND is_paid(med) THEN 'Paid Search'
  WHEN is_social(src) AND is_paid(med) THEN 'Paid Social'
  WHEN is_video(src) AND is_paid(med) THEN 'Paid Video'
  WHEN med IN ('display', 'banner', 'expandable', 'interstitial', 'cpm') THEN 'Display'
  WHEN is_paid(med) THEN 'Paid Other'
  WHEN is_social(src) OR med IN ('social', 'social-network', 'social-media', 'sm', 'social network', 'social media') THEN 'Organic Social'
  WHEN is_video(src) OR med LIKE '%video%' THEN 'Organic Video'
  WHEN is_search(src) OR med = 'organic' THEN 'Organic Search'
  WHEN med IN ('referral', 'app', 'link') THEN 'Referral'
  WHEN src IN ('email', 'e-mail', 'e_mail', 'e mail') OR med IN ('email', 'e-mail', 'e_mail', 'e mail') THEN 'Email'
  WHEN med = 'affiliate' THEN 'Affiliates'
  WHEN med = 'audio' THEN 'Audio'
  WHEN src = 'sms' OR med = 'sms' THEN 'SMS'
  WHEN med LIKE '%push' OR med LIKE '%mobile%' OR med LIKE '%notification%' OR src = 'firebase' THEN 'Mobile Push Notifications'
  ELSE 'Unassigned' END;

-- Sessions: ga_session_id per user_pseudo_id, one pass over the export. A session's
-- source is its first event with campaign information, else direct.
CREATE TABLE sessions AS
WITH raw AS (
  SELECT user_pseudo_id AS cookie, nullif(user_id, '') AS user_id, event_timestamp AS ts,
         list_filter(event_params, p -> p.key = 'ga_session_id')[1].value.int_value AS ga_session_id,
         list_filter(event_params, p -> p.key = 'page_location')[1].value.string_value AS page,
         list_filter(event_params, p -> p.key = 'page_referrer')[1].value.string_value AS referrer,
         collected_traffic_source AS cts
  FROM read_json('${GA4_GLOB}', format = 'newline_delimited', columns = {
    event_timestamp: 'BIGINT', user_pseudo_id: 'VARCHAR', user_id: 'VARCHAR',
    event_params: 'STRUCT(key VARCHAR, value STRUCT(string_value VARCHAR, int_value BIGINT))[]',
    collected_traffic_source: 'STRUCT(manual_source VARCHAR, manual_medium VARCHAR, manual_campaign_name VARCHAR, gclid VARCHAR)'})
  WHERE user_pseudo_id IS NOT NULL),
traffic AS (
  SELECT cookie, user_id, ts, ga_session_id,
         CASE WHEN cts IS NOT NULL OR contains(page, '?') OR split_part(referrer, '/', 3) <> split_part(page, '/', 3)
              THEN traffic_of(page, referrer, cts) END AS src
  FROM raw)
SELECT cookie, ga_session_id, min(ts) AS start_ts, count(*) AS events,
       min(user_id) AS user_id, arg_min(src, ts) FILTER (WHERE src IS NOT NULL) AS src
FROM traffic GROUP BY cookie, ga_session_id;

-- HubSpot: contacts (the GA client id stored on them, _ga cookie prefix dropped), won
-- deals by the pipelines' stage metadata, each deal's primary contact (else the smallest id).
CREATE TABLE contacts AS
SELECT id AS contact_id,
       nullif(regexp_replace(trim(properties.ga_client_id), '^(_ga=)?GA[0-9]+\.[0-9]+\.', ''), '') AS cookie,
       coalesce(hs_time(properties.hs_lifecyclestage_lead_date), hs_time(properties.createdate)) AS lead_ts
FROM read_json('${HUBSPOT_DIR}/contacts.ndjson', format = 'newline_delimited', columns = {id: 'VARCHAR', archived: 'BOOLEAN',
  properties: 'STRUCT(createdate VARCHAR, hs_lifecyclestage_lead_date VARCHAR, ga_client_id VARCHAR)'})
WHERE NOT coalesce(archived, false);

CREATE TABLE deals AS
WITH stages AS (
  SELECT r.p.id AS pipeline, u.s.id AS stage,
         u.s.metadata.isClosed = 'true' AND TRY_CAST(u.s.metadata.probability AS DOUBLE) >= 1 AS won
  FROM (SELECT unnest(results) AS p FROM read_json('${HUBSPOT_DIR}/pipelines.json', columns = {results:
          'STRUCT(id VARCHAR, stages STRUCT(id VARCHAR, metadata STRUCT(isClosed VARCHAR, probability VARCHAR))[])[]'})) r,
       unnest(r.p.stages) AS u(s)),
primary_contact AS (
  SELECT deal_id, arg_min(contact_id, [NOT is_primary::INT, contact_id::BIGINT]) AS contact_id
  FROM (SELECT "from".id AS deal_id, a.t.toObjectId::VARCHAR AS contact_id,
               list_contains(list_transform(a.t.associationTypes, x -> x.typeId), 5) AS is_primary
        FROM read_json('${HUBSPOT_DIR}/deal_contacts.ndjson', format = 'newline_delimited', columns = {
               "from": 'STRUCT(id VARCHAR)', "to": 'STRUCT(toObjectId BIGINT, associationTypes STRUCT(typeId INTEGER)[])[]'}) d,
             unnest(d."to") AS a(t))
  GROUP BY deal_id)
SELECT d.id AS deal_id, pc.contact_id, TRY_CAST(d.properties.amount AS DOUBLE) AS amount,
       coalesce(hs_time(d.properties.closedate), hs_time(d.properties.createdate)) AS closed_ts
FROM read_json('${HUBSPOT_DIR}/deals.ndjson', format = 'newline_delimited', columns = {id: 'VARCHAR', archived: 'BOOLEAN',
       properties: 'STRUCT(amount VARCHAR, closedate VARCHAR, createdate VARCHAR, dealstage VARCHAR, pipeline VARCHAR)'}) d
JOIN stages s ON s.pipeline = d.properties.pipeline AND s.stage = d.properties.dealstage
LEFT JOIN primary_contact pc ON pc.deal_id = d.id
WHERE s.won AND NOT coalesce(d.archived, false);

-- Identity: cookies sharing a user_id are one person; a person with a contact (its stored
-- client id is one of the person's cookies) is that contact.
CREATE TABLE person_map AS
WITH cookie_group AS (
  SELECT cookie, coalesce('u:' || min(user_id), 'c:' || cookie) AS grp FROM sessions GROUP BY cookie),
group_contact AS (
  SELECT g.grp, min(c.contact_id) AS contact_id FROM contacts c JOIN cookie_group g USING (cookie) GROUP BY g.grp)
SELECT 'cookie' AS kind, g.cookie AS id, coalesce('hs:' || gc.contact_id, g.grp) AS person
FROM cookie_group g LEFT JOIN group_contact gc USING (grp)
UNION ALL
SELECT 'contact', c.contact_id, coalesce('hs:' || gc.contact_id, 'hs:' || c.contact_id)
FROM contacts c LEFT JOIN cookie_group g USING (cookie) LEFT JOIN group_contact gc USING (grp);

-- Touches: one per session, at its first event, with its channel.
CREATE TABLE peer_touchpoint AS
SELECT m.person, s.cookie || ':' || s.ga_session_id AS touchpoint_id, s.start_ts AS ts,
       ga4_channel(coalesce(s.src.s, '(direct)'), coalesce(s.src.m, '(none)'), lower(coalesce(s.src.c, ''))) AS channel
FROM sessions s JOIN person_map m ON m.kind = 'cookie' AND m.id = s.cookie;

-- Conversions: a lead per contact (lead date, else creation), a customer per won deal
-- (close date, revenue = amount). A repeated conversion of a type looks back only to the previous one.
CREATE TABLE peer_conversion AS
WITH conv AS (
  SELECT 'lead:' || c.contact_id AS conversion_id, m.person, 'lead' AS conversion_type, c.lead_ts AS ts, NULL::DOUBLE AS revenue
  FROM contacts c JOIN person_map m ON m.kind = 'contact' AND m.id = c.contact_id
  WHERE c.lead_ts IS NOT NULL
  UNION ALL
  SELECT 'customer:' || d.deal_id, coalesce(m.person, 'deal:' || d.deal_id), 'customer', d.closed_ts, d.amount
  FROM deals d LEFT JOIN person_map m ON m.kind = 'contact' AND m.id = d.contact_id)
SELECT *, ts >= epoch_us(DATE '${FROM}') AND ts < epoch_us(DATE '${TO}' + 1) AS in_range,
       greatest(ts - ${LOOKBACK_DAYS} * 86400000000,
                coalesce(lag(ts) OVER (PARTITION BY person, conversion_type ORDER BY ts, conversion_id) + 1, 0)) AS journey_from
FROM conv;

-- Journeys (the person's touches from journey_from up to and including the conversion)
-- and five models; a conversion without touches gets one '(none)' row.
CREATE TABLE peer_attribution AS
WITH j AS (
  SELECT c.conversion_id, c.conversion_type, c.ts AS conv_ts, c.revenue, t.touchpoint_id, t.ts,
         coalesce(t.channel, '(none)') AS channel,
         row_number() OVER (PARTITION BY c.conversion_id ORDER BY t.ts, t.touchpoint_id) AS i,
         count(t.ts) OVER (PARTITION BY c.conversion_id) AS n,
         max(t.ts) OVER (PARTITION BY c.conversion_id) AS newest
  FROM peer_conversion c LEFT JOIN peer_touchpoint t ON t.person = c.person AND t.ts BETWEEN c.journey_from AND c.ts
  WHERE c.in_range),
w AS (
  SELECT *, coalesce(pow(2, -(newest - ts) / (${HALF_LIFE_DAYS} * 86400e6)), 1) AS decay FROM j),
credits AS (
  SELECT conversion_id, conversion_type, conv_ts, revenue, touchpoint_id, ts, channel,
         (i = 1)::DOUBLE AS first_touch,
         (i = greatest(n, 1))::DOUBLE AS last_touch,
         1 / greatest(n, 1) AS linear,
         decay / sum(decay) OVER (PARTITION BY conversion_id) AS time_decay,
         CASE WHEN n <= 1 THEN 1 WHEN n = 2 THEN 0.5 WHEN i = 1 OR i = n THEN 0.4 ELSE 0.2 / (n - 2) END AS position_based
  FROM w)
SELECT conversion_id, conversion_type, conv_ts, touchpoint_id, ts AS touch_ts, channel, model, credit, credit * revenue AS revenue_credit
FROM credits UNPIVOT (credit FOR model IN (first_touch, last_touch, linear, time_decay, position_based));

CREATE TABLE peer_stats AS
SELECT (SELECT sum(events) FROM sessions) AS events, (SELECT count(*) FROM sessions) AS sessions,
       (SELECT count(DISTINCT person) FROM person_map) AS persons,
       (SELECT count(*) FROM peer_conversion WHERE in_range) AS conversions;
