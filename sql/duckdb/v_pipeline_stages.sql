-- A row: one CRM pipeline stage (crm x pipeline x stage), over every deal the CRMs hold.
-- Answers: where deals stall and drop out of the sales pipeline: how many deals reach each
-- stage, how long they stay, how many move on, are won, are lost, and from which stage
-- the lost ones were lost.
-- From fct_deal_stage (one row per stay of a deal in a stage; a deal that returns to a
-- stage has two stays):
--   crm               the CRM of the deals: hubspot or salesforce
--   pipeline          the deals' pipeline (NULL for deals without one)
--   stage             the stage label as the CRM shows it (the same label in another
--                     pipeline is another row)
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
--                     over ended stays only (exact, interpolated median); NULL when no stay
--                     has ended
-- Deals are counted per stage: never sum deals_entered over stages.
CREATE OR REPLACE VIEW v_pipeline_stages AS
WITH stays AS (
    SELECT crm, deal_id, pipeline, COALESCE(pipeline, '') AS pipeline_key, stage, stage_number,
           days_in_stage, is_current, deal_is_closed, deal_is_won,
           MAX(stage_number) OVER (PARTITION BY crm, deal_id) AS last_number
    FROM fct_deal_stage
),
lost_from AS (
    SELECT crm, pipeline_key, stage, COUNT(DISTINCT deal_id) AS lost_from_here
    FROM stays
    WHERE deal_is_closed AND NOT deal_is_won
      AND stage_number = CASE WHEN last_number > 1 THEN last_number - 1 ELSE 1 END
    GROUP BY crm, pipeline_key, stage
),
medians AS (
    SELECT crm, pipeline_key, stage, quantile_cont(days_in_stage, 0.5) AS median_days_in_stage
    FROM stays
    GROUP BY crm, pipeline_key, stage
),
measured AS (
    SELECT
        s.crm,
        MAX(s.pipeline) AS pipeline,
        s.pipeline_key,
        s.stage,
        AVG(s.stage_number) AS avg_stage_number,
        COUNT(DISTINCT s.deal_id) AS deals_entered,
        COUNT(*) AS entries,
        COUNT(DISTINCT CASE WHEN s.is_current THEN s.deal_id END) AS still_here,
        COUNT(DISTINCT CASE WHEN NOT s.is_current THEN s.deal_id END) AS moved_on,
        COUNT(DISTINCT CASE WHEN s.deal_is_won THEN s.deal_id END) AS won,
        COUNT(DISTINCT CASE WHEN s.deal_is_closed AND NOT s.deal_is_won THEN s.deal_id END) AS lost,
        MAX(m.median_days_in_stage) AS median_days_in_stage,
        AVG(s.days_in_stage) AS avg_days_in_stage
    FROM stays AS s
    LEFT JOIN medians AS m ON m.crm = s.crm AND m.pipeline_key = s.pipeline_key AND m.stage = s.stage
    GROUP BY s.crm, s.pipeline_key, s.stage
)
SELECT
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
    CAST(g.won AS DOUBLE) / NULLIF(g.deals_entered, 0) AS win_rate,
    g.median_days_in_stage,
    g.avg_days_in_stage
FROM measured AS g
LEFT JOIN lost_from AS l ON l.crm = g.crm AND l.pipeline_key = g.pipeline_key AND l.stage = g.stage;
