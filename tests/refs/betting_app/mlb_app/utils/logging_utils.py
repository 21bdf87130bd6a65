"""Logging helpers. Nothing here touches a table; the names below are prose."""

import logging
import warnings

logger = logging.getLogger("tracking.pre_game_recommendations")  # DECOY (a logger name)


def announce(table: str, rows: int) -> None:
    logger.info("loaded %d rows from %s", rows, table)
    logger.warning("splits.raw_mlb_betting_splits is deprecated, use the registry")  # DECOY
    warnings.warn("public.games will be dropped in phase 3", DeprecationWarning, stacklevel=2)  # DECOY


def banner() -> str:
    return "Select the games from splits.games before noon"  # DECOY


def note() -> str:
    return "Saved to: public.game_outcomes"  # DECOY


def error_text(table: str) -> str:
    raise ValueError("unknown table: mlb_betting.moneyline")  # DECOY
