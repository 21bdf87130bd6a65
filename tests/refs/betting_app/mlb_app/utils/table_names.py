# ruff: noqa: UP042 -- the application's own style
"""Table names used across the code base, in one place (before the registry)."""

from enum import Enum


class LegacyTable(str, Enum):
    GAMES = "public.games"  # REF(name) public.games
    SPLITS_GAMES = "Splits.Games"  # REF(name) splits.games
    TIMING = "TIMING_ANALYSIS.TIMING_BUCKET_PERFORMANCE"  # REF(name) timing_analysis.timing_bucket_performance
    HTML = '"public"."sbr_raw_html"'  # REF(name) public.sbr_raw_html
    NEW_GAMES = "core_betting.games"
    QUOTED_OTHER = '"Public"."Games"'


def qualified(schema: str, table: str) -> str:
    return f"{schema}.{table}"


PARSED_GAMES = qualified("public", "sbr_parsed_games")  # MISS(name) public.sbr_parsed_games (built by a call)
