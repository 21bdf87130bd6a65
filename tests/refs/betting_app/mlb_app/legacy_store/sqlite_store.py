"""The SQLite store of the first version, kept for the offline mode."""

import sqlite3

DB = sqlite3.connect("mlb.sqlite")


def save_outcome(game_id: str, home: int, away: int) -> None:
    DB.execute(
        "REPLACE INTO public.game_outcomes (game_id, home_score) VALUES (?, ?)",  # REF(unparsed) public.game_outcomes
        (game_id, home - away),
    )


def save_recommendation(game_id: str, pick: str) -> None:
    DB.execute(
        """
        INSERT OR IGNORE INTO CLEAN.BETTING_RECOMMENDATIONS  -- REF(unparsed) clean.betting_recommendations
               (game_id, pick, note)
        VALUES (?, ?, 'copied from tracking.pre_game_recommendations')""",  # DECOY (a string in the SQL)
        (game_id, pick),
    )


def create() -> None:
    DB.executescript(
        """
        CREATE TABLE IF NOT EXISTS local_picks (id INTEGER PRIMARY KEY AUTOINCREMENT, game_id TEXT);
        /* was: public.sbr_parsed_games */  -- DECOY
        """
    )
