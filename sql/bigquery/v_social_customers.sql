-- A row: one attribution model x journey scope x social network x social channel, over every loaded day.
-- Answers: which social networks, organic and paid, reach people and turn them into
-- leads, customers and won revenue under each model.
-- Columns:
--   model  the attribution model of the credits (fct_attribution.model); people_reached
--          repeats on every model's rows
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
-- people_reached = distinct persons with a touch on that network and channel
-- (fct_touchpoint, every touch, not only credited ones): the same on every model row;
-- never sum it across models, nor across networks or channels (a person can be reached on
-- several).
-- leads = credit of 'lead' conversions, customers = credit of 'customer' conversions,
-- revenue = revenue credit of 'customer' conversions (0 when no customer is credited to
-- the row, NULL only when the credited customers have no known amount). Credits come from
-- fct_attribution's channel, so they add up to v_channel_performance's for the two
-- social channels. Never sum leads, customers or revenue across models.
-- Rows exist for the models of fct_attribution: a warehouse without any attributed
-- conversion has no rows.
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
CREATE OR REPLACE VIEW ${dataset}.v_social_customers AS
WITH touches AS (
    SELECT
        touchpoint_id,
        person_id,
        channel,
        CASE
            WHEN LOWER(source) IN ('facebook', 'fb', 'facebook.com', 'www.facebook.com', 'm.facebook.com',
                                   'l.facebook.com', 'lm.facebook.com') THEN 'facebook'
            WHEN LOWER(source) IN ('instagram', 'ig', 'instagram.com', 'www.instagram.com',
                                   'l.instagram.com') THEN 'instagram'
            WHEN LOWER(source) IN ('linkedin', 'linkedin.com', 'www.linkedin.com', 'lnkd.in') THEN 'linkedin'
            WHEN LOWER(source) IN ('t.co', 'twitter', 'twitter.com', 'mobile.twitter.com', 'x', 'x.com') THEN 'x'
            WHEN LOWER(source) IN ('reddit', 'reddit.com', 'www.reddit.com', 'old.reddit.com') THEN 'reddit'
            WHEN LOWER(source) IN ('youtube', 'youtube.com', 'www.youtube.com', 'm.youtube.com') THEN 'youtube'
            ELSE source
        END AS network
    FROM ${dataset}.fct_touchpoint
),
reach AS (
    -- network_key: '=' || network, '' for NULL, so that NULL meets NULL in the joins
    -- and no network name can collide with it.
    SELECT COALESCE('=' || network, '') AS network_key, channel, COUNT(DISTINCT person_id) AS people_reached
    FROM touches
    WHERE channel IN ('Organic Social', 'Paid Social')
    GROUP BY COALESCE('=' || network, ''), channel
),
credit AS (
    SELECT
        a.model,
        a.scope,
        COALESCE('=' || t.network, '') AS network_key,
        a.channel,
        SUM(CASE WHEN a.conversion_type = 'lead' THEN a.credit ELSE 0 END) AS leads,
        SUM(CASE WHEN a.conversion_type = 'customer' THEN a.credit ELSE 0 END) AS customers,
        COUNT(CASE WHEN a.conversion_type = 'customer' THEN 1 END) AS customer_credits,
        SUM(CASE WHEN a.conversion_type = 'customer' THEN a.revenue_credit END) AS revenue
    FROM ${dataset}.fct_attribution AS a
    LEFT JOIN touches AS t ON t.touchpoint_id = a.touchpoint_id
    WHERE a.channel IN ('Organic Social', 'Paid Social')
    GROUP BY a.model, a.scope, COALESCE('=' || t.network, ''), a.channel
),
grid AS (
    SELECT m.model, m.scope, n.network_key, n.channel
    FROM (SELECT DISTINCT model, scope FROM ${dataset}.fct_attribution) AS m
    CROSS JOIN (
        SELECT network_key, channel FROM reach
        UNION DISTINCT
        SELECT network_key, channel FROM credit
    ) AS n
),
measured AS (
    SELECT
        g.model,
        g.scope,
        CASE WHEN g.network_key = '' THEN NULL ELSE SUBSTR(g.network_key, 2) END AS network,
        g.channel,
        COALESCE(r.people_reached, 0) AS people_reached,
        COALESCE(c.leads, 0) AS leads,
        COALESCE(c.customers, 0) AS customers,
        CASE WHEN COALESCE(c.customer_credits, 0) = 0 THEN 0 ELSE c.revenue END AS revenue
    FROM grid AS g
    LEFT JOIN reach AS r ON r.network_key = g.network_key AND r.channel = g.channel
    LEFT JOIN credit AS c ON c.model = g.model AND c.scope = g.scope AND c.network_key = g.network_key AND c.channel = g.channel
)
SELECT
    model,
    scope,
    network,
    channel,
    people_reached,
    leads,
    customers,
    revenue
FROM measured;
