"""Every refused row is explained, and the structure is complete before anything passes.

copied + rejected = legacy rows for every mapping, whatever refused the rows: a fit
condition, a target CHECK found while splitting a chunk, an orphan foreign key value.
Foreign keys and indexes are all created even when legacy data holds orphans, and a
missing index, key or FK fails validation and stops cleanup.
"""

import subprocess
import sys
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
import pytest

from catalog.tables import TABLES
from data_copy import api, errors
from data_copy.mapping_sql import indexes

Accounting = Callable[[str, Iterable[Any]], dict[str, tuple[int, int, int]]]

GAMES = """
INSERT INTO public.games (id, mlb_stats_api_game_id, home_team, away_team, game_date, game_datetime,
  game_status, home_score, updated_at)
VALUES (1, '745001', 'NYY', 'BOS', '2024-05-01', '2024-05-01 23:05+00', 'final', 5, now()),
       (2, '745002', 'LAD', 'SF', '2024-05-01', '2024-05-02 02:10+00', 'final', NULL, now());
"""
# 100 good, 100 refused by the target's CHECK (confidence_score <= 1), 100 with no game
RECOMMENDATIONS = """
INSERT INTO clean.betting_recommendations (id, game_id, home_team, away_team, game_datetime, market_type, source,
  recommended_side, confidence_score, differential, minutes_before_game, signal_strength, last_updated)
SELECT g, CASE WHEN g > 200 THEN '999' || g ELSE '745001' END, 'NYY', 'BOS', '2024-05-01 19:05', 'moneyline',
       'VSIN', 'home', CASE WHEN g BETWEEN 101 AND 200 THEN 1.5 ELSE 0.5 END, 1.0, 60, 'STRONG', now()
FROM generate_series(1, 300) g;
"""
ORPHANS = """
ALTER TABLE mlb_betting.moneyline DROP CONSTRAINT moneyline_game_id_fkey;  -- as in the rehearsal database
INSERT INTO mlb_betting.moneyline (id, game_id, sportsbook, home_ml, odds_timestamp)
SELECT g, CASE WHEN g % 3 = 0 THEN 424242 ELSE 1 END, 'DK', -120, now() FROM generate_series(1, 30) g;
"""


@pytest.fixture
def legacy_dsn(legacy_with: Callable[[str], str]) -> str:
    return legacy_with(GAMES)


def test_check_refusals_found_while_splitting_are_all_recorded(legacy_dsn: str, row_accounting: Accounting) -> None:
    with psycopg.connect(legacy_dsn, autocommit=True) as conn:
        conn.execute(RECOMMENDATIONS)
    for _ in range(2):  # the first copy, and a re-run that must keep explaining them
        report = api.run(legacy_dsn)
        rec = next(r for r in report.results if r.name == "betting_recommendations")
        assert rec.status == "failed" and rec.source_count == 300 and rec.target_count == 100
        with psycopg.connect(legacy_dsn) as conn:
            reasons = conn.execute(
                "SELECT CASE WHEN reason LIKE '%%check constraint%%' THEN 'check'"
                " WHEN reason LIKE '%%matches no game%%' THEN 'game' ELSE reason END, count(*),"
                " count(DISTINCT legacy_key) FROM public.migration_rejects"
                " WHERE mapping = 'betting_recommendations' GROUP BY 1 ORDER BY 1"
            ).fetchall()
        assert reasons == [("check", 100, 100), ("game", 100, 100)]
        for name, (legacy, new, rejected) in row_accounting(legacy_dsn, report.results).items():
            assert new + rejected == legacy, name


def test_orphans_are_rejects_naming_the_parent_and_every_fk_and_index_is_created(
    legacy_dsn: str, row_accounting: Accounting
) -> None:
    with psycopg.connect(legacy_dsn, autocommit=True) as conn:
        conn.execute(ORPHANS)
    report = api.run(legacy_dsn)
    moneyline = next(r for r in report.results if r.name == "moneyline")
    assert moneyline.status == "failed" and (moneyline.source_count, moneyline.target_count) == (30, 20)
    with psycopg.connect(legacy_dsn) as conn:
        orphans = conn.execute(
            "SELECT legacy_key, reason FROM public.migration_rejects WHERE mapping = 'moneyline' ORDER BY 1::int"
        ).fetchall()
        assert len(orphans) == 10 and orphans[0] == (
            "3",
            "orphan: no row in core_betting.games (id) for (game_id) = (424242)",
        )
        assert {t.qualified: indexes.missing(conn, t) for t in TABLES} == {t.qualified: [] for t in TABLES}
        failed = conn.execute(
            "SELECT mapping FROM migration_log WHERE status = 'failed' AND step = 'validate'"
        ).fetchall()
    assert failed == [("moneyline",)]
    for name, (legacy, new, rejected) in row_accounting(legacy_dsn, report.results).items():
        assert new + rejected == legacy, name
    proc = subprocess.run(
        [sys.executable, "-m", "data_copy", "cleanup", "--dry-run", "--dsn", legacy_dsn], capture_output=True, text=True
    )
    assert proc.returncode == errors.REFUSED and "Traceback" not in proc.stderr
    assert "moneyline" in proc.stderr.strip().splitlines()[-1]


def test_a_missing_index_or_fk_fails_validation_and_stops_cleanup(legacy_dsn: str) -> None:
    assert api.run(legacy_dsn).ok
    with psycopg.connect(legacy_dsn, autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE core_betting.betting_lines_moneyline DROP CONSTRAINT betting_lines_moneyline_game_id_fkey"
        )
        index = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'raw_data' AND tablename = 'raw_mlb_betting_splits'"
            " AND indexname LIKE '%%_idx' ORDER BY 1 LIMIT 1"
        ).fetchone()
        assert index is not None
        conn.execute(f'DROP INDEX raw_data."{index[0]}"')
    results = {r.name: r for r in api.validate(legacy_dsn)}
    assert (
        results["moneyline"].status == "failed"
        and "betting_lines_moneyline_game_id_fkey" in results["moneyline"].message
    )
    assert results["raw_betting_splits"].status == "failed" and index[0] in results["raw_betting_splits"].message
    proc = subprocess.run(
        [sys.executable, "-m", "data_copy", "cleanup", "--dry-run", "--dsn", legacy_dsn], capture_output=True, text=True
    )
    assert proc.returncode == errors.REFUSED and "Traceback" not in proc.stderr
    assert "lack keys, indexes or foreign keys" in proc.stderr and index[0] in proc.stderr
    report = api.run(legacy_dsn)  # a run creates them again
    assert report.ok, [r.message for r in report.results if r.message]
