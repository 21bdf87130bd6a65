"""Count the awkward-but-migratable cases present in a legacy database.

Computed from the data itself (not from the generator's intentions), so a test or the
data_copy step can check it handles exactly these many of each.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

# case name -> SQL returning one integer. "Matched" games are the same real game in both
# tables: splits.games.game_id = public.games.mlb_stats_api_game_id, and the same home and
# away codes and start (splits.games.game_datetime is naive UTC).
_MATCH = """
    FROM public.games p
    JOIN splits.games s ON s.game_id = p.mlb_stats_api_game_id
"""


def _by_game_source(qualname: str, *, public: bool, splits: bool) -> sql.Composable:
    """count(*) of the rows of `qualname` whose game_id is (or is not) a public.games
    mlb_stats_api_game_id, and is (or is not) a splits.games game_id."""
    in_public = sql.SQL("EXISTS (SELECT 1 FROM public.games p WHERE p.mlb_stats_api_game_id = r.game_id)")
    in_splits = sql.SQL("EXISTS (SELECT 1 FROM splits.games s WHERE s.game_id = r.game_id)")
    return sql.SQL("SELECT count(*) FROM {} r WHERE {}{} AND {}{}").format(
        sql.Identifier(*qualname.split(".")),
        sql.SQL("" if public else "NOT "),
        in_public,
        sql.SQL("" if splits else "NOT "),
        in_splits,
    )


_OUTCOMES, _RECOMMENDATIONS = "public.game_outcomes", "clean.betting_recommendations"
QUERIES: dict[str, str | sql.Composable] = {
    "games_public": "SELECT count(*) FROM public.games",
    "games_splits": "SELECT count(*) FROM splits.games",
    "games_in_both": "SELECT count(*)" + _MATCH,
    "games_in_both_same_teams_and_start": "SELECT count(*)"
    + _MATCH
    + " WHERE s.home_team = p.home_team AND s.away_team = p.away_team"
    " AND s.game_datetime = p.game_datetime AT TIME ZONE 'UTC'",
    "games_public_only_with_mlb_id": """
        SELECT count(*) FROM public.games p WHERE p.mlb_stats_api_game_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM splits.games s
                            WHERE s.game_id = p.mlb_stats_api_game_id)""",
    "games_public_only_without_mlb_id": "SELECT count(*) FROM public.games WHERE mlb_stats_api_game_id IS NULL",
    "games_splits_only": """
        SELECT count(*) FROM splits.games s WHERE NOT EXISTS (
            SELECT 1 FROM public.games p WHERE p.mlb_stats_api_game_id = s.game_id)""",
    "conflict_score": "SELECT count(*)" + _MATCH + " WHERE s.status = p.game_status AND (s.home_score, s.away_score)"
    " IS DISTINCT FROM (p.home_score, p.away_score)",
    "conflict_status": "SELECT count(*)" + _MATCH + " WHERE s.status <> p.game_status",
    "conflict_venue": "SELECT count(*)" + _MATCH + " WHERE s.venue <> p.venue_name",
    "doubleheader_pairs": """
        SELECT count(*) FROM public.games a JOIN public.games b
            ON a.home_team = b.home_team AND a.away_team = b.away_team
           AND a.game_date = b.game_date AND a.game_datetime < b.game_datetime""",
    "games_postponed": "SELECT count(*) FROM public.games WHERE game_status = 'postponed'",
    "games_local_date_differs_from_utc_date": """
        SELECT count(*) FROM public.games
         WHERE game_date <> (game_datetime AT TIME ZONE 'UTC')::date""",
    "outcomes_for_games_in_both": _by_game_source(_OUTCOMES, public=True, splits=True),
    "outcomes_for_public_only_games": _by_game_source(_OUTCOMES, public=True, splits=False),
    "outcomes_for_splits_only_games": _by_game_source(_OUTCOMES, public=False, splits=True),
    "outcomes_unresolvable": _by_game_source(_OUTCOMES, public=False, splits=False),
    "recommendations_for_splits_only_games": _by_game_source(_RECOMMENDATIONS, public=False, splits=True),
    "recommendations_for_public_only_games": _by_game_source(_RECOMMENDATIONS, public=True, splits=False),
    "recommendations_unresolvable": _by_game_source(_RECOMMENDATIONS, public=False, splits=False),
    "strategy_performance_wins_null": "SELECT count(*) FROM backtesting.strategy_performance WHERE wins IS NULL",
    "raw_splits_book_null": "SELECT count(*) FROM splits.raw_mlb_betting_splits WHERE book IS NULL",
    "raw_splits_id_null": "SELECT count(*) FROM splits.raw_mlb_betting_splits WHERE id IS NULL",
    "raw_splits_id_duplicated": """
        SELECT coalesce(sum(c - 1), 0) FROM (SELECT count(*) AS c
          FROM splits.raw_mlb_betting_splits WHERE id IS NOT NULL
         GROUP BY id HAVING count(*) > 1) AS d""",
    "sbr_status_new": """
        SELECT (SELECT count(*) FROM public.sbr_raw_html WHERE status = 'new')
             + (SELECT count(*) FROM public.sbr_parsed_games WHERE status = 'new')""",
    "orchestrator_status_not_completed": """
        SELECT count(*) FROM backtesting.orchestrator_update_triggers
         WHERE status <> 'COMPLETED'""",
}


def awkward_counts(conn: psycopg.Connection) -> dict[str, int]:
    """How many rows of each awkward (but faithfully migratable) case the database has."""
    result: dict[str, int] = {}
    for name, query in QUERIES.items():
        row = conn.execute(query).fetchone()
        result[name] = int(row[0]) if row else 0
    return result
