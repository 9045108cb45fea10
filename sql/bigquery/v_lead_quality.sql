-- A row: one attribution model x journey scope x breakdown x segment x persona, over every loaded day: the
-- leads the segment brought and what those people became later (a cohort of leads).
-- Answers: more leads are not always better: how many of the leads a channel, campaign or
-- keyword brought became MQLs, SQLs, opportunities and customers, and what they were
-- worth, per persona.
-- A lead is a person with a 'lead' conversion (fct_conversion); their lead time is their
-- earliest one (two at the same instant: the smaller conversion_id), and only that
-- conversion's fct_attribution rows under the model say where the lead came from
-- (channel, campaign, term, credit; the credits of a conversion and model sum to 1, a
-- lead without touches has one '(none)' row with credit 1). Later lead conversions are
-- ignored; people without a lead conversion (a customer the CRM never had as a lead) are
-- not in the view, nor is a lead whose earliest lead conversion has no fct_attribution
-- row under the model. What the person became is counted with the lead's credit.
-- Columns:
--   model     the attribution model of the lead conversions' credits (fct_attribution.model)
--   channel   the channel of the lead's credited touch ('(none)' for a lead without
--             touches), on the rows of every breakdown
--   campaign  on 'campaign' rows, the campaign of the lead's credited touch (NULL for
--             touches without a campaign); NULL on the other breakdowns
--   term      on 'keyword' rows, the keyword (fct_attribution.term) of the lead's credited
--             touch (NULL for touches without a keyword); NULL on the other breakdowns
-- breakdown says what the segment is:
--   'channel'   channel set; campaign and term NULL;
--   'campaign'  channel and campaign (NULL: the lead's touches without a campaign); term NULL;
--   'keyword'   channel and term (NULL: the lead's touches without a keyword); campaign NULL.
-- persona = dim_person.persona of the lead, 'Unclassified' when the person has no
-- dim_person row.
-- Outcomes of a lead are taken at any time, before or after the lead (a CRM may skip or
-- back-date a stage): the person has an 'mql', an 'sql', an 'opportunity', a 'customer'
-- conversion.
--   lead_people            distinct lead persons with credit > 0 in the row
--   leads                  SUM of the leads' credit
--   mqls, sqls, opportunities, customers
--                          SUM of the credit of the leads with that outcome
--   lead_to_customer_rate  customers / leads (NULL when leads = 0)
--   revenue                SUM of credit x the person's revenue, which is the SUM of the
--                          revenue of their 'customer' conversions (unknown amounts left
--                          out); 0 when no customer has credit in the row, NULL when the
--                          row's customers all have unknown amounts
--   revenue_per_lead       revenue / leads (NULL when leads = 0 or revenue is NULL)
--   median_days_to_close   exact (interpolated) median, unweighted, over the row's distinct
--                          lead persons with credit > 0 who became customers, of the
--                          fractional days from their lead time to their earliest
--                          'customer' conversion; negative when the CRM dated the customer
--                          before the lead (kept, not clipped to 0); NULL when none
-- Within one model, breakdown and persona the rows partition the persona's leads: their
-- leads add up to the persona's number of leads, their mqls ... customers to the number of
-- those leads that reached the stage. Never add rows across models or across breakdowns
-- (each counts every lead once); never add lead_people or median_days_to_close across rows
-- (a lead with touches on two channels is a lead person of both); recompute the rates
-- from the sums. The always-on filters are model and breakdown (the LookML explore
-- starts filtered on both, by column name).
-- Rows exist for the models of the leads' fct_attribution rows: a warehouse without an
-- attributed lead has no rows.
--
-- BigQuery dialect of sql/duckdb/v_lead_quality.sql: the same columns and numbers.
-- ${dataset} stands for the dataset (the loader substitutes it). The median is
-- PERCENTILE_CONT as an analytic function in a subquery (the exact, interpolated median,
-- like DuckDB's quantile_cont and PostgreSQL's percentile_cont), not APPROX_QUANTILES; no
-- GROUP BY ALL or pipe syntax (ZetaSQL, load/bigquery/zetasql_test.go, rejects them).
-- scope is the journey scope of the credits (fct_attribution.scope): person (the
-- converting person's own touches), deal (the touches of every contact on the
-- conversion's deal) or account (the touches of every person of its account). Every
-- scope credits the same conversions in full: filter one scope, like one model, and
-- never add rows across scopes.
CREATE OR REPLACE VIEW ${dataset}.v_lead_quality AS
WITH first_lead AS (
    SELECT person_id, conversion_id, occurred_at AS lead_at
    FROM (
        SELECT person_id, conversion_id, occurred_at,
               ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY occurred_at, conversion_id) AS n
        FROM ${dataset}.fct_conversion
        WHERE conversion_type = 'lead'
    ) AS l
    WHERE n = 1
),
outcome AS (
    SELECT person_id,
           MAX(CASE WHEN conversion_type = 'mql' THEN 1 ELSE 0 END) AS is_mql,
           MAX(CASE WHEN conversion_type = 'sql' THEN 1 ELSE 0 END) AS is_sql,
           MAX(CASE WHEN conversion_type = 'opportunity' THEN 1 ELSE 0 END) AS is_opportunity,
           MAX(CASE WHEN conversion_type = 'customer' THEN 1 ELSE 0 END) AS is_customer,
           SUM(CASE WHEN conversion_type = 'customer' THEN revenue END) AS revenue,
           MIN(CASE WHEN conversion_type = 'customer' THEN occurred_at END) AS customer_at
    FROM ${dataset}.fct_conversion
    WHERE conversion_type IN ('mql', 'sql', 'opportunity', 'customer')
    GROUP BY person_id
),
lead_person AS (
    SELECT l.person_id, l.conversion_id,
           COALESCE(dp.persona, 'Unclassified') AS persona,
           COALESCE(o.is_mql, 0) AS is_mql,
           COALESCE(o.is_sql, 0) AS is_sql,
           COALESCE(o.is_opportunity, 0) AS is_opportunity,
           COALESCE(o.is_customer, 0) AS is_customer,
           o.revenue,
           TIMESTAMP_DIFF(o.customer_at, l.lead_at, MICROSECOND) / 86400000000 AS days_to_close
    FROM first_lead AS l
    LEFT JOIN outcome AS o ON o.person_id = l.person_id
    LEFT JOIN ${dataset}.dim_person AS dp ON dp.person_id = l.person_id
),
lead_credit AS (
    SELECT a.model, a.scope, a.channel, a.campaign, a.term, l.person_id, a.credit
    FROM ${dataset}.fct_attribution AS a
    JOIN lead_person AS l ON l.conversion_id = a.conversion_id
),
segmented AS (
    SELECT model, scope, 'channel' AS breakdown, channel, CAST(NULL AS STRING) AS campaign,
           CAST(NULL AS STRING) AS term, person_id, credit
    FROM lead_credit
    UNION ALL
    SELECT model, scope, 'campaign', channel, campaign, NULL, person_id, credit FROM lead_credit
    UNION ALL
    SELECT model, scope, 'keyword', channel, NULL, term, person_id, credit FROM lead_credit
),
credited AS (
    SELECT model, scope, breakdown, channel, campaign, term, person_id, SUM(credit) AS credit
    FROM segmented
    GROUP BY model, scope, breakdown, channel, campaign, term, person_id
),
measured AS (
    SELECT c.model, c.scope, c.breakdown, c.channel, c.campaign, c.term, l.persona, c.credit,
           l.is_mql, l.is_sql, l.is_opportunity, l.is_customer, l.revenue,
           CASE WHEN c.credit > 0 AND l.is_customer = 1 THEN l.days_to_close END AS days_to_close
    FROM credited AS c
    JOIN lead_person AS l ON l.person_id = c.person_id
),
grouped AS (
    SELECT model, scope, breakdown, channel, campaign, term, persona,
           COUNT(CASE WHEN credit > 0 THEN 1 END) AS lead_people,
           SUM(credit) AS leads,
           SUM(CASE WHEN is_mql = 1 THEN credit ELSE 0 END) AS mqls,
           SUM(CASE WHEN is_sql = 1 THEN credit ELSE 0 END) AS sqls,
           SUM(CASE WHEN is_opportunity = 1 THEN credit ELSE 0 END) AS opportunities,
           SUM(CASE WHEN is_customer = 1 THEN credit ELSE 0 END) AS customers,
           CASE WHEN COUNT(CASE WHEN is_customer = 1 AND credit > 0 THEN 1 END) = 0 THEN 0
                ELSE SUM(CASE WHEN is_customer = 1 THEN credit * revenue END)
           END AS revenue,
           MAX(median_days) AS median_days_to_close
    FROM (
        SELECT model, scope, breakdown, channel, campaign, term, persona, credit,
               is_mql, is_sql, is_opportunity, is_customer, revenue,
               PERCENTILE_CONT(days_to_close, 0.5)
                   OVER (PARTITION BY model, scope, breakdown, channel, campaign, term, persona) AS median_days
        FROM measured
    ) AS m
    GROUP BY model, scope, breakdown, channel, campaign, term, persona
)
SELECT
    model,
    scope,
    breakdown,
    channel,
    campaign,
    term,
    persona,
    lead_people,
    leads,
    mqls,
    sqls,
    opportunities,
    customers,
    SAFE_DIVIDE(customers, leads) AS lead_to_customer_rate,
    revenue,
    SAFE_DIVIDE(revenue, leads) AS revenue_per_lead,
    median_days_to_close
FROM grouped;
