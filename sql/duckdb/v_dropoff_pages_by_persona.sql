-- A row: one persona x one funnel stage a person can stop at (visit, lead, mql, sql,
-- opportunity) x one page path, over every loaded day.
-- Answers: v_dropoff_pages for each persona: which pages the people of a persona who
-- dropped out of the funnel at a stage saw last, and whether a page is more often the
-- last page of the people of that persona who drop out there than of those who go on.
-- persona is dim_person.persona of the person ('Unclassified' for a person without a
-- dim_person row or a row without a person); the other columns are v_dropoff_pages's.
-- A persona's rows are exactly what v_dropoff_pages shows on a warehouse holding only
-- that persona's people (their touches, conversions and page views): ranks and shares
-- are within the persona, a page is listed for a persona when one of its people who
-- stopped at the stage viewed it there.
-- A person reaches visit at their first touch (fct_touchpoint) and a later stage at their
-- first conversion of that type (fct_conversion), as in v_funnel. They leave a stage at
-- their first time at any later stage: a CRM may skip one (a lead that becomes an sql
-- without an mql date has moved on all the same, and is not counted as stopped at lead).
-- A person who reached the stage and no later stage stopped there; one who reached a
-- later stage advanced.
-- Their page views at the stage (fct_page_view; views without a page_path left out) are
-- those at or after reaching it (visit: from any time) and, for the people who advanced,
-- before leaving it.
-- A person's last page at a stage is the page_path of their latest page view at the stage
-- (two views at the same instant: the greatest page_path in byte order).
--   stage_order         1 (visit) .. 5 (opportunity), as in v_funnel; customer is the end
--   rank                rank of the page within the persona and stage by
--                       stopped_with_page, highest first (RANK: ties share a rank)
--   stopped_people      people of the persona who stopped at the stage (the same on every
--                       row of the persona and stage)
--   stopped_with_page   of them, people whose last page at the stage was this page
--   exit_share          stopped_with_page / stopped_people
--   advanced_people     people of the persona who reached the stage and a later one
--   advanced_with_page  of them, people whose last page at the stage was this page
--   advanced_share      advanced_with_page / advanced_people
--   lift                exit_share - advanced_share
-- Shares are NULL when their divisor is 0, and lift then. People who stopped or advanced
-- without any page view at the stage count in stopped_people or advanced_people only.
-- Never add stopped_people / advanced_people across rows. Across personas,
-- stopped_with_page and advanced_with_page of a stage and page add up to the
-- v_dropoff_pages row at most (a persona whose stopped people never viewed the page has
-- no row for it); shares, lift and rank never add up or compare with the base's.
CREATE OR REPLACE VIEW v_dropoff_pages_by_persona AS
WITH stages AS (
    SELECT 'visit' AS stage, 1 AS stage_order
    UNION ALL SELECT 'lead', 2
    UNION ALL SELECT 'mql', 3
    UNION ALL SELECT 'sql', 4
    UNION ALL SELECT 'opportunity', 5
    UNION ALL SELECT 'customer', 6
),
reached AS (
    SELECT COALESCE(d.persona, 'Unclassified') AS persona, t.person_id, 1 AS stage_order,
           MIN(t.occurred_at) AS reached_at
    FROM fct_touchpoint AS t
    LEFT JOIN dim_person AS d ON d.person_id = t.person_id
    GROUP BY COALESCE(d.persona, 'Unclassified'), t.person_id
    UNION ALL
    SELECT COALESCE(d.persona, 'Unclassified'), c.person_id, s.stage_order, MIN(c.occurred_at)
    FROM fct_conversion AS c
    JOIN stages AS s ON s.stage = c.conversion_type AND s.stage_order > 1
    LEFT JOIN dim_person AS d ON d.person_id = c.person_id
    GROUP BY COALESCE(d.persona, 'Unclassified'), c.person_id, s.stage_order
),
at_stage AS (
    SELECT r.persona, r.person_id, r.stage_order, r.reached_at, MIN(l.reached_at) AS left_at
    FROM reached AS r
    LEFT JOIN reached AS l ON l.person_id = r.person_id AND l.stage_order > r.stage_order
    WHERE r.stage_order < 6
    GROUP BY r.persona, r.person_id, r.stage_order, r.reached_at
),
people AS (
    SELECT persona, stage_order,
           COUNT(*) - COUNT(left_at) AS stopped_people,
           COUNT(left_at) AS advanced_people
    FROM at_stage
    GROUP BY persona, stage_order
),
seen AS (
    -- page views join on person_id: a person's views are of their persona
    SELECT a.persona, a.person_id, a.stage_order, a.left_at IS NULL AS stopped,
           v.page_path, v.occurred_at
    FROM at_stage AS a
    JOIN fct_page_view AS v
      ON v.person_id = a.person_id
     AND v.page_path IS NOT NULL
     AND (a.stage_order = 1 OR v.occurred_at >= a.reached_at)
     AND (a.left_at IS NULL OR v.occurred_at < a.left_at)
),
last_page AS (
    SELECT persona, stage_order, page_path,
           COUNT(CASE WHEN stopped THEN 1 END) AS stopped_with_page,
           COUNT(CASE WHEN NOT stopped THEN 1 END) AS advanced_with_page
    FROM (
        SELECT persona, stage_order, stopped, page_path,
               ROW_NUMBER() OVER (PARTITION BY persona, person_id, stage_order
                                  ORDER BY occurred_at DESC, page_path DESC) AS n
        FROM seen
    ) AS l
    WHERE n = 1
    GROUP BY persona, stage_order, page_path
),
page AS (
    SELECT DISTINCT persona, stage_order, page_path
    FROM seen
    WHERE stopped
),
measured AS (
    SELECT g.persona, s.stage, s.stage_order, g.page_path,
           n.stopped_people,
           COALESCE(l.stopped_with_page, 0) AS stopped_with_page,
           n.advanced_people,
           COALESCE(l.advanced_with_page, 0) AS advanced_with_page
    FROM page AS g
    JOIN people AS n ON n.persona = g.persona AND n.stage_order = g.stage_order
    JOIN stages AS s ON s.stage_order = g.stage_order
    LEFT JOIN last_page AS l
        ON l.persona = g.persona AND l.stage_order = g.stage_order AND l.page_path = g.page_path
)
SELECT
    persona,
    stage,
    CAST(stage_order AS BIGINT) AS stage_order,
    page_path,
    RANK() OVER (PARTITION BY persona, stage_order ORDER BY stopped_with_page DESC) AS rank,
    stopped_people,
    stopped_with_page,
    stopped_with_page / NULLIF(stopped_people, 0) AS exit_share,
    advanced_people,
    advanced_with_page,
    advanced_with_page / NULLIF(advanced_people, 0) AS advanced_share,
    stopped_with_page / NULLIF(stopped_people, 0)
        - advanced_with_page / NULLIF(advanced_people, 0) AS lift
FROM measured;
