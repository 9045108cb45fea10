-- A row: one persona x attribution model x journey scope x social network x social channel, over every
-- loaded day.
-- Answers: v_social_customers's question for each persona (the ideal customers of
-- CLOSEDLOOP_PERSONAS): which social networks, organic and paid, reach that persona's
-- people and turn them into leads, customers and won revenue under each model.
-- persona is the persona of the row's people: COALESCE(dim_person.persona,
-- 'Unclassified') on the person_id of the touch (people_reached) or of the conversion
-- (credits); a person without a dim_person row is 'Unclassified'. A persona's rows are
-- exactly v_social_customers's on a warehouse holding only that persona's people: reach,
-- credits, the models and the networks of the grid come from that persona's touches and
-- credits, and a credit's network from its touch only when that touch is of the same
-- persona (NULL otherwise, as for a touch missing from fct_touchpoint).
-- channel is 'Organic Social' or 'Paid Social' (the touch's channel; other channels are
-- left out). network is the touch's source (fct_touchpoint.source, joined on
-- touchpoint_id for the credits, as fct_attribution has no source), matched without case:
-- facebook, fb, facebook.com, www.facebook.com, m.facebook.com, l.facebook.com,
-- lm.facebook.com -> 'facebook'; instagram, ig, instagram.com, www.instagram.com,
-- l.instagram.com -> 'instagram'; linkedin, linkedin.com, www.linkedin.com, lnkd.in ->
-- 'linkedin'; t.co, twitter, twitter.com, mobile.twitter.com, x, x.com -> 'x'; reddit,
-- reddit.com, www.reddit.com, old.reddit.com -> 'reddit'; youtube, youtube.com,
-- www.youtube.com, m.youtube.com -> 'youtube'; any other source as it is (NULL without a
-- source, or for a credit whose touch is not in fct_touchpoint).
-- people_reached = distinct persons of the persona with a touch on that network and
-- channel (fct_touchpoint, every touch, not only credited ones): the same on every model
-- row; never sum it across models, nor across networks or channels (a person can be
-- reached on several). Personas do not share people: it adds up across personas (but a
-- persona without attributed conversions has no rows to add).
-- leads = the persona's credit of 'lead' conversions, customers = of 'customer'
-- conversions, revenue = revenue credit of the persona's 'customer' conversions (0 when
-- none is credited to the row, NULL only when the credited customers have no known
-- amount). Never sum leads, customers or revenue across models; they add up across
-- personas. The view has no spend.
-- Rows exist for the models of the persona's fct_attribution rows: a persona without any
-- attributed conversion has no rows.
--
-- BigQuery dialect. ${dataset} stands for the dataset the tables live in: the loader
-- (load/bigquery) replaces it with `project.dataset`, backquoted. The result is checked
-- with ZetaSQL (load/bigquery/zetasql_test.go), whose build rejects GROUP BY ALL and pipe
-- syntax, which BigQuery accepts: do not use them here.
-- scope is the journey scope of the credits (fct_attribution.scope): person (the
-- converting person's own touches), deal (the touches of every contact on the
-- conversion's deal) or account (the touches of every person of its account). Every
-- scope credits the same conversions in full: filter one scope, like one model, and
-- never add rows across scopes.
CREATE OR REPLACE VIEW ${dataset}.v_social_customers_by_persona AS
WITH touches AS (
    SELECT
        COALESCE(dp.persona, 'Unclassified') AS persona,
        t.touchpoint_id,
        t.person_id,
        t.channel,
        CASE
            WHEN LOWER(t.source) IN ('facebook', 'fb', 'facebook.com', 'www.facebook.com', 'm.facebook.com',
                                     'l.facebook.com', 'lm.facebook.com') THEN 'facebook'
            WHEN LOWER(t.source) IN ('instagram', 'ig', 'instagram.com', 'www.instagram.com',
                                     'l.instagram.com') THEN 'instagram'
            WHEN LOWER(t.source) IN ('linkedin', 'linkedin.com', 'www.linkedin.com', 'lnkd.in') THEN 'linkedin'
            WHEN LOWER(t.source) IN ('t.co', 'twitter', 'twitter.com', 'mobile.twitter.com', 'x', 'x.com') THEN 'x'
            WHEN LOWER(t.source) IN ('reddit', 'reddit.com', 'www.reddit.com', 'old.reddit.com') THEN 'reddit'
            WHEN LOWER(t.source) IN ('youtube', 'youtube.com', 'www.youtube.com', 'm.youtube.com') THEN 'youtube'
            ELSE t.source
        END AS network
    FROM ${dataset}.fct_touchpoint AS t
    LEFT JOIN ${dataset}.dim_person AS dp ON dp.person_id = t.person_id
),
attributed AS (
    SELECT COALESCE(dp.persona, 'Unclassified') AS persona, a.model, a.scope, a.touchpoint_id, a.channel, a.conversion_type,
           a.credit, a.revenue_credit
    FROM ${dataset}.fct_attribution AS a
    LEFT JOIN ${dataset}.dim_person AS dp ON dp.person_id = a.person_id
),
reach AS (
    -- network_key: '=' || network, '' for NULL, so that NULL meets NULL in the joins
    -- and no network name can collide with it.
    SELECT persona, COALESCE('=' || network, '') AS network_key, channel, COUNT(DISTINCT person_id) AS people_reached
    FROM touches
    WHERE channel IN ('Organic Social', 'Paid Social')
    GROUP BY persona, COALESCE('=' || network, ''), channel
),
credit AS (
    -- a credit's touch counts only if it is of the same persona: another persona's touch
    -- is not on the warehouse of this persona's people.
    SELECT
        a.persona,
        a.model,
        a.scope,
        COALESCE('=' || t.network, '') AS network_key,
        a.channel,
        SUM(CASE WHEN a.conversion_type = 'lead' THEN a.credit ELSE 0 END) AS leads,
        SUM(CASE WHEN a.conversion_type = 'customer' THEN a.credit ELSE 0 END) AS customers,
        COUNT(CASE WHEN a.conversion_type = 'customer' THEN 1 END) AS customer_credits,
        SUM(CASE WHEN a.conversion_type = 'customer' THEN a.revenue_credit END) AS revenue
    FROM attributed AS a
    LEFT JOIN touches AS t ON t.touchpoint_id = a.touchpoint_id AND t.persona = a.persona
    WHERE a.channel IN ('Organic Social', 'Paid Social')
    GROUP BY a.persona, a.model, a.scope, COALESCE('=' || t.network, ''), a.channel
),
grid AS (
    SELECT m.persona, m.model, m.scope, n.network_key, n.channel
    FROM (SELECT DISTINCT persona, model, scope FROM attributed) AS m
    JOIN (
        SELECT persona, network_key, channel FROM reach
        UNION DISTINCT
        SELECT persona, network_key, channel FROM credit
    ) AS n ON n.persona = m.persona
),
measured AS (
    SELECT
        g.persona,
        g.model,
        g.scope,
        CASE WHEN g.network_key = '' THEN NULL ELSE SUBSTR(g.network_key, 2) END AS network,
        g.channel,
        COALESCE(r.people_reached, 0) AS people_reached,
        COALESCE(c.leads, 0) AS leads,
        COALESCE(c.customers, 0) AS customers,
        CASE WHEN COALESCE(c.customer_credits, 0) = 0 THEN 0 ELSE c.revenue END AS revenue
    FROM grid AS g
    LEFT JOIN reach AS r ON r.persona = g.persona AND r.network_key = g.network_key AND r.channel = g.channel
    LEFT JOIN credit AS c
        ON c.persona = g.persona AND c.model = g.model AND c.scope = g.scope AND c.network_key = g.network_key AND c.channel = g.channel
)
SELECT
    persona,
    model,
    scope,
    network,
    channel,
    people_reached,
    leads,
    customers,
    revenue
FROM measured;
