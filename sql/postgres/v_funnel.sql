-- A row: one funnel stage (visit, lead, mql, sql, opportunity, customer) of one segment
-- of people, over every loaded day. breakdown says how people are segmented:
--   'all'                  segment 'all': everybody;
--   'first_touch_channel'  segment = channel of the person's first touch ever
--                          (fct_touchpoint; '(none)' for people without a touch);
--   'cohort_month'         segment = 'YYYY-MM' (UTC) of the person's first touch, or of
--                          their first conversion of any type when they have no touch;
--   'persona'              segment = the person's persona, dim_person.persona
--                          ('Unclassified' for people without a dim_person row).
-- Answers: how many people reach each stage, the stage-to-stage and visit-to-stage
-- conversion rates, and how many days people take from one stage to the next, overall,
-- by first-touch channel, by cohort and by persona.
-- A person reaches visit with a touch and the other stages with a conversion of that type
-- (fct_conversion); the stage's time is their first touch / first conversion of the type.
--   segment                    the segment of people, as breakdown says: 'all', a
--                              first-touch channel, a 'YYYY-MM' cohort month or a persona
--   stage                      visit, lead, mql, sql, opportunity or customer: visit is
--                              reached with a touch, the others with a conversion of that
--                              type
--   stage_order                1 (visit) .. 6 (customer): sort the bars by it
--   people                     people who reached the stage
--   previous_people            people of the previous stage in the same segment (NULL for visit)
--   rate_from_previous         people / previous_people
--   rate_from_visit            people / people of visit in the same segment
--   median_days_from_previous  exact (interpolated) median, over the people who reached both
--                              this stage and the previous one, of the fractional days from
--                              their first time at the previous stage to their first time at
--                              this one (negative when the source dated this stage earlier)
-- A CRM may skip a stage (an opportunity without an mql) and a lead need not have a tracked
-- visit: such a person counts at every stage they reached, so rate_from_previous can exceed
-- 1, and is left out of median_days_from_previous where they lack the previous stage.
-- Every stage appears in every segment, with 0 people and NULL rates and median when nobody
-- reached it or its divisor is 0 (the 'all' rows appear even on an empty warehouse).
-- Never add people across stages (a customer is also a lead) or across breakdowns (each
-- breakdown counts every person once); adding the segments of one breakdown is fine.
-- PostgreSQL dialect of sql/duckdb/v_funnel.sql: the same columns and numbers. Counts
-- are bigint, rates and days double precision (cast before dividing: no integer
-- division); months are taken in UTC whatever the session's TimeZone; ties between
-- touches at the same instant go to the smaller touchpoint_id in byte order (COLLATE "C"),
-- as in DuckDB and BigQuery.
CREATE OR REPLACE VIEW v_funnel AS
WITH stages AS (
    SELECT 'visit' AS stage, 1 AS stage_order
    UNION ALL SELECT 'lead', 2
    UNION ALL SELECT 'mql', 3
    UNION ALL SELECT 'sql', 4
    UNION ALL SELECT 'opportunity', 5
    UNION ALL SELECT 'customer', 6
),
first_touch AS (
    SELECT person_id, occurred_at, channel
    FROM (
        SELECT person_id, occurred_at, channel,
               ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY occurred_at, touchpoint_id COLLATE "C") AS n
        FROM fct_touchpoint
    ) AS t
    WHERE n = 1
),
reached AS (
    SELECT person_id, 1 AS stage_order, occurred_at AS reached_at
    FROM first_touch
    UNION ALL
    SELECT c.person_id, s.stage_order, MIN(c.occurred_at) AS reached_at
    FROM fct_conversion AS c
    JOIN stages AS s ON s.stage = c.conversion_type AND s.stage_order > 1
    GROUP BY c.person_id, s.stage_order
),
person AS (
    SELECT p.person_id,
           COALESCE(t.channel, '(none)') AS first_touch_channel,
           to_char(COALESCE(t.occurred_at, c.first_at) AT TIME ZONE 'UTC', 'YYYY-MM') AS cohort_month,
           COALESCE(dp.persona, 'Unclassified') AS persona
    FROM (SELECT DISTINCT person_id FROM reached) AS p
    LEFT JOIN first_touch AS t ON t.person_id = p.person_id
    LEFT JOIN (
        SELECT person_id, MIN(occurred_at) AS first_at
        FROM fct_conversion
        GROUP BY person_id
    ) AS c ON c.person_id = p.person_id
    LEFT JOIN dim_person AS dp ON dp.person_id = p.person_id
),
segmented AS (
    SELECT person_id, 'all' AS breakdown, 'all' AS segment FROM person
    UNION ALL
    SELECT person_id, 'first_touch_channel', first_touch_channel FROM person
    UNION ALL
    SELECT person_id, 'cohort_month', cohort_month FROM person
    UNION ALL
    SELECT person_id, 'persona', persona FROM person
),
step AS (
    SELECT r.person_id, r.stage_order,
           EXTRACT(EPOCH FROM r.reached_at - p.reached_at)::double precision / 86400 AS days_from_previous
    FROM reached AS r
    LEFT JOIN reached AS p ON p.person_id = r.person_id AND p.stage_order = r.stage_order - 1
),
counted AS (
    SELECT g.breakdown, g.segment, s.stage_order,
           COUNT(*) AS people,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY s.days_from_previous) AS median_days_from_previous
    FROM segmented AS g
    JOIN step AS s ON s.person_id = g.person_id
    GROUP BY g.breakdown, g.segment, s.stage_order
),
funnel AS (
    SELECT k.breakdown, k.segment, s.stage, s.stage_order,
           COALESCE(c.people, 0) AS people,
           c.median_days_from_previous
    FROM (
        SELECT 'all' AS breakdown, 'all' AS segment
        UNION
        SELECT breakdown, segment FROM segmented
    ) AS k
    CROSS JOIN stages AS s
    LEFT JOIN counted AS c
      ON c.breakdown = k.breakdown AND c.segment = k.segment AND c.stage_order = s.stage_order
)
SELECT
    breakdown,
    segment,
    stage,
    stage_order::bigint AS stage_order,
    people,
    LAG(people) OVER w AS previous_people,
    people::double precision / NULLIF(LAG(people) OVER w, 0) AS rate_from_previous,
    people::double precision / NULLIF(FIRST_VALUE(people) OVER w, 0) AS rate_from_visit,
    median_days_from_previous
FROM funnel
WINDOW w AS (PARTITION BY breakdown, segment ORDER BY stage_order);
