-- A row: one funnel stage a person can stop at (visit, lead, mql, sql, opportunity) x one
-- page path, over every loaded day.
-- Answers: which pages the people who dropped out of the funnel at a stage saw last, and
-- whether a page is more often the last page of the people who drop out there than of
-- the people who go on (lift).
-- A person reaches visit at their first touch (fct_touchpoint) and a later stage at their
-- first conversion of that type (fct_conversion), as in v_funnel. They leave a stage at
-- their first time at any later stage: a CRM may skip one (a lead that becomes an sql
-- without an mql date has moved on all the same, and is not counted as stopped at lead).
-- A person who reached the stage and no later stage stopped there; one who reached a
-- later stage advanced. When no stage is skipped, that is: reached the stage and not the
-- next one / reached the stage and the next one.
-- Their page views at the stage (fct_page_view; views without a page_path left out) are
-- those at or after reaching it (visit: from any time) and, for the people who advanced,
-- before leaving it.
-- A person's last page at a stage is the page_path of their latest page view at the stage
-- (two views at the same instant: the greatest page_path in byte order): the same rule
-- for the people who stopped and for the people who advanced, whose last page at the
-- stage is the one they saw last before leaving it.
--   stage               visit, lead, mql, sql or opportunity: the stage people stopped at
--                       or advanced from
--   stage_order         1 (visit) .. 5 (opportunity), as in v_funnel; customer is the end
--   page_path           a page (fct_page_view.page_path) that someone who stopped at the
--                       stage viewed there
--   rank                rank of the page within the stage by stopped_with_page, highest
--                       first (RANK: pages with the same count share a rank)
--   stopped_people      people who stopped at the stage (the same on every row of it)
--   stopped_with_page   of them, people whose last page at the stage was this page
--   exit_share          stopped_with_page / stopped_people
--   advanced_people     people who reached the stage and a later one (the same on every row)
--   advanced_with_page  of them, people whose last page at the stage was this page
--   advanced_share      advanced_with_page / advanced_people
--   lift                exit_share - advanced_share: both count one page per person, their
--                       last at the stage. Positive, the page is more often the last one of
--                       the people who drop out at the stage than of the people who go on
-- A page is listed at a stage when at least one person who stopped there viewed it at the
-- stage (as their last page or not: stopped_with_page can be 0). Shares are NULL when their
-- divisor is 0, and lift then. People who stopped or advanced without any page view at the
-- stage (a lead who never came back after the form) count in stopped_people or
-- advanced_people only, in no page.
-- Each person has at most one last page at a stage: stopped_with_page and
-- advanced_with_page add up over the pages of a stage to at most stopped_people and
-- advanced_people (advanced_with_page to less also when people who advanced last saw a
-- page nobody who stopped viewed: it has no row); stopped_people / advanced_people must
-- never be added across rows.
--
-- BigQuery dialect of sql/duckdb/v_dropoff_pages.sql: the same columns and numbers.
-- ${dataset} stands for the dataset (the loader substitutes it); no GROUP BY ALL or pipe
-- syntax (ZetaSQL, load/bigquery/zetasql_test.go, rejects them). Strings order by bytes.
CREATE OR REPLACE VIEW ${dataset}.v_dropoff_pages AS
WITH stages AS (
    SELECT 'visit' AS stage, 1 AS stage_order
    UNION ALL SELECT 'lead', 2
    UNION ALL SELECT 'mql', 3
    UNION ALL SELECT 'sql', 4
    UNION ALL SELECT 'opportunity', 5
    UNION ALL SELECT 'customer', 6
),
reached AS (
    SELECT person_id, 1 AS stage_order, MIN(occurred_at) AS reached_at
    FROM ${dataset}.fct_touchpoint
    GROUP BY person_id
    UNION ALL
    SELECT c.person_id, s.stage_order, MIN(c.occurred_at) AS reached_at
    FROM ${dataset}.fct_conversion AS c
    JOIN stages AS s ON s.stage = c.conversion_type AND s.stage_order > 1
    GROUP BY c.person_id, s.stage_order
),
at_stage AS (
    SELECT r.person_id, r.stage_order, r.reached_at, MIN(l.reached_at) AS left_at
    FROM reached AS r
    LEFT JOIN reached AS l ON l.person_id = r.person_id AND l.stage_order > r.stage_order
    WHERE r.stage_order < 6
    GROUP BY r.person_id, r.stage_order, r.reached_at
),
people AS (
    SELECT stage_order,
           COUNT(*) - COUNT(left_at) AS stopped_people,
           COUNT(left_at) AS advanced_people
    FROM at_stage
    GROUP BY stage_order
),
seen AS (
    SELECT a.person_id, a.stage_order, a.left_at IS NULL AS stopped, v.page_path, v.occurred_at
    FROM at_stage AS a
    JOIN ${dataset}.fct_page_view AS v
      ON v.person_id = a.person_id
     AND v.page_path IS NOT NULL
     AND (a.stage_order = 1 OR v.occurred_at >= a.reached_at)
     AND (a.left_at IS NULL OR v.occurred_at < a.left_at)
),
last_page AS (
    SELECT stage_order, page_path,
           COUNTIF(stopped) AS stopped_with_page,
           COUNTIF(NOT stopped) AS advanced_with_page
    FROM (
        SELECT stage_order, stopped, page_path,
               ROW_NUMBER() OVER (PARTITION BY person_id, stage_order
                                  ORDER BY occurred_at DESC, page_path DESC) AS n
        FROM seen
    ) AS l
    WHERE n = 1
    GROUP BY stage_order, page_path
),
page AS (
    SELECT DISTINCT stage_order, page_path
    FROM seen
    WHERE stopped
),
measured AS (
    SELECT s.stage, s.stage_order, g.page_path,
           n.stopped_people,
           COALESCE(l.stopped_with_page, 0) AS stopped_with_page,
           n.advanced_people,
           COALESCE(l.advanced_with_page, 0) AS advanced_with_page
    FROM page AS g
    JOIN people AS n ON n.stage_order = g.stage_order
    JOIN stages AS s ON s.stage_order = g.stage_order
    LEFT JOIN last_page AS l ON l.stage_order = g.stage_order AND l.page_path = g.page_path
)
SELECT
    stage,
    stage_order,
    page_path,
    RANK() OVER (PARTITION BY stage_order ORDER BY stopped_with_page DESC) AS rank,
    stopped_people,
    stopped_with_page,
    SAFE_DIVIDE(stopped_with_page, stopped_people) AS exit_share,
    advanced_people,
    advanced_with_page,
    SAFE_DIVIDE(advanced_with_page, advanced_people) AS advanced_share,
    SAFE_DIVIDE(stopped_with_page, stopped_people)
        - SAFE_DIVIDE(advanced_with_page, advanced_people) AS lift
FROM measured;
