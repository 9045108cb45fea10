-- A row: one persona x CRM pipeline stage (crm x pipeline x stage), over every deal the
-- CRMs hold.
-- Answers: v_pipeline_stages for each persona: where the deals of a persona's people stall
-- and drop out of the sales pipeline: how many reach each stage, how long they stay, how
-- many move on, are won, are lost, and from which stage the lost ones were lost.
-- persona is dim_person.persona of the stay's person_id, the deal's primary contact
-- ('Unclassified' for a person without a dim_person row or a stay without a person); the
-- other columns are v_pipeline_stages's. A persona's rows are exactly what
-- v_pipeline_stages shows on a warehouse holding only that persona's people (their stays
-- in fct_deal_stage): a deal counts under the persona of its stays' person, and a deal's
-- path (its last stage, the stage it was lost from) is made of the stays of that persona.
-- From fct_deal_stage (one row per stay of a deal in a stage; a deal that returns to a
-- stage has two stays):
--   avg_stage_number  mean position of the stage in the deals' paths (1 = first stage):
--                     sort stages by it in charts
--   deals_entered     distinct deals with a stay in the stage; entries counts the stays
--   still_here        deals whose current stage it is
--   moved_on          distinct deals with a stay in the stage that has ended
--   won, lost         distinct deals that passed through the stage and are now won / lost
--                     (closed, not won); win_rate = won / deals_entered
--   lost_from_here    lost deals whose last stage before their final one was this stage
--                     (their final stay is the lost stage itself); a lost deal with a
--                     single stay was lost from that stage
--   median_days_in_stage, avg_days_in_stage
--                     over the persona's ended stays only (exact, interpolated median);
--                     NULL when no stay has ended
-- Deals are counted per stage: never sum deals_entered over stages. Across personas, the
-- counts of a stage add up to v_pipeline_stages's (when each deal's stays have one
-- person); avg_stage_number, win_rate, the median and the average never add up.
-- PostgreSQL dialect: ratios in double precision.
CREATE OR REPLACE VIEW v_pipeline_stages_by_persona AS
WITH stays AS (
    SELECT COALESCE(d.persona, 'Unclassified') AS persona,
           s.crm, s.deal_id, s.pipeline, COALESCE(s.pipeline, '') AS pipeline_key, s.stage,
           s.stage_number, s.days_in_stage, s.is_current, s.deal_is_closed, s.deal_is_won,
           MAX(s.stage_number) OVER (PARTITION BY COALESCE(d.persona, 'Unclassified'), s.crm, s.deal_id)
               AS last_number
    FROM fct_deal_stage AS s
    LEFT JOIN dim_person AS d ON d.person_id = s.person_id
),
lost_from AS (
    SELECT persona, crm, pipeline_key, stage, COUNT(DISTINCT deal_id) AS lost_from_here
    FROM stays
    WHERE deal_is_closed AND NOT deal_is_won
      AND stage_number = CASE WHEN last_number > 1 THEN last_number - 1 ELSE 1 END
    GROUP BY persona, crm, pipeline_key, stage
),
medians AS (
    SELECT persona, crm, pipeline_key, stage,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY days_in_stage) AS median_days_in_stage
    FROM stays
    GROUP BY persona, crm, pipeline_key, stage
),
measured AS (
    SELECT
        s.persona,
        s.crm,
        MAX(s.pipeline) AS pipeline,
        s.pipeline_key,
        s.stage,
        CAST(AVG(s.stage_number) AS double precision) AS avg_stage_number,
        COUNT(DISTINCT s.deal_id) AS deals_entered,
        COUNT(*) AS entries,
        COUNT(DISTINCT CASE WHEN s.is_current THEN s.deal_id END) AS still_here,
        COUNT(DISTINCT CASE WHEN NOT s.is_current THEN s.deal_id END) AS moved_on,
        COUNT(DISTINCT CASE WHEN s.deal_is_won THEN s.deal_id END) AS won,
        COUNT(DISTINCT CASE WHEN s.deal_is_closed AND NOT s.deal_is_won THEN s.deal_id END) AS lost,
        MAX(m.median_days_in_stage) AS median_days_in_stage,
        AVG(s.days_in_stage) AS avg_days_in_stage
    FROM stays AS s
    LEFT JOIN medians AS m
        ON m.persona = s.persona AND m.crm = s.crm AND m.pipeline_key = s.pipeline_key
       AND m.stage = s.stage
    GROUP BY s.persona, s.crm, s.pipeline_key, s.stage
)
SELECT
    g.persona,
    g.crm,
    g.pipeline,
    g.stage,
    g.avg_stage_number,
    g.deals_entered,
    g.entries,
    g.still_here,
    g.moved_on,
    g.won,
    g.lost,
    COALESCE(l.lost_from_here, 0) AS lost_from_here,
    CAST(g.won AS double precision) / NULLIF(g.deals_entered, 0) AS win_rate,
    g.median_days_in_stage,
    g.avg_days_in_stage
FROM measured AS g
LEFT JOIN lost_from AS l
    ON l.persona = g.persona AND l.crm = g.crm AND l.pipeline_key = g.pipeline_key
   AND l.stage = g.stage;
