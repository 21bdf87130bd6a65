"""cleanup and restore keep lock_timeout and retry 55P03 (lock_retry) on a real PostgreSQL.

cleanup: its SHARE locks and its drops are savepoints of the one drop transaction, each
retried whole; restore: pg_restore (one transaction) runs with the session's lock_timeout
and is run again whole. Another session holds a conflicting lock; released after the step
was refused, the verb ends exactly as an undisturbed one; never released, one line naming
the table, and nothing dropped (or restored).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cleanup_support as support
import psycopg
import pytest
from lock_holding import Held, Pauses, short_pauses

from catalog.mappings import MAPPINGS
from catalog.schemas import LEGACY_SCHEMAS
from data_copy.core import lock_retry
from data_copy.core.connection import connect
from data_copy.errors import LegacyTablesBusy, RestoreFailed
from data_copy.retire import live_catalog, restore
from data_copy.retire.backup import Backup
from data_copy.settings import Settings
from data_copy.state.journal import Journal
from pgcluster import Cluster

DROPPABLE = [s for s in LEGACY_SCHEMAS if s != "public"]
SOURCES = {s for m in MAPPINGS for s in m.sources}


@pytest.fixture(autouse=True)
def pauses(monkeypatch: pytest.MonkeyPatch) -> Pauses:
    return short_pauses(monkeypatch)


@pytest.fixture
def legacy_dsn(pg_cluster: Cluster, validated_template: str) -> Iterator[str]:
    with support.database_from(pg_cluster, validated_template) as dsn:
        yield dsn


def fast(tmp_path: Path) -> Settings:
    return support.settings_for(tmp_path, lock_timeout="100ms")


def assert_cleaned_up(dsn: str, report: object, before: dict) -> None:
    """The state test_cleanup's undisturbed cleanup ends in."""
    assert set(report.dropped_tables) == SOURCES  # type: ignore[attr-defined]
    assert report.dropped_schemas == DROPPABLE  # type: ignore[attr-defined]
    assert report.fingerprints == {t: before[t] for t in report.plan.dropped_tables}  # type: ignore[attr-defined]
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert live_catalog.existing_schemas(conn, LEGACY_SCHEMAS) == ["public"]
        log = support.phase3_log(conn)
    assert [(st, status) for st, status, _ in log if st == "drop_schema"] == [("drop_schema", "dropped")] * 8
    assert {src for st, status, src in log if st == "drop_table" and status == "dropped"} == SOURCES
    assert not [row for row in log if row[1] == "rolled_back"]
    assert log[-1] == ("cleanup", "completed", None)


# ----------------------------------------------------------------------------- cleanup


def test_cleanup_waits_out_a_writer_then_a_reader_and_drops_as_undisturbed(
    legacy_dsn: str, tmp_path: Path, pauses: Pauses
) -> None:
    with psycopg.connect(legacy_dsn, autocommit=True) as conn:
        before = support.legacy_fingerprints(conn)
    # a writer's open transaction: cleanup's SHARE lock must wait
    writer = Held(legacy_dsn, "splits.games", "ROW EXCLUSIVE")
    pauses.then = lambda: writer.release_after(0.3)
    readers: list[Held] = []

    def reader_arrives(backup: Backup) -> None:  # after the backup, a long SELECT: DROP must wait
        readers.append(Held(legacy_dsn, "mlb_betting.moneyline", "ACCESS SHARE"))
        pauses.then = lambda: readers[0].release_after(0.3)

    report = support.run_cleanup(legacy_dsn, fast(tmp_path), after_backup=reader_arrives)
    writer.close()
    readers[0].close()
    assert pauses.then is None and len(pauses.seen) >= 2  # both steps were refused, then went through
    assert_cleaned_up(legacy_dsn, report, before)


@pytest.mark.parametrize("step", ["lock", "drop"])
def test_cleanup_under_a_lock_never_released_refuses_in_one_line_and_drops_nothing(
    legacy_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    monkeypatch.setattr(lock_retry, "ATTEMPTS", 3)
    held: list[Held] = []
    if step == "lock":
        held.append(Held(legacy_dsn, "splits.games", "ROW EXCLUSIVE"))
        kwargs = {}
    else:
        kwargs = {"after_backup": lambda b: held.append(Held(legacy_dsn, "mlb_betting.moneyline", "ACCESS SHARE"))}
    try:
        error = support_refused(legacy_dsn, fast(tmp_path), **kwargs)
    finally:
        for h in held:
            h.close()
    table = "splits.games" if step == "lock" else "mlb_betting.moneyline"
    assert isinstance(error, LegacyTablesBusy)
    line = error.line()
    assert f"{table} is locked by another session (pid {held[0].pid}); refused 3 time(s)" in line, line
    assert "a legacy table is in use (lock_timeout 100ms)" in line
    assert line.endswith("then cleanup again (or raise consolidation:lockTimeout))")


def support_refused(dsn: str, settings: Settings, **kwargs: object) -> LegacyTablesBusy:
    """cleanup refused: legacy exactly as before (shape and rows), nothing logged dropped."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        shape, rows = support.legacy_shape(conn), support.legacy_fingerprints(conn)
    with pytest.raises(LegacyTablesBusy) as caught:
        support.run_cleanup(dsn, settings, **kwargs)
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert support.legacy_shape(conn) == shape
        assert support.legacy_fingerprints(conn) == rows
        log = support.phase3_log(conn)
    assert ("guard", "refused", None) in log
    assert not [row for row in log if row[1] == "dropped"]
    assert "\n" not in caught.value.line()
    return caught.value


# ----------------------------------------------------------------------------- restore


@dataclass
class CleanedUp:
    dsn: str
    settings: Settings
    shape: dict
    rows: dict


@pytest.fixture
def cleaned_up_with_a_reference(legacy_dsn: str, tmp_path: Path) -> CleanedUp:
    """A legacy table (dropped with its schema) whose foreign key references a table of
    `public` that stays: pg_restore's ADD CONSTRAINT locks that table (SHARE ROW EXCLUSIVE)."""
    with psycopg.connect(legacy_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.app_ref (id int PRIMARY KEY)")
        conn.execute("CREATE TABLE splits.app_child (id int PRIMARY KEY, ref int REFERENCES public.app_ref)")
        shape, rows = support.legacy_shape(conn), support.legacy_fingerprints(conn)
    settings = fast(tmp_path)
    report = support.run_cleanup(legacy_dsn, settings)
    assert "splits" in report.dropped_schemas
    return CleanedUp(legacy_dsn, settings, shape, rows)


def run_restore(c: CleanedUp) -> restore.RestoreReport:
    with connect(c.dsn, c.settings) as conn:
        return restore.restore(conn, c.settings, Journal(conn, "Phase3"), c.dsn)


def test_restore_waits_out_a_writer_and_restores_as_undisturbed(
    cleaned_up_with_a_reference: CleanedUp, pauses: Pauses
) -> None:
    c = cleaned_up_with_a_reference
    writer = Held(c.dsn, "public.app_ref", "ROW EXCLUSIVE")  # the application writes a table that stayed
    pauses.then = lambda: writer.release_after(0.3)
    result = run_restore(c)
    writer.close()
    assert len(pauses.seen) >= 1  # pg_restore was refused (cancelled, rolled back), then ran again
    assert result.restored
    with psycopg.connect(c.dsn, autocommit=True) as conn:
        assert support.legacy_shape(conn) == c.shape
        assert support.legacy_fingerprints(conn) == c.rows


def test_restore_under_a_lock_never_released_is_one_line_and_restores_nothing(
    cleaned_up_with_a_reference: CleanedUp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lock_retry, "ATTEMPTS", 3)
    c = cleaned_up_with_a_reference
    writer = Held(c.dsn, "public.app_ref", "ROW EXCLUSIVE")
    try:
        with pytest.raises(RestoreFailed) as caught:
            run_restore(c)
    finally:
        writer.close()
    line = caught.value.line()
    assert "\n" not in line
    assert line.startswith(
        "error: restore refused, nothing restored: pg_restore waited longer than lock_timeout 100ms for a lock"
        f" on public.app_ref (held by pid {writer.pid}), 3 time(s) over"
    ), line
    assert line.endswith("then run restore again (or raise consolidation:lockTimeout))")
    with psycopg.connect(c.dsn, autocommit=True) as conn:
        assert live_catalog.existing_schemas(conn, LEGACY_SCHEMAS) == ["public"]  # nothing restored
        last = conn.execute(
            "SELECT status FROM public.migration_log WHERE migration_phase = 'Phase3' AND step = 'restore'"
            " ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert last == ("failed",)
    assert run_restore(c).restored  # the lock gone: the same command restores
