-- A row: one account x CRM funnel stage (conversion_type lead, mql, sql, opportunity,
-- customer) the account reached, over every loaded day.
-- Answers: how an account (a company that buys, dim_account) came to each stage of the
-- funnel: how many of its people were engaged before it got there, with how many touches
-- on how many channels, since when, and how long the whole account took to close.
-- An account reached a stage at its first conversion of that type (fct_conversion with
-- that account_id: the deal's account, else the person's). Its people are the persons
-- of dim_person with its account_id; their touches are fct_touchpoint's. Accounts
-- without a conversion of the funnel have no rows.
-- Columns:
--   account_id        the account (dim_account.account_id)
--   account_name      dim_account.name; NULL when the account has no dim_account row
--   domain            dim_account.domain
--   industry          dim_account.industry
--   conversion_type   the funnel stage: lead, mql, sql, opportunity or customer
--   reached_date      UTC day of the account's first conversion of the stage
--   contacts          persons of the account (dim_person.account_id), engaged or not
--   contacts_engaged  persons of the account with a touch before the account reached the
--                     stage
--   touches           touches of the account's persons before it reached the stage
--   channels          distinct channels of those touches
--   first_touch_date  UTC day of the account's first touch (any of its persons); NULL
--                     when none was before the stage
--   days_to_stage     fractional days from the account's first touch to the stage; NULL
--                     without a touch before it
--   days_to_close     fractional days from the account's first touch to its first won
--                     deal (its first customer conversion): the same on every stage row
--                     of the account; NULL before it is won or without a touch before
-- A person counts on the stages the account reached after their first touch: never add
-- contacts_engaged or touches across stages (a stage's figures include the earlier ones').
CREATE OR REPLACE VIEW v_account_journeys AS
WITH stage AS (
    SELECT 'lead' AS conversion_type
    UNION ALL SELECT 'mql'
    UNION ALL SELECT 'sql'
    UNION ALL SELECT 'opportunity'
    UNION ALL SELECT 'customer'
),
reached AS (
    SELECT c.account_id, c.conversion_type, MIN(c.occurred_at) AS reached_at
    FROM fct_conversion AS c
    JOIN stage AS s ON s.conversion_type = c.conversion_type
    WHERE c.account_id IS NOT NULL
    GROUP BY c.account_id, c.conversion_type
),
account_touch AS (
    SELECT p.account_id, t.person_id, t.touchpoint_id, t.channel, t.occurred_at
    FROM fct_touchpoint AS t
    JOIN dim_person AS p ON p.person_id = t.person_id
    WHERE p.account_id IS NOT NULL
),
people AS (
    SELECT account_id, COUNT(*) AS contacts
    FROM dim_person
    WHERE account_id IS NOT NULL
    GROUP BY account_id
),
engaged AS (
    SELECT r.account_id, r.conversion_type, r.reached_at,
           COUNT(DISTINCT t.person_id) AS contacts_engaged,
           COUNT(t.touchpoint_id) AS touches,
           COUNT(DISTINCT t.channel) AS channels,
           MIN(t.occurred_at) AS first_touch_at
    FROM reached AS r
    LEFT JOIN account_touch AS t ON t.account_id = r.account_id AND t.occurred_at < r.reached_at
    GROUP BY r.account_id, r.conversion_type, r.reached_at
)
SELECT
    e.account_id,
    a.name AS account_name,
    a.domain,
    a.industry,
    e.conversion_type,
    CAST(e.reached_at AS DATE) AS reached_date,
    COALESCE(n.contacts, 0) AS contacts,
    e.contacts_engaged,
    e.touches,
    e.channels,
    CAST(e.first_touch_at AS DATE) AS first_touch_date,
    CAST(date_diff('microsecond', e.first_touch_at, e.reached_at) AS DOUBLE) / 86400000000 AS days_to_stage,
    CAST(date_diff('microsecond', w.first_touch_at, w.reached_at) AS DOUBLE) / 86400000000 AS days_to_close
FROM engaged AS e
LEFT JOIN engaged AS w ON w.account_id = e.account_id AND w.conversion_type = 'customer'
LEFT JOIN dim_account AS a ON a.account_id = e.account_id
LEFT JOIN people AS n ON n.account_id = e.account_id;
