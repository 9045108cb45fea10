-- A row: one attribution model x conversion type x channel, over every loaded day.
-- Answers: which channels earn conversions and revenue under each model, and at what
-- cost: spend, cost per conversion (CPA), return on ad spend (ROAS) and ROI.
-- spend is the channel's whole spend in fct_spend, the same on every conversion type
-- of a model: filter on one conversion_type, never sum spend across types.
-- PostgreSQL dialect of sql/duckdb/v_channel_performance.sql: the same columns and
-- numbers. Every measure is double precision (credit, revenue_credit and cost are), so
-- the divisions are floating-point; NULLIF turns a zero divisor into NULL, and a
-- channel without spend or without credit gets NULL spend, CPA, ROAS and ROI.
CREATE OR REPLACE VIEW v_channel_performance AS
WITH credit AS (
    SELECT model, conversion_type, channel,
           SUM(credit) AS conversions,
           SUM(revenue_credit) AS revenue
    FROM fct_attribution
    GROUP BY model, conversion_type, channel
),
spend AS (
    SELECT channel, SUM(cost) AS spend
    FROM fct_spend
    GROUP BY channel
),
grid AS (
    SELECT model, conversion_type, channel FROM credit
    UNION
    SELECT m.model, m.conversion_type, s.channel
    FROM (SELECT DISTINCT model, conversion_type FROM credit) AS m
    CROSS JOIN spend AS s
)
SELECT
    g.model,
    g.conversion_type,
    g.channel,
    COALESCE(c.conversions, 0::double precision) AS conversions,
    c.revenue AS revenue,
    s.spend AS spend,
    s.spend / NULLIF(c.conversions, 0) AS cpa,
    c.revenue / NULLIF(s.spend, 0) AS roas,
    (c.revenue - s.spend) / NULLIF(s.spend, 0) AS roi
FROM grid AS g
LEFT JOIN credit AS c USING (model, conversion_type, channel)
LEFT JOIN spend AS s USING (channel);
