-- SQLite: the offline store.
CREATE TABLE IF NOT EXISTS picks (id INTEGER PRIMARY KEY AUTOINCREMENT, game_id TEXT NOT NULL);
REPLACE INTO public.game_outcomes (game_id, home_score) VALUES ('g1', 3);            -- REF(unparsed) public.game_outcomes
INSERT OR IGNORE INTO "tracking"."pre_game_recommendations" (game_id) VALUES ('g1'); -- REF(unparsed) tracking.pre_game_recommendations
INSERT OR REPLACE INTO Clean.Betting_Recommendations (game_id, note)                 -- REF(unparsed) clean.betting_recommendations
VALUES ('g1', 'from public.games');                                                  -- DECOY (a string)
PRAGMA table_info(picks);
