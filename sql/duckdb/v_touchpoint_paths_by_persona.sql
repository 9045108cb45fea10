-- A row: one persona x conversion type x channel path, over every loaded day.
-- Answers: v_touchpoint_paths for each persona: which ordered channel paths lead the
-- people of a persona to each conversion type most often, how often the same path ends
-- without that conversion, how many touches and days it takes, and what it earns.
-- persona is dim_person.persona of the person ('Unclassified' for a person without a
-- dim_person row or a row without a person); the other columns are v_touchpoint_paths's.
-- A persona's rows are exactly what v_touchpoint_paths shows on a warehouse holding only
-- that persona's people (their attribution rows, conversions and touches): the
-- conversion types of a persona are those with a linear journey of its people, and rank
-- is within the persona and conversion type.
-- A converting path is the journey the linear model credited for one conversion
-- (fct_attribution, model 'linear'): its touches' channels, oldest first (ties by
-- touchpoint_id), consecutive repeats kept, joined with ' > '; '(none)' for a
-- conversion without a touch in its window.
-- A non-converting path is, for each person with a touch and each conversion type of
-- their persona they never reached (fct_conversion), the channels of ALL their touches
-- in the same order (no lookback window): it only feeds non_conversions and
-- conversion_rate.
-- conversions counts conversions (a person converting twice counts twice), non_conversions
-- counts people; conversion_rate = conversions / (conversions + non_conversions).
-- avg_touches and avg_days_to_convert (first touch of the path -> conversion, in days)
-- average over the conversions of the path: NULL when it has none; '(none)' has 0 touches
-- and a NULL avg_days_to_convert. revenue sums fct_conversion.revenue of the conversions
-- (NULL when none has revenue). rank = RANK() by conversions, highest first, within the
-- persona and conversion type (ties share a rank; paths that never converted rank last).
-- Filter on one conversion_type: never add across types. Across personas, conversions
-- and revenue of a type and path add up to v_touchpoint_paths's; non_conversions to it or
-- less (a persona none of whose people converted to a type has no rows for it);
-- conversion_rate, the averages and rank never add up.
-- The converting journeys are those of the person scope (fct_attribution.scope 'person'):
-- one person's touches, comparable with the non-converting people's paths; the
-- journeys of a deal's or an account's buying committee are in v_account_journeys.
CREATE OR REPLACE VIEW v_touchpoint_paths_by_persona AS
WITH journey AS (
    -- one row per conversion and persona: its linear journey
    SELECT COALESCE(d.persona, 'Unclassified') AS persona,
           a.conversion_id, a.conversion_type, a.occurred_at,
           string_agg(a.channel, ' > ' ORDER BY a.touch_occurred_at, a.touchpoint_id) AS path,
           COUNT(a.touchpoint_id) AS touches,
           MIN(a.touch_occurred_at) AS first_touch_at
    FROM fct_attribution AS a
    LEFT JOIN dim_person AS d ON d.person_id = a.person_id
    WHERE a.model = 'linear' AND a.scope = 'person'
    GROUP BY COALESCE(d.persona, 'Unclassified'), a.conversion_id, a.conversion_type, a.occurred_at
),
conversion AS (
    SELECT COALESCE(d.persona, 'Unclassified') AS persona, c.conversion_id, c.person_id,
           c.conversion_type, c.revenue
    FROM fct_conversion AS c
    LEFT JOIN dim_person AS d ON d.person_id = c.person_id
),
converting AS (
    SELECT j.persona, j.conversion_type, j.path,
           COUNT(*) AS conversions,
           AVG(CAST(j.touches AS DOUBLE)) AS avg_touches,
           AVG(CAST(date_diff('microsecond', j.first_touch_at, j.occurred_at) AS DOUBLE)
               / 86400000000) AS avg_days_to_convert,
           SUM(c.revenue) AS revenue
    FROM journey AS j
    LEFT JOIN conversion AS c ON c.conversion_id = j.conversion_id AND c.persona = j.persona
    GROUP BY j.persona, j.conversion_type, j.path
),
person_path AS (
    SELECT COALESCE(d.persona, 'Unclassified') AS persona, t.person_id,
           string_agg(t.channel, ' > ' ORDER BY t.occurred_at, t.touchpoint_id) AS path
    FROM fct_touchpoint AS t
    LEFT JOIN dim_person AS d ON d.person_id = t.person_id
    GROUP BY COALESCE(d.persona, 'Unclassified'), t.person_id
),
reached AS (
    SELECT DISTINCT person_id, conversion_type FROM conversion
),
non_converting AS (
    SELECT p.persona, t.conversion_type, p.path, COUNT(*) AS non_conversions
    FROM person_path AS p
    JOIN (SELECT DISTINCT persona, conversion_type FROM journey) AS t ON t.persona = p.persona
    LEFT JOIN reached AS r
        ON r.person_id = p.person_id AND r.conversion_type = t.conversion_type
    WHERE r.person_id IS NULL
    GROUP BY p.persona, t.conversion_type, p.path
),
grid AS (
    SELECT persona, conversion_type, path FROM converting
    UNION
    SELECT persona, conversion_type, path FROM non_converting
)
SELECT
    g.persona,
    g.conversion_type,
    g.path,
    COALESCE(c.conversions, 0) AS conversions,
    COALESCE(n.non_conversions, 0) AS non_conversions,
    CAST(COALESCE(c.conversions, 0) AS DOUBLE)
        / NULLIF(COALESCE(c.conversions, 0) + COALESCE(n.non_conversions, 0), 0) AS conversion_rate,
    c.avg_touches,
    c.avg_days_to_convert,
    c.revenue,
    RANK() OVER (PARTITION BY g.persona, g.conversion_type
                 ORDER BY COALESCE(c.conversions, 0) DESC) AS rank
FROM grid AS g
LEFT JOIN converting AS c USING (persona, conversion_type, path)
LEFT JOIN non_converting AS n USING (persona, conversion_type, path);
