"""Change capture's edges on a real PostgreSQL: a server without logical WAL falls back to
the scan and says so once; `capture-drop` and a phase-3 `cleanup` leave no slot behind;
`status` shows the slot's lag and warns above the threshold."""

import dataclasses
import os
import subprocess
import sys

import psycopg
import pytest
from queries import q

import legacy_fixture
from catalog.legacy import LEGACY_TABLES
from data_copy import api
from data_copy.capture import slot as capture_slot
from data_copy.settings import Settings
from pgcluster import Cluster, ServerSettings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
LEGACY_ML = "mlb_betting.moneyline"
ML = "core_betting.betting_lines_moneyline"
UNMAPPED = tuple(t.qualified for t in LEGACY_TABLES if t.kind == "table" and t.mapped_to is None)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "data_copy", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def slots(dsn: str) -> list[str]:
    return [r[0] for r in q(dsn, "SELECT slot_name FROM pg_replication_slots WHERE database = current_database()")]


def tiny(dsn: str) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        legacy_fixture.build(conn, "tiny")
    api.bootstrap_structure(dsn)
    return dsn


def test_without_logical_wal_the_run_scans_and_says_so_once() -> None:
    settings = dataclasses.replace(ServerSettings.for_tests(), wal_level="replica")
    with Cluster.throwaway(settings=settings) as cluster:
        dsn = tiny(cluster.create_database("nolog"))
        first = api.run(dsn)
        assert first.ok, [r.message for r in first.results if r.message]
        assert first.capture == {}
        assert [n for n in first.notes if "capture" in n] == [
            "change capture off: the server runs with wal_level=replica (logical needed); re-sync scans"
        ]
        deleted, updated = (r[0] for r in q(dsn, f"SELECT id FROM {LEGACY_ML} ORDER BY id LIMIT 2"))  # noqa: S608
        q(dsn, f"DELETE FROM {LEGACY_ML} WHERE id = %s", deleted)  # noqa: S608
        q(dsn, f"UPDATE {LEGACY_ML} SET home_ml = 31337 WHERE id = %s", updated)  # noqa: S608
        done = cli("run", "--dsn", dsn)
        assert done.returncode == 0, done.stderr[-2000:]
        assert (done.stdout + done.stderr).count("change capture") == 1
        assert "change capture off: the server runs with wal_level=replica" in done.stdout
        assert q(dsn, f"SELECT id FROM {ML} WHERE id = %s", deleted) == []  # noqa: S608
        assert q(dsn, f"SELECT home_ml FROM {ML} WHERE id = %s", updated) == [(31337,)]  # noqa: S608
        assert slots(dsn) == []
        status = cli("status", "--dsn", dsn)
        assert status.returncode == 0 and "change capture: no slot" in status.stdout


def test_capture_drop_removes_the_slot_and_the_next_runs_scan_once_then_capture(fresh_dsn: str) -> None:
    dsn = tiny(fresh_dsn)
    assert api.run(dsn).ok
    slot = capture_slot.slot_name(q(dsn, "SELECT current_database()")[0][0])
    assert slots(dsn) == [slot]
    done = cli("capture-drop", "--dsn", dsn)
    assert done.returncode == 0, done.stderr
    # the first copy settled on a second session too, under our second origin (sync/overlap.py)
    assert done.stdout.strip() == (
        f"dropped replication slot {slot}, replication origin {slot}, replication origin {slot}_2"
    )
    assert slots(dsn) == []
    assert q(dsn, "SELECT count(*) FROM pg_replication_origin WHERE roname IN (%s, %s || '_2')", slot, slot) == [(0,)]
    assert q(dsn, "SELECT count(*) FROM public.migration_capture") == [(0,)]
    again = cli("capture-drop", "--dsn", dsn)
    assert again.returncode == 0 and again.stdout.strip() == "no change capture slot: nothing dropped"
    q(dsn, f"DELETE FROM {LEGACY_ML} WHERE id = (SELECT min(id) FROM {LEGACY_ML})")  # noqa: S608
    rescan = api.run(dsn)  # a new slot; every mapping was copied before it: scanned once
    assert rescan.ok and slots(dsn) == [slot]
    assert all(v["mode"].startswith("scan (copied before the slot existed)") for v in rescan.capture.values())
    assert rescan.capture["moneyline"]["mode"].endswith("then a full reconcile")  # a delete: only the scan's reconcile
    q(dsn, f"DELETE FROM {LEGACY_ML} WHERE id = (SELECT min(id) FROM {LEGACY_ML})")  # noqa: S608
    keyed = api.run(dsn)
    assert keyed.ok and keyed.capture["moneyline"] == {"mode": "capture", "keys": 1}


def test_status_shows_the_lag_and_warns_above_the_threshold(fresh_dsn: str) -> None:
    dsn = tiny(fresh_dsn)
    assert api.run(dsn).ok
    q(dsn, f"UPDATE {LEGACY_ML} SET home_ml = coalesce(home_ml, 0) + 1")  # noqa: S608 - WAL the slot keeps
    info = api.status(dsn).capture
    assert info is not None
    assert info["lag_bytes"] > 0 and not info["warn"]
    quiet = cli("status", "--dsn", dsn)
    assert quiet.returncode == 0 and f"slot {info['slot']} lags " in quiet.stdout and "WARNING" not in quiet.stdout
    loud = cli("status", "--dsn", dsn, "--lag-warn-bytes", "1")
    assert loud.returncode == 0 and "WARNING: over 1 bytes" in loud.stdout and "max_slot_wal_keep_size" in loud.stdout


def test_cleanup_drops_the_slot(fresh_dsn: str, tmp_path: object) -> None:
    dsn = tiny(fresh_dsn)
    assert api.run(dsn).ok
    api.switch(dsn, Settings())
    assert api.run(dsn).ok
    assert len(slots(dsn)) == 1
    settings = Settings(backup_dir=str(tmp_path), disposable_tables=UNMAPPED, accept_legacy_reads=True)
    outcome = api.cleanup(dsn, settings)
    assert outcome.report is not None and outcome.report.dropped_tables
    assert slots(dsn) == []


@pytest.mark.parametrize("prefix", ["", "stack_b_"])
def test_slot_names_differ_per_database_and_role_prefix(prefix: str) -> None:
    names = {capture_slot.slot_name(db, p) for db in ("mlb_betting", "mlb_betting_2") for p in ("", prefix or "x_")}
    assert len(names) == 4
    assert all(len(n) <= 63 and n.replace("_", "").isalnum() and n == n.lower() for n in names)
    assert capture_slot.slot_name("A-Very-Long-Database-Name-" * 4, prefix) != capture_slot.slot_name(
        "A-Very-Long", prefix
    )
