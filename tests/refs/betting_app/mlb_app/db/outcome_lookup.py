# ruff: noqa: UP031, UP032 -- the application builds SQL with % and .format: the shapes refs must read
"""Outcome lookups by an unqualified table name (the search path finds it in public)."""

from mlb_app.db.connection import execute

OUTCOMES = "game_outcomes"  # REF(name) public.game_outcomes
HTML_TABLE = "SBR_RAW_HTML"  # REF(name) public.sbr_raw_html
LABEL = "game_outcomes"


def outcome(game_id: str) -> list[tuple]:
    return execute(f"SELECT home_score, away_score FROM {OUTCOMES} WHERE game_id = %s", (game_id,))


def raw_pages(day: str) -> list[tuple]:
    return execute("SELECT url FROM {table} WHERE scraped_on = %s".format(table=HTML_TABLE), (day,))


def label() -> str:
    return LABEL.replace("_", " ")
