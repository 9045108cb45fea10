-- A row: one persona x CRM funnel stage (conversion_type lead, mql, sql, opportunity,
-- customer) x page path (fct_page_view.page_path, '(not set)' when missing), over every
-- loaded day. Every stage has a row for every page the persona's people viewed.
-- Answers: v_content_influence for each persona: which pages the people of a persona see
-- on their way to a lead, an MQL, ... a customer, and how much more often those of them
-- who saw a page convert than those who did not.
-- persona is dim_person.persona of the person ('Unclassified' for a person without a
-- dim_person row or a row without a person); the other columns are v_content_influence's.
-- A persona's rows are exactly what v_content_influence shows on a warehouse holding only
-- that persona's people (their touches, page views, conversions and attribution rows):
-- visitors, converters and rates are the persona's.
-- Visitors are the people with a touch or a page view. A person converted to a type when
-- fct_conversion has a conversion of that type for them; their first one is when.
--   people_viewed          visitors of the persona who viewed the page (at any time)
--   converters_viewed      of them, people who viewed it BEFORE their first conversion of
--                          the type (view time < first conversion time)
--   converters             people of the persona with a conversion of the type (with or
--                          without a visit)
--   non_converters_viewed  people who viewed it and never converted to the type
--   reach                  converters_viewed / converters
--   conversion_rate_viewed converters_viewed / people_viewed
--   conversion_rate_not_viewed  converters among the persona's visitors who never viewed
--                          the page / those visitors
--   lift                   conversion_rate_viewed / conversion_rate_not_viewed
--   attributed_revenue     customer rows only (NULL on other stages): the revenue_credit of
--                          model 'linear' of every customer conversion of the people counted
--                          in converters_viewed (their whole won revenue, not a share of it);
--                          NULL when no buyer saw the page first (or none has linear credits).
-- Ratios are NULL when their divisor is 0. People and revenue count once on every page
-- they viewed: never add converters_viewed, people_viewed or attributed_revenue across
-- pages, nor any column across stages. Across personas, people_viewed, converters_viewed,
-- non_converters_viewed and attributed_revenue of a stage and page add up to
-- v_content_influence's; converters to it or less (a persona without page views has no
-- rows); reach, rates and lift never add up.
-- PostgreSQL dialect of sql/duckdb/v_content_influence_by_persona.sql: the same columns
-- and numbers. Counts are bigint, ratios double precision (cast before dividing: no
-- integer division).
-- attributed_revenue reads the person scope's credits (fct_attribution.scope 'person'):
-- a conversion's whole revenue, the same under every scope, counted once.
CREATE OR REPLACE VIEW v_content_influence_by_persona AS
WITH stage AS (
    SELECT 'lead' AS conversion_type
    UNION ALL SELECT 'mql'
    UNION ALL SELECT 'sql'
    UNION ALL SELECT 'opportunity'
    UNION ALL SELECT 'customer'
),
visitor AS (
    SELECT COALESCE(d.persona, 'Unclassified') AS persona, t.person_id
    FROM fct_touchpoint AS t
    LEFT JOIN dim_person AS d ON d.person_id = t.person_id
    UNION
    SELECT COALESCE(d.persona, 'Unclassified'), v.person_id
    FROM fct_page_view AS v
    LEFT JOIN dim_person AS d ON d.person_id = v.person_id
),
first_conversion AS (
    SELECT COALESCE(d.persona, 'Unclassified') AS persona, c.person_id, c.conversion_type,
           MIN(c.occurred_at) AS converted_at
    FROM fct_conversion AS c
    LEFT JOIN dim_person AS d ON d.person_id = c.person_id
    WHERE c.conversion_type IN ('lead', 'mql', 'sql', 'opportunity', 'customer')
    GROUP BY COALESCE(d.persona, 'Unclassified'), c.person_id, c.conversion_type
),
customer_revenue AS (
    SELECT a.person_id, SUM(a.revenue_credit) AS revenue
    FROM fct_attribution AS a
    WHERE a.model = 'linear' AND a.scope = 'person' AND a.conversion_type = 'customer'
    GROUP BY a.person_id
),
page_viewer AS (
    -- each person's first view of each page
    SELECT COALESCE(d.persona, 'Unclassified') AS persona,
           COALESCE(v.page_path, '(not set)') AS page_path, v.person_id,
           MIN(v.occurred_at) AS first_viewed_at
    FROM fct_page_view AS v
    LEFT JOIN dim_person AS d ON d.person_id = v.person_id
    GROUP BY COALESCE(d.persona, 'Unclassified'), COALESCE(v.page_path, '(not set)'), v.person_id
),
viewer AS (
    -- conversions and revenue join on person_id: a person's rows are of their persona
    SELECT v.persona, s.conversion_type, v.page_path, v.person_id,
           f.converted_at IS NOT NULL AS converted,
           COALESCE(v.first_viewed_at < f.converted_at, FALSE) AS viewed_before,
           r.revenue
    FROM page_viewer AS v
    CROSS JOIN stage AS s
    LEFT JOIN first_conversion AS f
        ON f.person_id = v.person_id AND f.conversion_type = s.conversion_type
    LEFT JOIN customer_revenue AS r
        ON r.person_id = v.person_id AND s.conversion_type = 'customer'
),
page AS (
    SELECT persona, conversion_type, page_path,
           COUNT(*) AS people_viewed,
           COUNT(CASE WHEN viewed_before THEN 1 END) AS converters_viewed,
           COUNT(CASE WHEN converted THEN 1 END) AS viewers_converted,
           SUM(CASE WHEN viewed_before THEN revenue END) AS revenue
    FROM viewer
    GROUP BY persona, conversion_type, page_path
),
stage_total AS (
    SELECT p.persona, s.conversion_type,
           COUNT(f.person_id) AS converters,
           COUNT(v.person_id) AS visitors_converted
    FROM (SELECT DISTINCT persona FROM page_viewer) AS p
    CROSS JOIN stage AS s
    LEFT JOIN first_conversion AS f ON f.persona = p.persona AND f.conversion_type = s.conversion_type
    LEFT JOIN visitor AS v ON v.person_id = f.person_id
    GROUP BY p.persona, s.conversion_type
),
visitors AS (
    SELECT persona, COUNT(*) AS visitors FROM visitor GROUP BY persona
),
measure AS (
    SELECT p.persona, p.conversion_type, p.page_path, p.people_viewed, p.converters_viewed,
           t.converters,
           p.people_viewed - p.viewers_converted AS non_converters_viewed,
           CAST(p.converters_viewed AS double precision) / NULLIF(t.converters, 0) AS reach,
           CAST(p.converters_viewed AS double precision) / NULLIF(p.people_viewed, 0) AS conversion_rate_viewed,
           CAST(t.visitors_converted - p.viewers_converted AS double precision)
               / NULLIF(n.visitors - p.people_viewed, 0) AS conversion_rate_not_viewed,
           p.revenue
    FROM page AS p
    JOIN stage_total AS t ON t.persona = p.persona AND t.conversion_type = p.conversion_type
    JOIN visitors AS n ON n.persona = p.persona
)
SELECT
    persona,
    conversion_type,
    page_path,
    people_viewed,
    converters_viewed,
    converters,
    non_converters_viewed,
    reach,
    conversion_rate_viewed,
    conversion_rate_not_viewed,
    conversion_rate_viewed / NULLIF(conversion_rate_not_viewed, 0) AS lift,
    CASE WHEN conversion_type = 'customer' THEN revenue END AS attributed_revenue
FROM measure;
