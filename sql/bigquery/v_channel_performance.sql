-- A row: one attribution model x conversion type x channel, over every loaded day.
-- Answers: which channels earn conversions and revenue under each model, and at what
-- cost: spend, cost per conversion (CPA), return on ad spend (ROAS) and ROI.
-- spend is the channel's whole spend in fct_spend, the same on every conversion type
-- of a model: filter on one conversion_type, never sum spend across types.
--
-- BigQuery dialect. ${dataset} stands for the dataset the tables live in: the loader
-- (load/bigquery) replaces it with `project.dataset`, backquoted. The result is checked
-- with ZetaSQL (load/bigquery/zetasql_test.go), whose build rejects GROUP BY ALL and pipe
-- syntax, which BigQuery accepts: do not use them here.
CREATE OR REPLACE VIEW ${dataset}.v_channel_performance AS
WITH credit AS (
    SELECT model, conversion_type, channel,
           SUM(credit) AS conversions,
           SUM(revenue_credit) AS revenue
    FROM ${dataset}.fct_attribution
    GROUP BY model, conversion_type, channel
),
spend AS (
    SELECT channel, SUM(cost) AS spend
    FROM ${dataset}.fct_spend
    GROUP BY channel
),
grid AS (
    SELECT model, conversion_type, channel FROM credit
    UNION DISTINCT
    SELECT m.model, m.conversion_type, s.channel
    FROM (SELECT DISTINCT model, conversion_type FROM credit) AS m
    CROSS JOIN spend AS s
)
SELECT
    g.model,
    g.conversion_type,
    g.channel,
    COALESCE(c.conversions, 0) AS conversions,
    c.revenue AS revenue,
    s.spend AS spend,
    SAFE_DIVIDE(s.spend, c.conversions) AS cpa,
    SAFE_DIVIDE(c.revenue, s.spend) AS roas,
    SAFE_DIVIDE(c.revenue - s.spend, s.spend) AS roi
FROM grid AS g
LEFT JOIN credit AS c USING (model, conversion_type, channel)
LEFT JOIN spend AS s USING (channel);
