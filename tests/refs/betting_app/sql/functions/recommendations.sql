CREATE OR REPLACE FUNCTION ANALYTICS.SAVE_RECOMMENDATION(P_GAME TEXT, P_PICK TEXT)
RETURNS VOID
LANGUAGE 'plpgsql'
SECURITY DEFINER
SET search_path = tracking, public
AS $BODY$
DECLARE
    R SPLITS.GAMES%ROWTYPE;                                 -- REF(sql) splits.games
    N BIGINT;
BEGIN
    SELECT * INTO R FROM SPLITS.GAMES WHERE ID = P_GAME;    -- REF(sql) splits.games
    INSERT INTO PRE_GAME_RECOMMENDATIONS (GAME_ID, PICK)     -- REF(sql) tracking.pre_game_recommendations
    VALUES (P_GAME, P_PICK)
    RETURNING ID INTO N;
    PERFORM 1 FROM CLEAN.BETTING_RECOMMENDATIONS WHERE GAME_ID = P_GAME;  -- REF(sql) clean.betting_recommendations
END
$BODY$;

CREATE OR REPLACE FUNCTION Analytics.Strategy_Roi(p_strategy text)
RETURNS numeric AS $fn$
DECLARE
    v_roi numeric;
BEGIN
    SELECT CASE WHEN count(*) = 0 THEN 0 ELSE avg(roi) END INTO v_roi
    FROM Backtesting.Strategy_Performance                  -- REF(sql) backtesting.strategy_performance
    WHERE strategy = p_strategy;
    RETURN v_roi;
END
$fn$ LANGUAGE PlPgSql STABLE COST 100;
