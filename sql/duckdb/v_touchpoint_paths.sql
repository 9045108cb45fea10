-- A row: one conversion type x channel path, over every loaded day.
-- Answers: which ordered channel paths lead to each conversion type most often, how often
-- the same path ends without that conversion, how many touches and days it takes, and
-- what the conversions on it earn.
-- A converting path is the journey the linear model credited for one conversion
-- (fct_attribution, model 'linear'): the touches of its journey as the run built it (the
-- lookback window; by default a journey restarts after the person's previous conversion
-- of the same type). Their channels, oldest first (ties by touchpoint_id), consecutive
-- repeats kept, joined with ' > '. A conversion without a touch in its window has the
-- path '(none)'. The conversion types are those with a linear journey (CRM milestones,
-- touch-log and micro-conversions alike): no rows at all if the run did not compute the
-- linear model.
-- A non-converting path is, for each person with a touch and each conversion type of the
-- view they never reached (fct_conversion), the channels of ALL their touches in the same
-- order (no lookback window): it only feeds non_conversions and conversion_rate.
-- Columns:
--   conversion_type      the conversion type (fct_attribution.conversion_type): the
--                        converting paths led to it, the non-converting ones' people never
--                        reached it
--   path                 the channels of a conversion's linear journey (converting) or of
--                        all a person's touches (non-converting), oldest first, joined
--                        with ' > ' (e.g. 'Paid Search > Direct > Email'); '(none)' for a
--                        conversion without a touch in its window
--   avg_touches          mean number of touches of the path's converting journeys (their
--                        credited touches, repeats included: the number of channels in the
--                        path, 0 for '(none)'); NULL when the path has no conversion
--   avg_days_to_convert  mean, over the path's conversions, of the fractional days from the
--                        journey's first touch to the conversion; NULL when the path has no
--                        conversion, and for '(none)'
-- conversions counts conversions (a person converting twice counts twice), non_conversions
-- counts people; conversion_rate = conversions / (conversions + non_conversions).
-- avg_touches and avg_days_to_convert (first touch of the path -> conversion, in days)
-- average over the conversions of the path: NULL when it has none; '(none)' has 0 touches
-- and a NULL avg_days_to_convert. revenue sums fct_conversion.revenue of the conversions (NULL when
-- none has revenue). rank = RANK() by conversions, highest first, within the conversion
-- type (ties share a rank; paths that never converted rank last).
-- Filter on one conversion_type: a person's journey shows up under several types, so
-- never add conversions, non_conversions or revenue across types.
-- The converting journeys are those of the person scope (fct_attribution.scope 'person'):
-- one person's touches, comparable with the non-converting people's paths; the
-- journeys of a deal's or an account's buying committee are in v_account_journeys.
CREATE OR REPLACE VIEW v_touchpoint_paths AS
WITH journey AS (
    -- one row per conversion: its linear journey
    SELECT conversion_id, conversion_type, occurred_at,
           string_agg(channel, ' > ' ORDER BY touch_occurred_at, touchpoint_id) AS path,
           COUNT(touchpoint_id) AS touches,
           MIN(touch_occurred_at) AS first_touch_at
    FROM fct_attribution
    WHERE model = 'linear' AND scope = 'person'
    GROUP BY conversion_id, conversion_type, occurred_at
),
converting AS (
    SELECT j.conversion_type, j.path,
           COUNT(*) AS conversions,
           AVG(CAST(j.touches AS DOUBLE)) AS avg_touches,
           AVG(CAST(date_diff('microsecond', j.first_touch_at, j.occurred_at) AS DOUBLE)
               / 86400000000) AS avg_days_to_convert,
           SUM(c.revenue) AS revenue
    FROM journey AS j
    LEFT JOIN fct_conversion AS c USING (conversion_id)
    GROUP BY j.conversion_type, j.path
),
person_path AS (
    SELECT person_id, string_agg(channel, ' > ' ORDER BY occurred_at, touchpoint_id) AS path
    FROM fct_touchpoint
    GROUP BY person_id
),
reached AS (
    SELECT DISTINCT person_id, conversion_type FROM fct_conversion
),
non_converting AS (
    SELECT t.conversion_type, p.path, COUNT(*) AS non_conversions
    FROM person_path AS p
    CROSS JOIN (SELECT DISTINCT conversion_type FROM journey) AS t
    LEFT JOIN reached AS r
        ON r.person_id = p.person_id AND r.conversion_type = t.conversion_type
    WHERE r.person_id IS NULL
    GROUP BY t.conversion_type, p.path
),
grid AS (
    SELECT conversion_type, path FROM converting
    UNION
    SELECT conversion_type, path FROM non_converting
)
SELECT
    g.conversion_type,
    g.path,
    COALESCE(c.conversions, 0) AS conversions,
    COALESCE(n.non_conversions, 0) AS non_conversions,
    CAST(COALESCE(c.conversions, 0) AS DOUBLE)
        / NULLIF(COALESCE(c.conversions, 0) + COALESCE(n.non_conversions, 0), 0) AS conversion_rate,
    c.avg_touches,
    c.avg_days_to_convert,
    c.revenue,
    RANK() OVER (PARTITION BY g.conversion_type ORDER BY COALESCE(c.conversions, 0) DESC) AS rank
FROM grid AS g
LEFT JOIN converting AS c USING (conversion_type, path)
LEFT JOIN non_converting AS n USING (conversion_type, path);
