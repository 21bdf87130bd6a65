"""Indexes and constraints the application creates at start-up."""

import logging

from mlb_app.db.connection import execute

logger = logging.getLogger(__name__)

INDEXES = (
    ("idx_splits_game", "splits.raw_mlb_betting_splits", "game_id"),  # REF(name) splits.raw_mlb_betting_splits
    ("idx_outcomes_date", "PUBLIC.GAME_OUTCOMES", "game_date"),  # REF(name) public.game_outcomes
    ("idx_recs", '"tracking"."pre_game_recommendations"', "game_id"),  # REF(name) tracking.pre_game_recommendations
    ("idx_new_games_date", "core_betting.games", "game_date"),
)

CONSTRAINTS = [
    ("Backtesting.Strategy_Performance", "chk_roi", "roi > -1"),  # REF(name) backtesting.strategy_performance
]


def create_indexes() -> None:
    for name, table, column in INDEXES:
        execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})")  # DYN
        logger.info("index %s on %s", name, table)


def create_constraints() -> None:
    for table, name, check in CONSTRAINTS:
        execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check})")  # DYN
