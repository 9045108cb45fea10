-- A row: one CRM funnel conversion type (lead, mql, sql, opportunity, customer) x one
-- first-touch channel, over every loaded day; plus a row per conversion type with
-- channel 'all' (everybody who reached the type, whatever their channel).
-- Answers: how long and how many touches it takes people to become a lead, an mql, ...,
-- a customer, by the channel that brought them in.
-- Each person counts once per type, at their FIRST conversion of the type (fct_conversion;
-- touch-log and micro-conversions are left out). channel is the channel of the person's
-- first touch ever (fct_touchpoint; two touches at the same instant: the smaller
-- touchpoint_id), '(none)' for people without any touch, and 'all' on the row of
-- everybody who reached the type.
--   conversion_type the funnel stage reached: lead, mql, sql, opportunity or customer
--   conversions     people who reached the type (in the channel)
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
-- The 'all' row of a type is not the sum of its channel rows for the averages and
-- percentiles (recompute, never average them); conversions do add up over the channels of
-- a type, never across types (a customer is also a lead).
CREATE OR REPLACE VIEW v_time_to_convert AS
WITH first_touch AS (
    SELECT person_id, occurred_at, channel
    FROM (
        SELECT person_id, occurred_at, channel,
               ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY occurred_at, touchpoint_id) AS n
        FROM fct_touchpoint
    ) AS t
    WHERE n = 1
),
converted AS (
    SELECT person_id, conversion_type, MIN(occurred_at) AS converted_at
    FROM fct_conversion
    WHERE conversion_type IN ('lead', 'mql', 'sql', 'opportunity', 'customer')
    GROUP BY person_id, conversion_type
),
touched AS (
    SELECT c.person_id, c.conversion_type, COUNT(t.person_id) AS touches_before
    FROM converted AS c
    LEFT JOIN fct_touchpoint AS t ON t.person_id = c.person_id AND t.occurred_at <= c.converted_at
    GROUP BY c.person_id, c.conversion_type
),
measured AS (
    SELECT c.conversion_type,
           COALESCE(f.channel, '(none)') AS channel,
           CAST(t.touches_before AS DOUBLE) AS touches_before,
           CASE WHEN f.occurred_at <= c.converted_at
                THEN CAST(date_diff('microsecond', f.occurred_at, c.converted_at) AS DOUBLE) / 86400000000
           END AS days_from_first_touch
    FROM converted AS c
    JOIN touched AS t ON t.person_id = c.person_id AND t.conversion_type = c.conversion_type
    LEFT JOIN first_touch AS f ON f.person_id = c.person_id
),
segmented AS (
    SELECT conversion_type, channel, touches_before, days_from_first_touch FROM measured
    UNION ALL
    SELECT conversion_type, 'all' AS channel, touches_before, days_from_first_touch FROM measured
)
SELECT
    conversion_type,
    channel,
    COUNT(*) AS conversions,
    AVG(touches_before) AS avg_touches,
    quantile_cont(days_from_first_touch, 0.25) AS p25_days,
    quantile_cont(days_from_first_touch, 0.5) AS median_days,
    quantile_cont(days_from_first_touch, 0.75) AS p75_days,
    quantile_cont(days_from_first_touch, 0.9) AS p90_days,
    quantile_cont(touches_before, 0.5) AS median_touches
FROM segmented
GROUP BY conversion_type, channel;
