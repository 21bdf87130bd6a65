\set ON_ERROR_STOP on
BEGIN;
SET search_path TO mlb_betting, public;
INSERT INTO analytics.line_history (game_id, kind, odds)
SELECT game_id, 'moneyline', home_odds FROM moneyline                 -- REF(sql) mlb_betting.moneyline
UNION ALL
SELECT game_id, 'total', total FROM totals;                           -- REF(sql) mlb_betting.totals
SELECT count(*) FROM games;                                           -- REF(sql) public.games
COMMIT;
