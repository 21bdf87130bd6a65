"""kill -9 during a phase-2 sync and during a rollback, then a re-run: nothing lost, nothing
duplicated (real PostgreSQL, the real CLI in a subprocess)."""

import signal
import subprocess
import sys
import time

import psycopg
from psycopg import sql
from test_phases import LEGACY_ML, ML, ROOT, content_md5, q

from data_copy import api
from data_copy.settings import Settings

SPREADS, LEGACY_SPREADS = "core_betting.betting_lines_spreads", "mlb_betting.spreads"


def _kill_during(dsn: str, verb: str, tables: tuple[str, ...]) -> int:
    """Runs `verb` once per table while another session holds that table locked, and kills
    it (-9) as soon as it waits for the lock: each kill lands inside its work at a known
    point (the mappings before that table done, that one's transaction open), however fast
    the machine; the kills made."""
    kills = 0
    for table in tables:
        with psycopg.connect(dsn) as holder:
            holder.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(*table.split("."))))
            proc = subprocess.Popen(
                [sys.executable, "-m", "data_copy", verb, "--dsn", dsn],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if _waits_for_a_lock(dsn, proc):
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
            holder.rollback()
        _wait_for_orphans(dsn)
    return kills


def _waits_for_a_lock(dsn: str, proc: subprocess.Popen) -> bool:
    """Until the process's session waits for a lock (True) or the process ends (False)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        while proc.poll() is None:
            row = conn.execute(  # the table lock (not the marker slot's short wait for running xacts)
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'data_copy %'"
                " AND wait_event_type = 'Lock' AND wait_event = 'relation'"
            ).fetchone()
            if row and row[0]:
                return True
            time.sleep(0.005)
    return False


def _wait_for_orphans(dsn: str) -> None:
    """A killed client's server backend finishes its statement before it notices."""
    for _ in range(300):
        busy = q(
            dsn,
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name LIKE 'data_copy%' AND pid <> pg_backend_pid()",
        )
        if busy == [(0,)]:
            return
        time.sleep(0.1)
    raise AssertionError("a killed run's backend never ended")


def _insert_50_ml(dsn: str, table: str, book: str, base: int) -> None:
    """50 moneyline rows written to `table` (ids from its own default), home_ml base+1..base+50,
    all for the smallest legacy game id."""
    q(
        dsn,
        sql.SQL(
            "INSERT INTO {} (game_id, sportsbook, home_ml, odds_timestamp)"
            " SELECT game_id, %s, %s + g, now() FROM (SELECT min(game_id) AS game_id FROM mlb_betting.moneyline) x,"
            " generate_series(1, 50) g"
        ).format(sql.Identifier(*table.split("."))),
        book,
        base,
    )


def _application_writes(dsn: str) -> dict[str, object]:
    """Application rows in two new tables, and old code's writes to legacy."""
    ids = [r[0] for r in q(dsn, f"SELECT id FROM {ML} ORDER BY id LIMIT 60")]  # noqa: S608
    changed, deleted = ids[:20], ids[20:30]
    legacy_changed, legacy_deleted = ids[30:50], ids[50:60]
    q(dsn, f"UPDATE {ML} SET home_ml = 5000 + id WHERE id = ANY(%s)", changed)  # noqa: S608
    q(dsn, f"DELETE FROM {ML} WHERE id = ANY(%s)", deleted)  # noqa: S608
    _insert_50_ml(dsn, ML, "APP", 7000)
    q(
        dsn,
        f"INSERT INTO {SPREADS} (game_id, sportsbook, home_spread, odds_timestamp)"  # noqa: S608
        " SELECT game_id, 'APP', 1.5, now() FROM (SELECT min(game_id) AS game_id FROM mlb_betting.spreads) x,"
        " generate_series(1, 30) g",
    )
    q(dsn, f"UPDATE {LEGACY_ML} SET away_ml = -999 WHERE id = ANY(%s)", legacy_changed)  # noqa: S608
    q(dsn, f"DELETE FROM {LEGACY_ML} WHERE id = ANY(%s)", legacy_deleted)  # noqa: S608
    _insert_50_ml(dsn, LEGACY_ML, "OLD", 8000)
    # plenty for the sync to do while it is being killed
    q(dsn, "UPDATE splits.raw_mlb_betting_splits SET home_team = home_team")
    q(dsn, "UPDATE splits.raw_mlb_betting_splits SET split_value = coalesce(split_value, '') || '+'")
    q(dsn, "UPDATE splits.raw_mlb_betting_splits SET outcome = coalesce(outcome, '') || '+'")
    q(dsn, "UPDATE splits.raw_mlb_betting_splits SET sharp_action = coalesce(sharp_action, '') || '+'")
    return {
        "changed": changed,
        "deleted": deleted,
        "legacy_changed": legacy_changed,
        "legacy_deleted": legacy_deleted,
        "app_rows": q(
            dsn,
            f"SELECT id, sportsbook, home_ml FROM {ML} WHERE sportsbook = 'APP' OR id = ANY(%s) ORDER BY id",
            changed,
        ),  # noqa: S608
        "app_spreads": q(dsn, f"SELECT id FROM {SPREADS} WHERE sportsbook = 'APP' ORDER BY id"),  # noqa: S608
    }


def test_kill9_during_phase2_sync_then_rerun_loses_and_duplicates_nothing(phase2: str) -> None:
    w = _application_writes(phase2)
    kills = _kill_during(phase2, "run", ("raw_data.raw_mlb_betting_splits", ML, SPREADS))
    assert kills == 3, "the sync never waited for a locked table: it was not killed inside its work"
    report = api.run(phase2)
    assert report.ok, [r.message for r in report.results if r.message]
    # every application row kept as the application left it, deleted ones not resurrected
    assert (
        q(
            phase2,
            f"SELECT id, sportsbook, home_ml FROM {ML} WHERE sportsbook = 'APP' OR id = ANY(%s) ORDER BY id",
            w["changed"],
        )
        == w["app_rows"]
    )  # noqa: S608
    assert q(phase2, f"SELECT count(*) FROM {ML} WHERE id = ANY(%s)", w["deleted"]) == [(0,)]  # noqa: S608
    # every legacy change arrived, exactly once
    assert q(phase2, f"SELECT count(*) FROM {ML} WHERE id = ANY(%s)", w["legacy_deleted"]) == [(0,)]  # noqa: S608
    assert q(phase2, f"SELECT count(*) FROM {ML} WHERE id = ANY(%s) AND away_ml = -999", w["legacy_changed"]) == [(20,)]  # noqa: S608
    assert q(phase2, f"SELECT count(*), count(DISTINCT home_ml) FROM {ML} WHERE sportsbook = 'OLD'") == [(50, 50)]  # noqa: S608
    legacy = q(phase2, f"SELECT count(*) FROM {LEGACY_ML}")[0][0]  # noqa: S608
    assert q(phase2, f"SELECT count(*) FROM {ML}") == [(legacy - 10 + 50,)]  # noqa: S608
    moneyline = next(r for r in report.results if r.name == "moneyline")
    assert moneyline.figures == {
        "in_sync": legacy - 30,
        "app_created": 50,
        "app_changed": 20,
        "app_deleted": 10,
        "conflicts": 0,
        "pending": 0,
    }
    splits = q(
        phase2,
        "SELECT count(*) FROM splits.raw_mlb_betting_splits s JOIN raw_data.raw_mlb_betting_splits t USING (id)"
        " WHERE t.split_value IS NOT DISTINCT FROM s.split_value",
    )
    assert splits == q(phase2, "SELECT count(*) FROM splits.raw_mlb_betting_splits")


def test_kill9_during_rollback_then_rerun_carries_everything_back_once(phase2: str) -> None:
    w = _application_writes(phase2)
    assert api.run(phase2).ok  # legacy's changes in; the application's rows are what goes back
    kills = _kill_during(phase2, "rollback", (LEGACY_SPREADS, LEGACY_ML))
    if api.status(phase2).phase == 2:
        api.rollback(phase2, Settings())
    assert kills >= 1, "the rollback never waited for a locked table: it was not killed inside its work"
    assert api.status(phase2).phase == 1
    # legacy now holds exactly the new table's content (independent checksum), once
    assert content_md5(phase2, LEGACY_ML) == content_md5(phase2, ML)
    assert q(phase2, f"SELECT count(*), count(DISTINCT id) FROM {LEGACY_ML} WHERE sportsbook = 'APP'") == [(50, 50)]  # noqa: S608
    assert q(phase2, f"SELECT count(*) FROM {LEGACY_ML} WHERE id = ANY(%s)", w["deleted"]) == [(0,)]  # noqa: S608
    assert [r[0] for r in q(phase2, f"SELECT id FROM {LEGACY_SPREADS} WHERE sportsbook = 'APP' ORDER BY id")] == [  # noqa: S608
        r[0] for r in w["app_spreads"]
    ]
    report = api.run(phase2)  # phase 1 again: a mirror, nothing foreign, nothing to copy
    assert report.ok, [r.message for r in report.results if r.message]
    assert sum(r.copied for r in report.results) == 0
