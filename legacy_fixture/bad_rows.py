"""inject_bad_rows(): legacy rows that CANNOT be migrated faithfully (error-path tests)."""

from __future__ import annotations

from typing import Any

import psycopg

from legacy_fixture.build import LegacyFixtureError


def _one(conn: psycopg.Connection, query: str, params: dict[str, Any] | None = None) -> Any:
    row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def inject_bad_rows(conn: psycopg.Connection) -> dict[str, list[dict[str, Any]]]:
    """Insert one row of each unmigratable kind into a built legacy database.

    Returns {"schema.table": [{"key": {column: value}, "problem": text}, ...]}. Every row
    satisfies the LEGACY constraints; each breaks the consolidated design:

    - splits.games: home_team 'YANKEES' (7 characters; team codes become VARCHAR(5));
    - clean.betting_recommendations: recommended_side NULL (NOT NULL in the target);
      game_id '999999999', which matches no game; confidence_score 0.12345 (more
      decimals than numeric(5,3) keeps);
    - splits.raw_mlb_betting_splits: a row with a NULL id and a row repeating an existing
      id (the target's id is a NOT NULL primary key).

    Can be called more than once: each call adds a fresh set.
    """
    with conn.transaction():
        game = conn.execute(
            "SELECT game_id, home_team, away_team, game_datetime FROM splits.games"
            " WHERE game_id ~ '^[0-9]+$' ORDER BY game_datetime, id LIMIT 1"
        ).fetchone()
        if game is None:
            raise LegacyFixtureError("inject_bad_rows needs a built legacy database (legacy_fixture.build first)")
        game_id, home, away, start = game
        result: dict[str, list[dict[str, Any]]] = {
            "splits.games": [],
            "clean.betting_recommendations": [],
            "splits.raw_mlb_betting_splits": [],
        }

        serial = int(_one(conn, "SELECT count(*) FROM splits.games WHERE id LIKE 'bad-%'")) + 1
        bad_game = f"bad-team-code-{serial}"
        conn.execute(
            """
            INSERT INTO splits.games (id, game_id, home_team, away_team, game_datetime,
                status, home_score, away_score, weather_conditions, venue, created_at,
                updated_at)
            VALUES (%(id)s, %(game_id)s, 'YANKEES', 'BOS', timestamp '2025-06-01 23:05:00',
                'final', 5, 3, 'Clear', 'Yankee Stadium', timestamp '2025-05-31 23:05:00',
                timestamp '2025-06-02 02:50:00')
            """,
            {"id": bad_game, "game_id": str(999_000_000 + serial)},
        )
        result["splits.games"].append(
            {"key": {"id": bad_game}, "problem": "home_team 'YANKEES' is longer than the 5 characters of a team code"}
        )

        next_id = int(_one(conn, "SELECT coalesce(max(id), 0) FROM clean.betting_recommendations"))
        recommendation = """
            INSERT INTO clean.betting_recommendations (id, game_id, home_team, away_team,
                game_datetime, market_type, source, book, recommended_side, line_value,
                confidence_score, differential, stake_percentage, bet_percentage,
                minutes_before_game, signal_strength, consensus_boost, last_updated,
                created_at)
            VALUES (%(id)s, %(game_id)s, %(home)s, %(away)s, %(start)s, 'moneyline', 'VSIN',
                'Circa', %(side)s, '-120', %(confidence)s, 14.5, 62.25, 47.75, 45,
                'MODERATE', 0.05, %(start)s - interval '45 minutes',
                %(start)s - interval '45 minutes')
        """
        cases = [
            (
                {"side": None, "confidence": 0.75, "game_id": game_id},
                "recommended_side is NULL; the target column is NOT NULL",
            ),
            (
                {"side": home, "confidence": 0.75, "game_id": "999999999"},
                "game_id '999999999' matches no game in public.games or splits.games",
            ),
            (
                {"side": home, "confidence": 0.12345, "game_id": game_id},
                "confidence_score 0.12345 has more decimals than numeric(5,3) keeps",
            ),
        ]
        for offset, (values, problem) in enumerate(cases, start=1):
            row_id = next_id + offset
            conn.execute(
                recommendation,
                {"id": row_id, "home": home, "away": away, "start": start, **values},
            )
            result["clean.betting_recommendations"].append({"key": {"id": row_id}, "problem": problem})

        splits_row = """
            INSERT INTO splits.raw_mlb_betting_splits (id, game_id, home_team, away_team,
                game_datetime, split_type, last_updated, source, book, home_or_over_bets,
                home_or_over_bets_percentage, home_or_over_stake_percentage,
                away_or_under_bets, away_or_under_bets_percentage,
                away_or_under_stake_percentage, split_value, sharp_action, outcome,
                created_at, updated_at)
            VALUES (%(id)s, %(game_id)s, %(home)s, %(away)s, %(start)s, 'moneyline',
                %(updated)s, 'VSIN', 'Circa', 812, 40.5, 61.25, 1193, 59.5, 38.75,
                '{"home": -125, "away": 105}', 'home', NULL, %(updated)s, %(updated)s)
        """
        duplicate = _one(conn, "SELECT min(id) FROM splits.raw_mlb_betting_splits")
        naive_start = _one(conn, "SELECT %(t)s::timestamp", {"t": start})
        for row_id, minutes, problem in (
            (None, 1, "id is NULL; the target id is a NOT NULL primary key"),
            (duplicate, 2, f"id {duplicate} already exists; the target id is a primary key"),
        ):
            updated = _one(
                conn,
                "SELECT %(t)s::timestamp - %(m)s * interval '1 minute' - interval '7 seconds'",
                {"t": naive_start, "m": minutes + 60 * serial},
            )
            conn.execute(
                splits_row,
                {
                    "id": row_id,
                    "game_id": game_id,
                    "home": home,
                    "away": away,
                    "start": naive_start,
                    "updated": updated,
                },
            )
            result["splits.raw_mlb_betting_splits"].append(
                {
                    "key": {
                        "id": row_id,
                        "game_id": game_id,
                        "source": "VSIN",
                        "book": "Circa",
                        "split_type": "moneyline",
                        "last_updated": updated,
                    },
                    "problem": problem,
                }
            )
    return result
