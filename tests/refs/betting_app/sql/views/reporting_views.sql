-- Reporting views, rebuilt by the deploy.
CREATE OR REPLACE VIEW analytics.v_game_lines AS
WITH spreads AS (                                            -- DECOY (a CTE named like a legacy table)
    SELECT game_id, home_line FROM mlb_betting.spreads       -- REF(sql) mlb_betting.spreads
)
SELECT g.id, s.home_line, t.total
FROM core_betting.games g
JOIN spreads s ON s.game_id = g.id
JOIN MLB_BETTING.TOTALS t ON t.game_id = g.id;               -- REF(sql) mlb_betting.totals

CREATE OR REPLACE VIEW analytics.v_recent_html AS
SELECT id, url FROM public.sbr_raw_html                      -- REF(sql) public.sbr_raw_html
WHERE scraped_at > now() - interval '2 days';

CREATE MATERIALIZED VIEW analytics.mv_team_games AS
SELECT t.name, count(*) AS games
FROM Action.Dim_Teams t                                      -- REF(sql) action.dim_teams
JOIN core_betting.games g ON t.id IN (g.home_team_id, g.away_team_id)
GROUP BY t.name;

COMMENT ON VIEW analytics.v_game_lines IS 'built from mlb_betting.spreads and totals';  -- DECOY
