\set ON_ERROR_STOP on
\connect mlb_betting
-- Reports the application installs. mlb_betting.totals in a comment is not a reference.
CREATE OR REPLACE VIEW analytics.daily_games AS
SELECT g.game_date, count(*) AS games
FROM public.games AS g                                   -- REF public.games
GROUP BY 1;

CREATE MATERIALIZED VIEW analytics.split_totals AS
WITH splits AS (SELECT * FROM "splits"."raw_mlb_betting_splits")  -- REF splits.raw_mlb_betting_splits
SELECT splits.game_id, count(*) FROM splits GROUP BY 1;

CREATE FUNCTION analytics.recent_totals() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    SELECT count(*) INTO n FROM mlb_betting.totals;     -- REF mlb_betting.totals
    IF EXISTS (SELECT 1 FROM game_outcomes) THEN        -- REF public.game_outcomes
        PERFORM 1 FROM core_betting.game_outcomes;
    END IF;
    EXECUTE format('SELECT count(*) FROM %I.games', 'splits');  -- DYN
    RETURN n;
END
$$;

CREATE FUNCTION analytics.team_name(team int) RETURNS text LANGUAGE sql AS $body$
    SELECT name FROM action.dim_teams WHERE id = team    -- REF action.dim_teams
$body$;

SET search_path TO mlb_betting, public;
SELECT * FROM spreads;                                   -- REF mlb_betting.spreads
SELECT 'mlb_betting.moneyline is just a string';
