"""Checks run by the application's own CI (not pytest here: plain functions)."""

from mlb_app.db.game_repository import GameOutcomeRepository
from mlb_app.db.splits_repository import SplitsRepository


def check_table_names() -> None:
    assert GameOutcomeRepository.table_name == "public.game_outcomes"  # REF(name) public.game_outcomes
    assert SplitsRepository().games_table == "SPLITS.GAMES", "games come from splits.games"  # REF(name) splits.games


def check_prose() -> None:
    assert "splits" in "the splits.games table", "no table here"  # DECOY
