-- A row: one persona x date basis x day x attribution model x journey scope x conversion type x channel x
-- campaign.
-- Answers: v_campaign_roi's question for each persona (the ideal customers of
-- CLOSEDLOOP_PERSONAS): what each campaign earned from that persona, day by day, under
-- each model, and what one conversion or customer of that persona costs.
-- persona is the persona of the conversion's person: COALESCE(dim_person.persona,
-- 'Unclassified') on fct_attribution.person_id (a person without a dim_person row is
-- 'Unclassified'). A persona's rows are exactly v_campaign_roi's on a warehouse holding
-- only that persona's people: conversions, revenue and customers, the models and
-- conversion types of the grid and the types that carry revenue all come from that
-- persona's credits; fct_spend has no person and is NOT split.
-- spend is the campaign's whole cost on that day in fct_spend (the ad platform's day),
-- matched on channel and campaign, the same on every persona's row (and on every
-- conversion_type row and both date bases): never sum spend across personas or types.
-- cpa = the whole spend / that persona's conversions, cac = the whole spend / that
-- persona's customers of the same date basis, day, model, channel and campaign: what one
-- conversion or customer of that persona costs. roas = that persona's revenue / the whole
-- spend: the personas' roas add up to v_campaign_roi's; roi = (that persona's revenue -
-- spend) / spend does not (recompute it from the sums).
-- date_basis 'conversion_date' counts credits on the UTC day of the conversion,
-- 'touch_date' on the UTC day of the credited touch. A conversion without any touch
-- (channel '(none)', no touchpoint) has no touch day: it is left out of the touch_date
-- rows and shows under conversion_date only. Filter one date_basis: every other credit is
-- in both.
-- A day with spend and no credited conversion of the persona has conversions 0, for every
-- model and conversion type of that persona's credits (a persona without credits has no
-- rows); its revenue is 0, not NULL, for the types that carry revenue in the persona's
-- credits (customer, valued touch-log conversions), so a campaign that spent and earned
-- nothing from the persona has ROAS 0 and ROI -1; types without revenue (lead, mql, ...)
-- keep NULL revenue, ROAS and ROI.
-- campaign NULL (a touch or a spend row without utm_campaign) is a campaign of its own:
-- spend and touches without a campaign meet there. Ratios are per row: over a period,
-- sum conversions, revenue and spend (spend of one persona) first, then divide.
-- scope is the journey scope of the credits (fct_attribution.scope): person (the
-- converting person's own touches), deal (the touches of every contact on the
-- conversion's deal) or account (the touches of every person of its account). Every
-- scope credits the same conversions in full: filter one scope, like one model, and
-- never add rows across scopes.
-- Rows of every scope carry the same spend (fct_spend has no scope), as the rows of every
-- model do: never add spend across scopes.
CREATE OR REPLACE VIEW v_campaign_roi_by_persona AS
WITH attributed AS (
    SELECT COALESCE(dp.persona, 'Unclassified') AS persona, a.model, a.scope, a.conversion_type, a.channel, a.campaign,
           a.credit, a.revenue_credit, a.occurred_at, a.touch_occurred_at
    FROM fct_attribution AS a
    LEFT JOIN dim_person AS dp ON dp.person_id = a.person_id
),
credited AS (
    -- campaign_key: '=' || campaign, '' for NULL, so that NULL meets NULL and no
    -- campaign name (not even '') can collide with it.
    SELECT persona, 'conversion_date' AS date_basis, CAST(occurred_at AS DATE) AS day, model, scope, conversion_type, channel,
           COALESCE('=' || campaign, '') AS campaign_key, credit, revenue_credit
    FROM attributed
    UNION ALL
    SELECT persona, 'touch_date' AS date_basis, CAST(touch_occurred_at AS DATE) AS day, model, scope, conversion_type, channel,
           COALESCE('=' || campaign, '') AS campaign_key, credit, revenue_credit
    FROM attributed
    WHERE touch_occurred_at IS NOT NULL
),
credit AS (
    SELECT persona, date_basis, day, model, scope, conversion_type, channel, campaign_key,
           SUM(credit) AS conversions, SUM(revenue_credit) AS revenue
    FROM credited
    GROUP BY persona, date_basis, day, model, scope, conversion_type, channel, campaign_key
),
spend AS (
    SELECT day, channel, campaign_key, SUM(cost) AS spend
    FROM (SELECT date AS day, channel, COALESCE('=' || campaign, '') AS campaign_key, cost
          FROM fct_spend) AS s
    GROUP BY day, channel, campaign_key
),
valued AS (
    SELECT DISTINCT persona, conversion_type
    FROM attributed
    WHERE revenue_credit IS NOT NULL
),
customers AS (
    SELECT persona, date_basis, day, model, scope, channel, campaign_key, SUM(conversions) AS customers
    FROM credit
    WHERE conversion_type = 'customer'
    GROUP BY persona, date_basis, day, model, scope, channel, campaign_key
),
grid AS (
    SELECT persona, date_basis, day, model, scope, conversion_type, channel, campaign_key FROM credit
    UNION
    SELECT m.persona, b.date_basis, s.day, m.model, m.scope, m.conversion_type, s.channel, s.campaign_key
    FROM (SELECT DISTINCT persona, model, scope, conversion_type FROM attributed) AS m
    CROSS JOIN (SELECT 'conversion_date' AS date_basis UNION ALL SELECT 'touch_date' AS date_basis) AS b
    CROSS JOIN spend AS s
),
measured AS (
    SELECT
        g.persona,
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
        ON c.persona = g.persona AND c.date_basis = g.date_basis AND c.day = g.day AND c.model = g.model AND c.scope = g.scope
       AND c.conversion_type = g.conversion_type AND c.channel = g.channel AND c.campaign_key = g.campaign_key
    LEFT JOIN spend AS s ON s.day = g.day AND s.channel = g.channel AND s.campaign_key = g.campaign_key
    LEFT JOIN customers AS cu
        ON cu.persona = g.persona AND cu.date_basis = g.date_basis AND cu.day = g.day AND cu.model = g.model AND cu.scope = g.scope
       AND cu.channel = g.channel AND cu.campaign_key = g.campaign_key
    LEFT JOIN valued AS v ON v.persona = g.persona AND v.conversion_type = g.conversion_type
)
SELECT
    persona,
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
    (spend) / NULLIF(conversions, 0) AS cpa,
    (spend) / NULLIF(customers, 0) AS cac,
    (revenue) / NULLIF(spend, 0) AS roas,
    (revenue - spend) / NULLIF(spend, 0) AS roi
FROM measured;
