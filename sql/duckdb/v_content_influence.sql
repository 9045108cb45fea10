-- A row: one CRM funnel stage (conversion_type lead, mql, sql, opportunity, customer) x
-- page path (fct_page_view.page_path, '(not set)' when missing), over every loaded day.
-- Every stage has a row for every page, so content that never shows up on a buyer's
-- path is listed too (converters_viewed 0).
-- Answers: which pages people see on their way to a lead, an MQL, ... a customer, and how
-- much more often people who saw a page convert than people who did not.
-- Visitors are the people with a touch or a page view. A person converted to a type when
-- fct_conversion has a conversion of that type for them; their first one is when.
--   conversion_type        the CRM funnel stage: lead, mql, sql, opportunity or customer
--   page_path              fct_page_view.page_path, '(not set)' for views without one
--   people_viewed          visitors who viewed the page (at any time)
--   converters_viewed      of them, people who viewed it BEFORE their first conversion of
--                          the type (view time < first conversion time)
--   converters             people with a conversion of the type (with or without a visit)
--   non_converters_viewed  people who viewed it and never converted to the type
--   (people_viewed - converters_viewed - non_converters_viewed viewed the page only after
--   converting: they count as viewers who did not convert through the page)
--   reach                  converters_viewed / converters: share of converters who saw it
--   conversion_rate_viewed converters_viewed / people_viewed
--   conversion_rate_not_viewed  converters among the visitors who never viewed the page /
--                          visitors who never viewed it
--   lift                   conversion_rate_viewed / conversion_rate_not_viewed
--   attributed_revenue     customer rows only (NULL on other stages): the revenue_credit of
--                          model 'linear' of every customer conversion of the people counted
--                          in converters_viewed, i.e. the whole won revenue of the buyers
--                          who saw the page before their first deal (a conversion's linear
--                          revenue credits add up to its revenue), not a share of it; NULL
--                          when no buyer saw the page first (or none has linear credits).
-- Ratios are NULL when their divisor is 0 (no converters, every visitor viewed the page,
-- a not-viewed rate of 0). People and revenue count once on every page they viewed: never
-- add converters_viewed, people_viewed or attributed_revenue across pages, nor any column
-- across stages.
-- attributed_revenue reads the person scope's credits (fct_attribution.scope 'person'):
-- a conversion's whole revenue, the same under every scope, counted once.
CREATE OR REPLACE VIEW v_content_influence AS
WITH stage AS (
    SELECT 'lead' AS conversion_type
    UNION ALL SELECT 'mql'
    UNION ALL SELECT 'sql'
    UNION ALL SELECT 'opportunity'
    UNION ALL SELECT 'customer'
),
visitor AS (
    SELECT person_id FROM fct_touchpoint
    UNION
    SELECT person_id FROM fct_page_view
),
first_conversion AS (
    SELECT person_id, conversion_type, MIN(occurred_at) AS converted_at
    FROM fct_conversion
    WHERE conversion_type IN ('lead', 'mql', 'sql', 'opportunity', 'customer')
    GROUP BY person_id, conversion_type
),
customer_revenue AS (
    SELECT person_id, SUM(revenue_credit) AS revenue
    FROM fct_attribution
    WHERE model = 'linear' AND scope = 'person' AND conversion_type = 'customer'
    GROUP BY person_id
),
page_viewer AS (
    -- each person's first view of each page
    SELECT COALESCE(page_path, '(not set)') AS page_path, person_id,
           MIN(occurred_at) AS first_viewed_at
    FROM fct_page_view
    GROUP BY COALESCE(page_path, '(not set)'), person_id
),
viewer AS (
    SELECT s.conversion_type, v.page_path, v.person_id,
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
    SELECT conversion_type, page_path,
           COUNT(*) AS people_viewed,
           COUNT(CASE WHEN viewed_before THEN 1 END) AS converters_viewed,
           COUNT(CASE WHEN converted THEN 1 END) AS viewers_converted,
           SUM(CASE WHEN viewed_before THEN revenue END) AS revenue
    FROM viewer
    GROUP BY conversion_type, page_path
),
stage_total AS (
    SELECT s.conversion_type,
           COUNT(f.person_id) AS converters,
           COUNT(v.person_id) AS visitors_converted
    FROM stage AS s
    LEFT JOIN first_conversion AS f ON f.conversion_type = s.conversion_type
    LEFT JOIN visitor AS v ON v.person_id = f.person_id
    GROUP BY s.conversion_type
),
measure AS (
    SELECT p.conversion_type, p.page_path, p.people_viewed, p.converters_viewed,
           t.converters,
           p.people_viewed - p.viewers_converted AS non_converters_viewed,
           CAST(p.converters_viewed AS DOUBLE) / NULLIF(t.converters, 0) AS reach,
           CAST(p.converters_viewed AS DOUBLE) / NULLIF(p.people_viewed, 0) AS conversion_rate_viewed,
           CAST(t.visitors_converted - p.viewers_converted AS DOUBLE)
               / NULLIF(n.visitors - p.people_viewed, 0) AS conversion_rate_not_viewed,
           p.revenue
    FROM page AS p
    JOIN stage_total AS t ON t.conversion_type = p.conversion_type
    CROSS JOIN (SELECT COUNT(*) AS visitors FROM visitor) AS n
)
SELECT
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
