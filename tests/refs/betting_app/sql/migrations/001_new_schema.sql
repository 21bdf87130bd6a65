-- The consolidated schemas: nothing here is a reference.
CREATE SCHEMA IF NOT EXISTS analytics;
CREATE TABLE IF NOT EXISTS analytics.daily_summary (
    game_id bigint REFERENCES core_betting.games (id),
    splits numeric,                                          -- DECOY (a column named splits)
    games integer
);
CREATE INDEX IF NOT EXISTS idx_daily_summary_game ON analytics.daily_summary (game_id);
INSERT INTO operational.pre_game_recommendations (game_id, pick)
SELECT id, 'home' FROM core_betting.games WHERE false;
