-- Grades recommendations when an outcome arrives.
-- Reads public.game_outcomes (this comment is a DECOY).

CREATE OR REPLACE FUNCTION tracking.grade_recommendations()
RETURNS TRIGGER AS $$
BEGIN
    UPDATE tracking.pre_game_recommendations r              -- REF(sql) tracking.pre_game_recommendations
    SET won = go.home_win = (r.pick = 'home')
    FROM (SELECT game_id, home_score > away_score AS home_win
          FROM public.game_outcomes) go                    -- REF(sql) public.game_outcomes
    WHERE go.game_id = r.game_id AND r.game_id = NEW.game_id;
    RAISE NOTICE 'graded from public.game_outcomes';       -- DECOY (a string)
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER grade_on_outcome
    AFTER INSERT ON public.game_outcomes                   -- REF(sql) public.game_outcomes
    FOR EACH ROW EXECUTE FUNCTION tracking.grade_recommendations();
