-- A row: one attribution model x journey scope x search term x channel, over every loaded day.
-- Answers: which keywords (paid terms, and organic terms where known) bring visitors,
-- leads, customers and won revenue under each model, what the paid ones cost and their
-- return on ad spend (ROAS).
-- Columns:
--   model    the attribution model of the credits (fct_attribution.model); visitors and
--            spend repeat on every model's rows
--   channel  the channel of the touches, credits or spend with the term ('Paid Search',
--            'Organic Search', or any other channel a term came with): a term has one row
--            per channel
-- term is fct_touchpoint.term (the touch's utm_term or organic term; fct_attribution.term
-- is the credited touch's): as the source gave it, not case-folded. '(not provided)' is a
-- term of its own; touches without a term are left out. A term seen on several channels
-- (e.g. '(not provided)' on Organic Search and Paid Search) has one row per channel:
-- channel is the channel of the touches ('Paid Search', 'Organic Search', or any other
-- channel a term came with), so a paid keyword's spend never mixes with its organic
-- visits. Sum over channels for a term's total.
-- visitors = distinct persons with a touch with that term on that channel (fct_touchpoint,
-- every touch, not only credited ones): the same on every model row; never sum it across
-- models, nor across terms or channels (a person can use several).
-- leads = credit of 'lead' conversions, customers = credit of 'customer' conversions,
-- revenue = revenue credit of 'customer' conversions (0 when no customer is credited to
-- the row, NULL only when the credited customers have no known amount).
-- spend = fct_spend.cost of that term and channel, where the ad export has keywords
-- (fct_spend.term): NULL where no spend row has the term, and roas = revenue / spend
-- (NULL without spend). A keyword that cost money and brought nobody still has its rows
-- (visitors 0). The same spend shows on every model row: filter one model.
-- Rows exist for the models of fct_attribution: a warehouse without any attributed
-- conversion has no rows.
-- scope is the journey scope of the credits (fct_attribution.scope): person (the
-- converting person's own touches), deal (the touches of every contact on the
-- conversion's deal) or account (the touches of every person of its account). Every
-- scope credits the same conversions in full: filter one scope, like one model, and
-- never add rows across scopes.
CREATE OR REPLACE VIEW v_keyword_revenue AS
WITH visits AS (
    SELECT term, channel, COUNT(DISTINCT person_id) AS visitors
    FROM fct_touchpoint
    WHERE term IS NOT NULL
    GROUP BY term, channel
),
credit AS (
    SELECT model, scope, term, channel,
           SUM(CASE WHEN conversion_type = 'lead' THEN credit ELSE 0 END) AS leads,
           SUM(CASE WHEN conversion_type = 'customer' THEN credit ELSE 0 END) AS customers,
           COUNT(CASE WHEN conversion_type = 'customer' THEN 1 END) AS customer_credits,
           SUM(CASE WHEN conversion_type = 'customer' THEN revenue_credit END) AS revenue
    FROM fct_attribution
    WHERE term IS NOT NULL
    GROUP BY model, scope, term, channel
),
spend AS (
    SELECT term, channel, SUM(cost) AS spend
    FROM fct_spend
    WHERE term IS NOT NULL
    GROUP BY term, channel
),
keywords AS (
    SELECT term, channel FROM visits
    UNION
    SELECT term, channel FROM credit
    UNION
    SELECT term, channel FROM spend
),
grid AS (
    SELECT m.model, m.scope, k.term, k.channel
    FROM (SELECT DISTINCT model, scope FROM fct_attribution) AS m
    CROSS JOIN keywords AS k
),
measured AS (
    SELECT
        g.model,
        g.scope,
        g.term,
        g.channel,
        COALESCE(v.visitors, 0) AS visitors,
        COALESCE(c.leads, 0) AS leads,
        COALESCE(c.customers, 0) AS customers,
        CASE WHEN COALESCE(c.customer_credits, 0) = 0 THEN 0 ELSE c.revenue END AS revenue,
        s.spend AS spend
    FROM grid AS g
    LEFT JOIN visits AS v ON v.term = g.term AND v.channel = g.channel
    LEFT JOIN credit AS c ON c.model = g.model AND c.scope = g.scope AND c.term = g.term AND c.channel = g.channel
    LEFT JOIN spend AS s ON s.term = g.term AND s.channel = g.channel
)
SELECT
    model,
    scope,
    term,
    channel,
    visitors,
    leads,
    customers,
    revenue,
    spend,
    (revenue) / NULLIF(spend, 0) AS roas
FROM measured;
