-- A row: one date basis x day x attribution model x journey scope x conversion type x channel x campaign.
-- Answers: what each campaign earned and cost, day by day, under each model:
-- conversions (credit), revenue, spend, cost per conversion (CPA), per new customer
-- (CAC), return on ad spend (ROAS) and ROI = (revenue - spend) / spend.
-- Columns:
--   day              the UTC day of the conversion (date_basis 'conversion_date') or of
--                    the credited touch ('touch_date'), matched to fct_spend.date (the ad
--                    platform's day) for the spend
--   model            the attribution model of the credits (fct_attribution.model)
--   conversion_type  the type of the credited conversions (lead, mql, sql, opportunity,
--                    customer, or the name of a touch-log or micro-conversion)
--   channel          the channel of the credited touches ('(none)' for conversions without
--                    any touch) and of the campaign's spend
--   conversions      SUM of fct_attribution.credit: the conversions of the type credited
--                    to the campaign that day, in fractions under multi-touch models; 0 on a
--                    day with spend and no credit
--   revenue          SUM of fct_attribution.revenue_credit of the row's credits; 0, not
--                    NULL, for a type that carries revenue (customer, valued touch-log
--                    conversions) when none was credited to the row; always NULL for
--                    types without revenue (lead, mql, ...)
--   cpa              spend / conversions: cost per conversion of the type; NULL without
--                    spend or when conversions is 0
--   roas             revenue / spend: return on ad spend; NULL without spend (or spend 0)
--                    and for types without revenue
--   roi              (revenue - spend) / spend: -1 for a campaign that spent and earned
--                    nothing; NULL without spend (or spend 0) and for types without revenue
-- date_basis 'conversion_date' counts credits on the UTC day of the conversion,
-- 'touch_date' on the UTC day of the credited touch. A conversion without any touch
-- (channel '(none)', no touchpoint) has no touch day: it is left out of the touch_date
-- rows and shows under conversion_date only. Filter one date_basis: every other credit is
-- in both.
-- spend is the campaign's cost on that day in fct_spend (the ad platform's day), matched
-- on channel and campaign; it is the same on every conversion_type row (and on both date
-- bases): filter one conversion_type, never sum spend across types. cac = spend /
-- customers, the customer credit of the same date basis, day, model, channel and
-- campaign (the same on every conversion_type row). A day with spend and no credited
-- conversion has conversions 0, for every model and conversion type of fct_attribution
-- (a warehouse without any credit has no rows); its revenue is 0, not NULL, for types
-- that carry revenue (customer, valued touch-log conversions), so a campaign that spent
-- and earned nothing has ROAS 0 and ROI -1; types without revenue (lead, mql, ...) keep
-- NULL revenue, ROAS and ROI.
-- campaign NULL (a touch or a spend row without utm_campaign) is a campaign of its own:
-- spend and touches without a campaign meet there. Ratios are per row: over a period,
-- sum conversions, revenue and spend first, then divide.
--
-- BigQuery dialect. ${dataset} stands for the dataset the tables live in: the loader
-- (load/bigquery) replaces it with `project.dataset`, backquoted. The result is checked
-- with ZetaSQL (load/bigquery/zetasql_test.go), whose build rejects GROUP BY ALL and pipe
-- syntax, which BigQuery accepts: do not use them here. DATE(timestamp) is the UTC day.
-- scope is the journey scope of the credits (fct_attribution.scope): person (the
-- converting person's own touches), deal (the touches of every contact on the
-- conversion's deal) or account (the touches of every person of its account). Every
-- scope credits the same conversions in full: filter one scope, like one model, and
-- never add rows across scopes.
-- Rows of every scope carry the same spend (fct_spend has no scope), as the rows of every
-- model do: never add spend across scopes.
CREATE OR REPLACE VIEW ${dataset}.v_campaign_roi AS
WITH credited AS (
    -- campaign_key: '=' || campaign, '' for NULL, so that NULL meets NULL and no
    -- campaign name (not even '') can collide with it.
    SELECT 'conversion_date' AS date_basis, DATE(occurred_at) AS day, model, scope, conversion_type, channel,
           COALESCE('=' || campaign, '') AS campaign_key, credit, revenue_credit
    FROM ${dataset}.fct_attribution
    UNION ALL
    SELECT 'touch_date' AS date_basis, DATE(touch_occurred_at) AS day, model, scope, conversion_type, channel,
           COALESCE('=' || campaign, '') AS campaign_key, credit, revenue_credit
    FROM ${dataset}.fct_attribution
    WHERE touch_occurred_at IS NOT NULL
),
credit AS (
    SELECT date_basis, day, model, scope, conversion_type, channel, campaign_key,
           SUM(credit) AS conversions, SUM(revenue_credit) AS revenue
    FROM credited
    GROUP BY date_basis, day, model, scope, conversion_type, channel, campaign_key
),
spend AS (
    SELECT day, channel, campaign_key, SUM(cost) AS spend
    FROM (SELECT date AS day, channel, COALESCE('=' || campaign, '') AS campaign_key, cost
          FROM ${dataset}.fct_spend) AS s
    GROUP BY day, channel, campaign_key
),
valued AS (
    SELECT DISTINCT conversion_type
    FROM ${dataset}.fct_attribution
    WHERE revenue_credit IS NOT NULL
),
customers AS (
    SELECT date_basis, day, model, scope, channel, campaign_key, SUM(conversions) AS customers
    FROM credit
    WHERE conversion_type = 'customer'
    GROUP BY date_basis, day, model, scope, channel, campaign_key
),
grid AS (
    SELECT date_basis, day, model, scope, conversion_type, channel, campaign_key FROM credit
    UNION DISTINCT
    SELECT b.date_basis, s.day, m.model, m.scope, m.conversion_type, s.channel, s.campaign_key
    FROM (SELECT DISTINCT model, scope, conversion_type FROM ${dataset}.fct_attribution) AS m
    CROSS JOIN (SELECT 'conversion_date' AS date_basis UNION ALL SELECT 'touch_date' AS date_basis) AS b
    CROSS JOIN spend AS s
),
measured AS (
    SELECT
        g.date_basis,
        g.day,
        g.model,
        g.scope,
        g.conversion_type,
        g.channel,
        CASE WHEN g.campaign_key = '' THEN NULL ELSE SUBSTR(g.campaign_key, 2) END AS campaign,
        COALESCE(c.conversions, 0) AS conversions,
        CASE WHEN v.conversion_type IS NOT NULL THEN COALESCE(c.revenue, 0) ELSE c.revenue END AS revenue,
        s.spend AS spend,
        cu.customers AS customers
    FROM grid AS g
    LEFT JOIN credit AS c
        ON c.date_basis = g.date_basis AND c.day = g.day AND c.model = g.model AND c.scope = g.scope
       AND c.conversion_type = g.conversion_type AND c.channel = g.channel AND c.campaign_key = g.campaign_key
    LEFT JOIN spend AS s ON s.day = g.day AND s.channel = g.channel AND s.campaign_key = g.campaign_key
    LEFT JOIN customers AS cu
        ON cu.date_basis = g.date_basis AND cu.day = g.day AND cu.model = g.model AND cu.scope = g.scope
       AND cu.channel = g.channel AND cu.campaign_key = g.campaign_key
    LEFT JOIN valued AS v ON v.conversion_type = g.conversion_type
)
SELECT
    date_basis,
    day,
    model,
    scope,
    conversion_type,
    channel,
    campaign,
    conversions,
    revenue,
    spend,
    SAFE_DIVIDE(spend, conversions) AS cpa,
    SAFE_DIVIDE(spend, customers) AS cac,
    SAFE_DIVIDE(revenue, spend) AS roas,
    SAFE_DIVIDE(revenue - spend, spend) AS roi
FROM measured;
