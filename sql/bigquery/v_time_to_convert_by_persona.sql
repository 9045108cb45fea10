-- A row: one persona x CRM funnel conversion type (lead, mql, sql, opportunity, customer)
-- x one first-touch channel, over every loaded day; plus a row per persona and conversion
-- type with channel 'all' (everybody of the persona who reached the type, whatever their
-- channel).
-- Answers: v_time_to_convert's question for each persona (the ideal customers of
-- CLOSEDLOOP_PERSONAS): how long and how many touches it takes that persona's people to
-- become a lead, an mql, ..., a customer, by the channel that brought them in.
-- persona is the persona of the converting person: COALESCE(dim_person.persona,
-- 'Unclassified') on fct_conversion.person_id (a person without a dim_person row is
-- 'Unclassified'). A person's conversions and touches are all of their persona, so a
-- persona's rows are exactly v_time_to_convert's on a warehouse holding only that
-- persona's people.
-- Each person counts once per type, at their FIRST conversion of the type (fct_conversion;
-- touch-log and micro-conversions are left out). channel is the channel of the person's
-- first touch ever (fct_touchpoint; two touches at the same instant: the smaller
-- touchpoint_id), '(none)' for people without any touch, and 'all' on the row of
-- everybody who reached the type.
--   conversions     people of the persona who reached the type (in the channel)
--   avg_touches     mean of touches_before: the person's touches (every channel, selling
--                   activities included) at or before the conversion; 0 when none
--   median_touches  exact (interpolated) median of touches_before
--   p25_days, median_days, p75_days, p90_days
--                   exact, interpolated percentiles (like PERCENTILE_CONT) of
--                   days_from_first_touch: fractional days from the person's first touch
--                   to the conversion. Only people touched at or before the conversion
--                   have one: people without a touch, or whose first touch came after the
--                   conversion (a CRM lead that visited the site later), are counted in
--                   conversions, avg_touches and median_touches (with 0 touches) but left
--                   out of the day percentiles, which are NULL when nobody has one.
-- Averages and percentiles are the persona's own: never average them across personas,
-- nor the 'all' row across channels (recompute). conversions add up across personas and
-- over the channels of a type, never across types (a customer is also a lead).
--
-- BigQuery dialect of sql/duckdb/v_time_to_convert_by_persona.sql: the same columns and
-- numbers. ${dataset} stands for the dataset (the loader substitutes it). The percentiles
-- are PERCENTILE_CONT as an analytic function in a subquery (exact and interpolated, like
-- DuckDB's quantile_cont and PostgreSQL's percentile_cont), not APPROX_QUANTILES; no GROUP
-- BY ALL or pipe syntax (ZetaSQL, load/bigquery/zetasql_test.go, rejects them).
CREATE OR REPLACE VIEW ${dataset}.v_time_to_convert_by_persona AS
WITH first_touch AS (
    SELECT person_id, occurred_at, channel
    FROM (
        SELECT person_id, occurred_at, channel,
               ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY occurred_at, touchpoint_id) AS n
        FROM ${dataset}.fct_touchpoint
    ) AS t
    WHERE n = 1
),
converted AS (
    SELECT person_id, conversion_type, MIN(occurred_at) AS converted_at
    FROM ${dataset}.fct_conversion
    WHERE conversion_type IN ('lead', 'mql', 'sql', 'opportunity', 'customer')
    GROUP BY person_id, conversion_type
),
touched AS (
    SELECT c.person_id, c.conversion_type, COUNT(t.person_id) AS touches_before
    FROM converted AS c
    LEFT JOIN ${dataset}.fct_touchpoint AS t ON t.person_id = c.person_id AND t.occurred_at <= c.converted_at
    GROUP BY c.person_id, c.conversion_type
),
measured AS (
    SELECT COALESCE(dp.persona, 'Unclassified') AS persona,
           c.conversion_type,
           COALESCE(f.channel, '(none)') AS channel,
           CAST(t.touches_before AS FLOAT64) AS touches_before,
           CASE WHEN f.occurred_at <= c.converted_at
                THEN TIMESTAMP_DIFF(c.converted_at, f.occurred_at, MICROSECOND) / 86400000000
           END AS days_from_first_touch
    FROM converted AS c
    JOIN touched AS t ON t.person_id = c.person_id AND t.conversion_type = c.conversion_type
    LEFT JOIN first_touch AS f ON f.person_id = c.person_id
    LEFT JOIN ${dataset}.dim_person AS dp ON dp.person_id = c.person_id
),
segmented AS (
    SELECT persona, conversion_type, channel, touches_before, days_from_first_touch FROM measured
    UNION ALL
    SELECT persona, conversion_type, 'all' AS channel, touches_before, days_from_first_touch FROM measured
)
SELECT
    persona,
    conversion_type,
    channel,
    COUNT(*) AS conversions,
    AVG(touches_before) AS avg_touches,
    MAX(p25_days) AS p25_days,
    MAX(median_days) AS median_days,
    MAX(p75_days) AS p75_days,
    MAX(p90_days) AS p90_days,
    MAX(median_touches) AS median_touches
FROM (
    SELECT persona, conversion_type, channel, touches_before,
           PERCENTILE_CONT(days_from_first_touch, 0.25) OVER w AS p25_days,
           PERCENTILE_CONT(days_from_first_touch, 0.5) OVER w AS median_days,
           PERCENTILE_CONT(days_from_first_touch, 0.75) OVER w AS p75_days,
           PERCENTILE_CONT(days_from_first_touch, 0.9) OVER w AS p90_days,
           PERCENTILE_CONT(touches_before, 0.5) OVER w AS median_touches
    FROM segmented
    WINDOW w AS (PARTITION BY persona, conversion_type, channel)
) AS p
GROUP BY persona, conversion_type, channel;
