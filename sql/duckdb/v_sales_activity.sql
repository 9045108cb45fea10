-- A row: one funnel stage a salesperson works (lead, mql, sql, opportunity) x selling
-- activity x owner team, over every loaded day.
-- Answers: which selling activities, by which team, go with people moving on to the next
-- funnel stage, and which go with people who drop out.
-- A selling activity is a touch whose channel starts with 'Sales: ' ('Sales: Call',
-- 'Sales: Meeting', 'Sales: Email', ...); activity is that channel. owner_team is the
-- touch's source, where the CRM extractor writes the team of the activity's owner
-- (fct_touchpoint has no owner column), '(unknown)' when it is missing or empty.
-- A person reaches a stage at their first conversion of that type (fct_conversion) and
-- leaves it at their first conversion of any later stage (mql, sql, opportunity,
-- customer: a CRM may skip a stage, and a lead that becomes an SQL without an MQL date has
-- advanced all the same). Their activities at the stage are those at or after reaching it
-- and before leaving it (or ever after, if they never left); activities before their first
-- stage, or after reaching customer, are at no stage. (When the CRM dates a later stage
-- before an earlier one, the person advanced from the earlier one with no activity at it.)
--   stage                  the funnel stage the people were at when the activities
--                          happened: lead, mql, sql or opportunity
--   people_at_stage        people who reached the stage (the same on every row of it)
--   people_with_activity   of them, people with at least one such activity at the stage
--   activities             those activities (touches)
--   advanced_with_activity people with the activity at the stage who reached a later one
--   advance_rate_with      advanced_with_activity / people_with_activity
--   advance_rate_without   the same for the people at the stage without this activity of
--                          this team: advanced / people
--   lift                   advance_rate_with - advance_rate_without (a difference of rates)
--   dropped_with_activity  people with the activity who never reached a later stage
-- Rates are NULL when their divisor is 0 (everyone at the stage had the activity). No
-- selling activity, no row. A person with several activities counts on each of their
-- rows: never add people_* or advanced_* across activities or teams.
CREATE OR REPLACE VIEW v_sales_activity AS
WITH stage AS (
    SELECT 'lead' AS stage, 1 AS stage_no
    UNION ALL SELECT 'mql', 2
    UNION ALL SELECT 'sql', 3
    UNION ALL SELECT 'opportunity', 4
    UNION ALL SELECT 'customer', 5
),
reached AS (
    SELECT c.person_id, s.stage, s.stage_no, MIN(c.occurred_at) AS reached_at
    FROM fct_conversion AS c
    JOIN stage AS s ON s.stage = c.conversion_type
    GROUP BY c.person_id, s.stage, s.stage_no
),
at_stage AS (
    -- a person at a worked stage: from reaching it until reaching a later one
    SELECT r.person_id, r.stage, r.reached_at, MIN(l.reached_at) AS left_at
    FROM reached AS r
    LEFT JOIN reached AS l ON l.person_id = r.person_id AND l.stage_no > r.stage_no
    WHERE r.stage_no <= 4
    GROUP BY r.person_id, r.stage, r.reached_at
),
stage_total AS (
    SELECT stage, COUNT(*) AS people_at_stage, COUNT(left_at) AS advanced
    FROM at_stage
    GROUP BY stage
),
activity AS (
    SELECT person_id, occurred_at, channel AS activity,
           COALESCE(NULLIF(source, ''), '(unknown)') AS owner_team
    FROM fct_touchpoint
    WHERE channel LIKE 'Sales: %'
),
worked AS (
    SELECT a.stage, t.activity, t.owner_team,
           COUNT(DISTINCT a.person_id) AS people_with_activity,
           COUNT(*) AS activities,
           COUNT(DISTINCT CASE WHEN a.left_at IS NOT NULL THEN a.person_id END) AS advanced_with_activity
    FROM at_stage AS a
    JOIN activity AS t
        ON t.person_id = a.person_id
       AND t.occurred_at >= a.reached_at
       AND (a.left_at IS NULL OR t.occurred_at < a.left_at)
    GROUP BY a.stage, t.activity, t.owner_team
),
measure AS (
    SELECT w.stage, w.activity, w.owner_team,
           s.people_at_stage, w.people_with_activity, w.activities, w.advanced_with_activity,
           CAST(w.advanced_with_activity AS DOUBLE)
               / NULLIF(w.people_with_activity, 0) AS advance_rate_with,
           CAST(s.advanced - w.advanced_with_activity AS DOUBLE)
               / NULLIF(s.people_at_stage - w.people_with_activity, 0) AS advance_rate_without
    FROM worked AS w
    JOIN stage_total AS s ON s.stage = w.stage
)
SELECT
    stage,
    activity,
    owner_team,
    people_at_stage,
    people_with_activity,
    activities,
    advanced_with_activity,
    advance_rate_with,
    advance_rate_without,
    advance_rate_with - advance_rate_without AS lift,
    people_with_activity - advanced_with_activity AS dropped_with_activity
FROM measure;
