-- A row: one won deal (a customer conversion) x attribution model x role (the persona of
-- the contacts) x channel: the channels that reached each role of the deal's buying
-- committee, from the deal scope's credits (fct_attribution.scope 'deal': the touches of
-- every contact associated with the deal, touch_person_id the contact who made each).
-- Answers: how many people bought the deal, who they were (personas, job titles), and
-- which channels reached each of them, with the credit those channels earn there.
-- Columns:
--   account_id      the deal's account (fct_conversion.account_id); NULL when none
--   account_name    dim_account.name of the account
--   crm_deal_id     the CRM deal behind the conversion (fct_conversion.crm_deal_id)
--   conversion_id   the customer conversion (fct_conversion.conversion_id)
--   won_date        UTC day the deal was won (the conversion's occurred_at)
--   deal_revenue    the deal's revenue (fct_conversion.revenue)
--   model           the attribution model of the credits (fct_attribution.model)
--   deal_contacts   distinct contacts with a touch in the deal's journey under the model:
--                   the size of the buying committee reached (the same on every row of
--                   the deal and model)
--   persona         the role: dim_person.persona of the touching contacts ('Unclassified'
--                   without one); '(none)' on the row of a deal without any touch
--   job_titles      the distinct dim_person.job_title of the role's contacts reached by
--                   the channel, alphabetical, comma-separated; NULL when none has one
--   channel         the channel of the touches ('(none)' without any)
--   contacts        distinct contacts of the role reached by the channel on the deal
--   touches         their touches in the deal's journey
--   credit          SUM of the touches' credit: the share of the deal the channel earns
--                   through the role; the credits of a deal and model sum to 1
--   revenue_credit  SUM of the touches' revenue_credit: credit x deal_revenue
-- Deals won without a deal-scope journey (a run with CLOSEDLOOP_JOURNEY_SCOPE not writing
-- deal) have no rows. Filter one model; never add deal_contacts or deal_revenue across
-- rows of a deal (they repeat), but credit and revenue_credit add up over a deal's rows.
--
-- BigQuery dialect. ${dataset} stands for the dataset the tables live in: the loader
-- (load/bigquery) replaces it with `project.dataset`, backquoted. The result is checked
-- with ZetaSQL (load/bigquery/zetasql_test.go), whose build rejects GROUP BY ALL and pipe
-- syntax, which BigQuery accepts: do not use them here. DATE(timestamp) is the UTC day.
CREATE OR REPLACE VIEW ${dataset}.v_buying_committee AS
WITH won AS (
    SELECT conversion_id, crm_deal_id, account_id, occurred_at, revenue
    FROM ${dataset}.fct_conversion
    WHERE conversion_type = 'customer'
),
deal_credit AS (
    SELECT a.conversion_id, a.model, a.touch_person_id, a.touchpoint_id, a.channel, a.credit, a.revenue_credit,
           CASE WHEN a.touch_person_id IS NULL THEN '(none)' ELSE COALESCE(p.persona, 'Unclassified') END AS persona,
           p.job_title
    FROM ${dataset}.fct_attribution AS a
    JOIN won AS w ON w.conversion_id = a.conversion_id
    LEFT JOIN ${dataset}.dim_person AS p ON p.person_id = a.touch_person_id
    WHERE a.scope = 'deal'
),
committee AS (
    SELECT conversion_id, model, COUNT(DISTINCT touch_person_id) AS deal_contacts
    FROM deal_credit
    GROUP BY conversion_id, model
),
role AS (
    SELECT conversion_id, model, persona, channel,
           STRING_AGG(DISTINCT job_title, ', ' ORDER BY job_title) AS job_titles,
           COUNT(DISTINCT touch_person_id) AS contacts,
           COUNT(touchpoint_id) AS touches,
           SUM(credit) AS credit,
           SUM(revenue_credit) AS revenue_credit
    FROM deal_credit
    GROUP BY conversion_id, model, persona, channel
)
SELECT
    w.account_id,
    a.name AS account_name,
    w.crm_deal_id,
    w.conversion_id,
    DATE(w.occurred_at) AS won_date,
    w.revenue AS deal_revenue,
    r.model,
    c.deal_contacts,
    r.persona,
    r.job_titles,
    r.channel,
    r.contacts,
    r.touches,
    r.credit,
    r.revenue_credit
FROM role AS r
JOIN won AS w ON w.conversion_id = r.conversion_id
JOIN committee AS c ON c.conversion_id = r.conversion_id AND c.model = r.model
LEFT JOIN ${dataset}.dim_account AS a ON a.account_id = w.account_id;
