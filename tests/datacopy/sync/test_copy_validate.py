"""data_copy against a real PostgreSQL: copy, no-op second run, re-sync, rejects, merge, errors."""

import subprocess
import sys
from collections.abc import Callable

import psycopg
import pytest

from data_copy import api

ROWS = """
INSERT INTO public.games (id, mlb_stats_api_game_id, home_team, away_team, game_date, game_datetime,
  game_status, home_score, updated_at)
VALUES (1, '745001', 'NYY', 'BOS', '2024-05-01', '2024-05-01 23:05+00', 'final', 5, now()),
       (2, '745002', 'LAD', 'SF', '2024-05-01', '2024-05-02 02:10+00', 'final', NULL, now());
INSERT INTO splits.games (id, game_id, home_team, away_team, game_datetime, status, home_score, venue)
VALUES ('s1', '745001', 'NYY', 'BOS', '2024-05-01 23:05', 'final', 6, 'Yankee Stadium'),
       ('s2', '745002', 'LAD', 'SF', '2024-05-02 02:10', 'final', 3, NULL),
       ('s3', '745003', 'CHC', 'STL', '2024-05-03 18:20', 'scheduled', NULL, 'Wrigley');
INSERT INTO public.game_outcomes (game_id, home_team, away_team, home_score, away_score, over, home_win, game_date)
VALUES ('745001', 'NYY', 'BOS', 5, 3, true, true, '2024-05-01'),
       ('745003', 'CHC', 'STL', 1, 2, false, false, '2024-05-03');
INSERT INTO splits.raw_mlb_betting_splits (id, game_id, home_team, split_type, updated_at)
SELECT g, '745001', 'NYY', 'moneyline', now() - interval '1 day' FROM generate_series(1, 500) g;
INSERT INTO mlb_betting.moneyline (game_id, sportsbook, home_ml, odds_timestamp)
VALUES (1, 'DK', -120, now()), (2, 'FD', 110, now());
"""


@pytest.fixture
def legacy_dsn(legacy_with: Callable[[str], str]) -> str:
    return legacy_with(ROWS)


@pytest.fixture
def copied_dsn(legacy_dsn: str) -> str:
    """The legacy database after a first run that passed."""
    assert api.run(legacy_dsn).ok
    return legacy_dsn


def _write(dsn: str, *statements: str) -> None:
    """The application writes legacy (or drops a table): each statement committed on its own."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _copied(report: api.RunReport) -> dict[str, int]:
    return {r.name: r.copied for r in report.results if r.copied}


def test_full_copy_validates_and_second_run_is_a_noop(legacy_dsn: str) -> None:
    first = api.run(legacy_dsn)
    assert first.ok, [r.message for r in first.results if r.message]
    assert _copied(first) == {"raw_betting_splits": 500, "games": 3, "game_outcomes": 2, "moneyline": 2}
    second = api.run(legacy_dsn)
    assert second.ok and _copied(second) == {}


def test_games_merge_public_wins_and_splits_fills_nulls(copied_dsn: str) -> None:
    with psycopg.connect(copied_dsn) as conn:
        rows = conn.execute(
            "SELECT id, mlb_stats_api_game_id, home_score, venue_name, legacy_splits_id"
            " FROM core_betting.games ORDER BY id"
        ).fetchall()
        outcome_games = conn.execute("SELECT game_id FROM core_betting.game_outcomes ORDER BY game_id").fetchall()
    assert rows[1:] == [
        (1, "745001", 5, "Yankee Stadium", "s1"),  # conflict 5 vs 6: public wins
        (2, "745002", 3, None, "s2"),  # NULL score filled from splits
    ]
    assert rows[0] == (-1, "745003", None, "Wrigley", "s3")  # splits-only: its own negative ids
    assert outcome_games == [(-1,), (1,)]


def test_resync_brings_inserts_and_updates(copied_dsn: str) -> None:
    _write(
        copied_dsn,
        "INSERT INTO splits.raw_mlb_betting_splits (id, game_id, split_type, updated_at)"
        " SELECT g, '745002', 'total', now() FROM generate_series(501, 520) g",
        "UPDATE splits.raw_mlb_betting_splits SET book = 'Circa', updated_at = now() WHERE id <= 3",
        "UPDATE public.games SET home_score = 9, updated_at = now() WHERE id = 2",
    )
    report = api.run(copied_dsn)
    assert report.ok
    assert _copied(report)["raw_betting_splits"] == 23
    with psycopg.connect(copied_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM raw_data.raw_mlb_betting_splits WHERE book = 'Circa'").fetchone() == (
            3,
        )
        assert conn.execute("SELECT home_score FROM core_betting.games WHERE id = 2").fetchone() == (9,)


def test_new_legacy_games_never_collide_with_splits_only_games(copied_dsn: str) -> None:
    # the application keeps writing legacy: public.games' sequence goes on (ids 3, 4, ...)
    _write(
        copied_dsn,
        "INSERT INTO public.games (id, mlb_stats_api_game_id, home_team, away_team, game_date,"
        " game_datetime, game_status, updated_at) VALUES"
        " (3, '745010', 'SEA', 'OAK', '2024-05-04', '2024-05-04 20:10+00', 'scheduled', now()),"
        " (4, '745011', 'HOU', 'TEX', '2024-05-04', '2024-05-04 23:05+00', 'scheduled', now())",
        "INSERT INTO splits.games (id, game_id, home_team, away_team, game_datetime, updated_at)"
        " VALUES ('s10', '745010', 'SEA', 'OAK', '2024-05-04 20:10', now()),"
        " ('s12', '745012', 'NYM', 'PHI', '2024-05-05 17:10', now())",
        "INSERT INTO public.game_outcomes (game_id, home_team, away_team, home_score, away_score,"
        " over, home_win, game_date, updated_at) VALUES ('745012', 'NYM', 'PHI', 4, 1, false, true,"
        " '2024-05-05', now())",
    )
    report = api.run(copied_dsn)
    assert report.ok, [r.message for r in report.results if r.message]
    with psycopg.connect(copied_dsn) as conn:
        games = dict(
            conn.execute("SELECT legacy_splits_id, id FROM core_betting.games WHERE legacy_splits_id IS NOT NULL")
        )
        outcomes = dict(conn.execute("SELECT legacy_game_id, game_id FROM core_betting.game_outcomes"))
    assert games["s3"] == -1 and games["s10"] == 3 and games["s12"] < -1  # (sequence gaps are fine)
    assert outcomes == {"745001": 1, "745003": -1, "745012": games["s12"]}


def test_update_without_timestamp_is_caught_by_checksum_and_reconciled(copied_dsn: str) -> None:
    _write(copied_dsn, "UPDATE splits.raw_mlb_betting_splits SET book = 'Sneaky' WHERE id = 7")
    assert [r.name for r in api.validate(copied_dsn) if r.status != "passed"] == ["raw_betting_splits"]
    bad = next(r for r in api.validate(copied_dsn) if r.name == "raw_betting_splits")
    assert "changed" in bad.message and "7" in bad.message
    assert api.run(copied_dsn).ok


def test_unfaithful_rows_are_reported_never_dropped_silently(legacy_dsn: str) -> None:
    _write(
        legacy_dsn,
        "INSERT INTO splits.games (id, game_id, home_team, away_team, game_datetime)"
        " VALUES ('s9', '745009', 'TOOLONG', 'BOS', '2024-06-01 20:00')",
        "INSERT INTO splits.raw_mlb_betting_splits (id, split_type) VALUES (NULL, 'x'), (5, 'dup')",
        "INSERT INTO public.game_outcomes (game_id, home_team, away_team, home_score, away_score,"
        " over, home_win, game_date) VALUES ('nope', 'A', 'B', 1, 2, true, false, now())",
    )
    report = api.run(legacy_dsn)
    assert not report.ok
    failed = {r.name: r for r in report.results if r.status != "passed"}
    assert set(failed) == {"games", "raw_betting_splits", "game_outcomes"}
    with psycopg.connect(legacy_dsn) as conn:
        rejects = set(conn.execute("SELECT mapping, legacy_key, reason FROM migration_rejects").fetchall())
        log_failed = conn.execute("SELECT count(*) FROM migration_log WHERE status = 'failed'").fetchone()
    assert ("games/splits_only", "s9", "home_team does not fit character varying(5)") in rejects
    assert ("raw_betting_splits", None, "NULL into NOT NULL id") in rejects
    assert ("raw_betting_splits", "5", "duplicate legacy key (2 rows)") in rejects
    assert any(m == "game_outcomes" and "matches no game" in why for m, _, why in rejects)
    assert log_failed is not None and log_failed[0] >= 3


def test_guide_validation_queries_work_unqualified(copied_dsn: str) -> None:
    with psycopg.connect(copied_dsn) as conn:
        counts = conn.execute(
            "SELECT 'old' as source, COUNT(*) FROM splits.raw_mlb_betting_splits UNION ALL"
            " SELECT 'new' as source, COUNT(*) FROM raw_data.raw_mlb_betting_splits"
        ).fetchall()
        assert counts[0][1] == counts[1][1] == 500
        assert conn.execute("SELECT * FROM migration_log WHERE migration_phase = 'Phase1' ORDER BY id").fetchall()
        assert conn.execute("SELECT * FROM migration_log WHERE status = 'failed'").fetchall() == []


@pytest.mark.parametrize(
    "args, expected",
    [
        (["run", "--dsn", "postgresql://nobody@127.0.0.1:1/x"], "cannot connect to the database"),
        (["run", "--dsn", "not a dsn ==="], "invalid connection string"),
        (["run"], "no database given"),
    ],
)
def test_user_errors_are_one_line(args: list[str], expected: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "data_copy", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert proc.returncode != 0
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1


def test_wrong_password_and_undeployed_phase(fresh_dsn: str) -> None:
    bad = fresh_dsn.replace("postgres:", "postgres:wrong", 1)
    proc = subprocess.run([sys.executable, "-m", "data_copy", "validate", "--dsn", bad], capture_output=True, text=True)
    assert proc.returncode != 0 and "password authentication failed" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "data_copy", "run", "--dsn", fresh_dsn], capture_output=True, text=True
    )
    assert proc.returncode != 0 and "not deployed yet" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_legacy_table_is_logged_and_reported(legacy_dsn: str) -> None:
    _write(legacy_dsn, "DROP TABLE tracking.pre_game_recommendations CASCADE")
    report = api.run(legacy_dsn)
    missing = next(r for r in report.results if r.name == "pre_game_recommendations")
    assert missing.status == "missing_source"
    assert "tracking.pre_game_recommendations" in missing.message
    assert not report.ok
    with psycopg.connect(legacy_dsn) as conn:
        logged = conn.execute(
            "SELECT status, error_message FROM migration_log WHERE mapping = 'pre_game_recommendations'"
        ).fetchall()
    # the guide's query shows it
    assert logged == [("failed", "table does not exist: tracking.pre_game_recommendations")]
    with psycopg.connect(legacy_dsn) as conn:
        guide = conn.execute("SELECT mapping FROM migration_log WHERE status = 'failed'").fetchall()
    assert ("pre_game_recommendations",) in guide


def test_plan_before_and_after_a_run_changes_nothing(legacy_dsn: str) -> None:
    before = {r.name: (r.source_rows, r.target_rows, r.to_copy) for r in api.plan(legacy_dsn)}
    assert before["raw_betting_splits"] == (500, None, 500)  # the new tables do not exist yet
    assert before["games"] == (3, None, 3) and before["game_outcomes"] == (2, None, 2)
    with psycopg.connect(legacy_dsn) as conn:
        assert conn.execute("SELECT to_regclass('raw_data.raw_mlb_betting_splits')").fetchone() == (None,)
    assert api.run(legacy_dsn).ok
    after = {r.name: (r.source_rows, r.target_rows, r.to_copy) for r in api.plan(legacy_dsn)}
    assert after["raw_betting_splits"] == (500, 500, 0) and after["games"] == (3, 3, 0)
