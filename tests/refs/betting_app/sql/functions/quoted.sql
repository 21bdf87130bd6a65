CREATE FUNCTION "analytics"."games_of_day"(p_day date)
RETURNS SETOF "splits"."games"                              -- REF(sql) splits.games
LANGUAGE plpgsql
AS $$
BEGIN
    RETURN QUERY SELECT * FROM "splits"."games" g WHERE g."game_date" = p_day;   -- REF(sql) splits.games
END
$$;

CREATE FUNCTION "analytics"."count_of"(p_table text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s', p_table) INTO n;   -- DYN
    EXECUTE 'SELECT count(*) FROM "mlb_betting"."spreads"' INTO n;  -- REF(sql) mlb_betting.spreads
    RETURN n;
END
$$;

CREATE FUNCTION analytics.team_name(p_id int) RETURNS text LANGUAGE sql STABLE AS
'SELECT name FROM "action"."dim_teams" WHERE id = p_id';   -- REF(sql) action.dim_teams

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM "mlb_betting"."moneyline" WHERE home_odds IS NULL) THEN   -- REF(sql) mlb_betting.moneyline
        RAISE WARNING 'moneyline rows without odds';
    END IF;
END
$$;
