-- A row: one persona x attribution model x journey scope x search term x channel, over every loaded day.
-- Answers: v_keyword_revenue's question for each persona (the ideal customers of
-- CLOSEDLOOP_PERSONAS): which keywords bring that persona's visitors, leads, customers and
-- won revenue under each model, and the return of the paid ones' whole spend on them.
-- persona is the persona of the row's people: COALESCE(dim_person.persona,
-- 'Unclassified') on the person_id of the touch (visitors) or of the conversion (credits);
-- a person without a dim_person row is 'Unclassified'. A persona's rows are exactly
-- v_keyword_revenue's on a warehouse holding only that persona's people: visitors,
-- credits, the models and the keywords of the grid come from that persona's touches and
-- credits; fct_spend has no person and is NOT split, so every keyword with spend has its
-- rows under every persona with credits.
-- term is fct_touchpoint.term (the touch's utm_term or organic term; fct_attribution.term
-- is the credited touch's): as the source gave it, not case-folded. '(not provided)' is a
-- term of its own; touches without a term are left out. A term seen on several channels
-- has one row per channel: channel is the channel of the touches, so a paid keyword's
-- spend never mixes with its organic visits. Sum over channels for a term's total.
-- visitors = distinct persons of the persona with a touch with that term on that channel
-- (fct_touchpoint, every touch, not only credited ones): the same on every model row;
-- never sum it across models, nor across terms or channels (a person can use several).
-- Personas do not share people: visitors add up across personas (but a persona without
-- attributed conversions has no rows to add).
-- leads = the persona's credit of 'lead' conversions, customers = of 'customer'
-- conversions, revenue = revenue credit of the persona's 'customer' conversions (0 when
-- none is credited to the row, NULL only when the credited customers have no known
-- amount).
-- spend = the whole fct_spend.cost of that term and channel, where the ad export has
-- keywords (fct_spend.term), the same on every persona's and every model's row: never sum
-- spend across personas or models. NULL where no spend row has the term. roas = the
-- persona's revenue / the whole spend (NULL without spend): the personas' roas add up to
-- v_keyword_revenue's. A keyword that cost money and brought nobody of the persona still
-- has its rows (visitors 0).
-- Rows exist for the models of the persona's fct_attribution rows: a persona without any
-- attributed conversion has no rows.
-- scope is the journey scope of the credits (fct_attribution.scope): person (the
-- converting person's own touches), deal (the touches of every contact on the
-- conversion's deal) or account (the touches of every person of its account). Every
-- scope credits the same conversions in full: filter one scope, like one model, and
-- never add rows across scopes.
CREATE OR REPLACE VIEW v_keyword_revenue_by_persona AS
WITH touched AS (
    SELECT COALESCE(dp.persona, 'Unclassified') AS persona, t.person_id, t.term, t.channel
    FROM fct_touchpoint AS t
    LEFT JOIN dim_person AS dp ON dp.person_id = t.person_id
    WHERE t.term IS NOT NULL
),
attributed AS (
    SELECT COALESCE(dp.persona, 'Unclassified') AS persona, a.model, a.scope, a.term, a.channel, a.conversion_type,
           a.credit, a.revenue_credit
    FROM fct_attribution AS a
    LEFT JOIN dim_person AS dp ON dp.person_id = a.person_id
),
visits AS (
    SELECT persona, term, channel, COUNT(DISTINCT person_id) AS visitors
    FROM touched
    GROUP BY persona, term, channel
),
credit AS (
    SELECT persona, model, scope, term, channel,
           SUM(CASE WHEN conversion_type = 'lead' THEN credit ELSE 0 END) AS leads,
           SUM(CASE WHEN conversion_type = 'customer' THEN credit ELSE 0 END) AS customers,
           COUNT(CASE WHEN conversion_type = 'customer' THEN 1 END) AS customer_credits,
           SUM(CASE WHEN conversion_type = 'customer' THEN revenue_credit END) AS revenue
    FROM attributed
    WHERE term IS NOT NULL
    GROUP BY persona, model, scope, term, channel
),
spend AS (
    SELECT term, channel, SUM(cost) AS spend
    FROM fct_spend
    WHERE term IS NOT NULL
    GROUP BY term, channel
),
models AS (
    SELECT DISTINCT persona, model, scope FROM attributed
),
keywords AS (
    SELECT persona, term, channel FROM visits
    UNION
    SELECT persona, term, channel FROM credit
    UNION
    SELECT p.persona, s.term, s.channel
    FROM (SELECT DISTINCT persona FROM models) AS p
    CROSS JOIN spend AS s
),
grid AS (
    SELECT m.persona, m.model, m.scope, k.term, k.channel
    FROM models AS m
    JOIN keywords AS k ON k.persona = m.persona
),
measured AS (
    SELECT
        g.persona,
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
    LEFT JOIN visits AS v ON v.persona = g.persona AND v.term = g.term AND v.channel = g.channel
    LEFT JOIN credit AS c ON c.persona = g.persona AND c.model = g.model AND c.scope = g.scope AND c.term = g.term AND c.channel = g.channel
    LEFT JOIN spend AS s ON s.term = g.term AND s.channel = g.channel
)
SELECT
    persona,
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
