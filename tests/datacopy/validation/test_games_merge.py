"""The games merge: conflicts counted per column, a second legacy row of a matched game reported."""

import json
from collections.abc import Callable

import psycopg
import pytest

from data_copy import api

ROWS = """
INSERT INTO public.games (id, mlb_stats_api_game_id, home_team, away_team, game_date, game_datetime,
  game_status, home_score, updated_at)
VALUES (1, '745001', 'NYY', 'BOS', '2024-05-01', '2024-05-01 23:05+00', 'final', 5, now()),
       (2, '745002', 'LAD', 'SF', '2024-05-01', '2024-05-02 02:10+00', 'final', NULL, now()),
       (3, '745004', 'HOU', 'TEX', '2024-05-04', '2024-05-04 18:10+00', 'final', 7, now());
INSERT INTO splits.games (id, game_id, home_team, away_team, game_datetime, status, home_score, venue)
VALUES ('s1', '745001', 'NYY', 'BOS', '2024-05-01 23:05', 'final', 6, 'Yankee Stadium'),
       ('s2', '745002', 'LAD', 'SF', '2024-05-02 02:10', 'scheduled', 3, NULL),
       ('s3', '745003', 'CHC', 'STL', '2024-05-03 18:20', 'scheduled', NULL, 'Wrigley'),
       ('s4', '745004', 'HOU', 'TEX', '2024-05-04 18:10', 'final', 8, NULL),
       ('s5', 'LAD-SF-20240502', 'LAD', 'SF', '2024-05-02 02:10', 'final', 3, NULL);
"""


@pytest.fixture
def legacy_dsn(legacy_with: Callable[[str], str]) -> str:
    return legacy_with(ROWS)


def test_conflicts_are_counted_per_column_in_the_report_and_the_log(legacy_dsn: str) -> None:
    report = api.run(legacy_dsn)
    games = next(r for r in report.results if r.name == "games")
    assert games.conflicts["home_score"] == {"count": 2, "sample_keys": ["1", "3"]}
    assert games.conflicts["game_status"] == {"count": 1, "sample_keys": ["2"]}
    with psycopg.connect(legacy_dsn) as conn:
        details = conn.execute(
            "SELECT details FROM migration_log WHERE step = 'validate' AND mapping = 'games'"
        ).fetchone()
    assert details is not None
    logged = details[0] if isinstance(details[0], dict) else json.loads(details[0])
    assert logged["merge_conflicts"]["home_score"]["count"] == 2


def test_a_second_legacy_row_of_a_matched_game_is_a_reported_duplicate(legacy_dsn: str) -> None:
    report = api.run(legacy_dsn)
    games = next(r for r in report.results if r.name == "games")
    with psycopg.connect(legacy_dsn) as conn:
        rows = conn.execute(
            "SELECT mlb_stats_api_game_id, count(*) FROM core_betting.games GROUP BY 1 ORDER BY 1"
        ).fetchall()
        rejects = conn.execute("SELECT mapping, legacy_key, reason FROM migration_rejects").fetchall()
    assert rows == [("745001", 1), ("745002", 1), ("745003", 1), ("745004", 1)]  # no second 745002
    assert rejects == [
        (
            "games/splits_only",
            "s5",
            "duplicate: the same game as public.games id 2, which is merged with another splits.games row",
        )
    ]
    assert games.status == "failed" and games.source_count == games.target_count + 1
