-- closedloop on a flat touch log (the public "Multi-Touch Attribution" layout
-- cookie,time,interaction,conversion,conversion_value,channel) in DuckDB SQL only: every
-- row is a touch of its cookie, a row with interaction = 'conversion' (or the conversion
-- flag) is also a conversion worth conversion_value, journeys over the lookback window
-- and five heuristic models. bench/peer fills in ${...}: TOUCH_FILE, FROM, TO,
-- LOOKBACK_DAYS, HALF_LIFE_DAYS.
SET preserve_insertion_order = false;

CREATE TABLE peer_touchpoint AS
SELECT trim(cookie) AS person, epoch_us(time) AS ts, trim(channel) AS channel, interaction,
       lower(interaction) = 'conversion' OR coalesce(conversion, 0) <> 0 AS is_conversion,
       conversion_value
FROM read_csv('${TOUCH_FILE}', header = true, columns = {cookie: 'VARCHAR', time: 'TIMESTAMPTZ',
  interaction: 'VARCHAR', conversion: 'INTEGER', conversion_value: 'DOUBLE', channel: 'VARCHAR'});

-- A repeated conversion of a cookie looks back only to its previous one.
CREATE TABLE peer_conversion AS
SELECT row_number() OVER (ORDER BY person, ts, channel) AS conversion_id, person, interaction AS conversion_type,
       ts, conversion_value AS revenue,
       ts >= epoch_us(DATE '${FROM}') AND ts < epoch_us(DATE '${TO}' + 1) AS in_range,
       greatest(ts - ${LOOKBACK_DAYS} * 86400000000,
                coalesce(lag(ts) OVER (PARTITION BY person, interaction ORDER BY ts, channel) + 1, 0)) AS journey_from
FROM peer_touchpoint WHERE is_conversion;

-- Journeys (the cookie's touches from journey_from up to and including the conversion,
-- the conversion's own row among them; ties in time ordered by channel) and five models;
-- a conversion without touches gets one '(none)' row.
CREATE TABLE peer_attribution AS
WITH j AS (
  SELECT c.conversion_id, c.conversion_type, c.ts AS conv_ts, c.revenue, t.ts, coalesce(t.channel, '(none)') AS channel,
         row_number() OVER (PARTITION BY c.conversion_id ORDER BY t.ts, t.channel) AS i,
         count(t.ts) OVER (PARTITION BY c.conversion_id) AS n,
         max(t.ts) OVER (PARTITION BY c.conversion_id) AS newest
  FROM peer_conversion c LEFT JOIN peer_touchpoint t ON t.person = c.person AND t.ts BETWEEN c.journey_from AND c.ts
  WHERE c.in_range),
credits AS (
  SELECT conversion_id, conversion_type, conv_ts, revenue, ts, channel,
         (i = 1)::DOUBLE AS first_touch,
         (i = greatest(n, 1))::DOUBLE AS last_touch,
         1 / greatest(n, 1) AS linear,
         coalesce(pow(2, -(newest - ts) / (${HALF_LIFE_DAYS} * 86400e6))
           / sum(pow(2, -(newest - ts) / (${HALF_LIFE_DAYS} * 86400e6))) OVER (PARTITION BY conversion_id), 1) AS time_decay,
         CASE WHEN n <= 1 THEN 1 WHEN n = 2 THEN 0.5 WHEN i = 1 OR i = n THEN 0.4 ELSE 0.2 / (n - 2) END AS position_based
  FROM j)
SELECT conversion_id, conversion_type, conv_ts, ts AS touch_ts, channel, model, credit, credit * revenue AS revenue_credit
FROM credits UNPIVOT (credit FOR model IN (first_touch, last_touch, linear, time_decay, position_based));

CREATE TABLE peer_stats AS
SELECT (SELECT count(*) FROM peer_touchpoint) AS events, (SELECT count(DISTINCT person) FROM peer_touchpoint) AS persons,
       (SELECT count(*) FROM peer_conversion WHERE in_range) AS conversions;
