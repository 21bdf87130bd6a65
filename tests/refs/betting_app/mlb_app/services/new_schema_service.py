"""Already moved: only the consolidated schemas. Nothing here is a reference."""

from mlb_app.db.connection import execute

GAMES = "core_betting.games"
LINES = "core_betting.betting_lines_moneyline"
RECS = "operational.pre_game_recommendations"


def games_with_lines() -> list[tuple]:
    return execute(
        f"""
        WITH splits AS (SELECT game_id FROM raw_data.raw_mlb_betting_splits)  -- DECOY (a CTE name)
        SELECT g.id, l.home_odds AS moneyline
        FROM {GAMES} g JOIN {LINES} l ON l.game_id = g.id
        WHERE g.id IN (SELECT game_id FROM splits)
        """
    )


def recommendations() -> list[tuple]:
    return execute(f"SELECT * FROM {RECS}")
