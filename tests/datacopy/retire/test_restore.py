"""Rollback after phase 3: restore from cleanup's backup, proven by counts and checksums.

The end-to-end test runs the whole path on a fresh database: legacy build -> data_copy run
(real pipeline) -> cleanup refused (unmapped rows) -> disposable -> cleanup -> restore.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cleanup_support as support
import psycopg
import pytest
from psycopg import sql

from catalog.schemas import LEGACY_SCHEMAS
from data_copy import api
from data_copy.core.connection import connect
from data_copy.errors import CleanupRefused, RestoreFailed
from data_copy.report import restore as print_restore
from data_copy.retire import cleanup, live_catalog, restore
from data_copy.retire.fingerprint import table_fingerprint
from data_copy.settings import Settings
from data_copy.state.journal import Journal
from pgcluster import Cluster


@dataclass
class CleanedUp:
    dsn: str
    settings: Settings
    report: cleanup.CleanupReport
    shape: dict  # support.legacy_shape before the cleanup
    rows: dict[str, tuple[int, str]]  # legacy fingerprints before the cleanup


def run_restore(dsn: str, settings: Settings, dump: Path | None = None) -> restore.RestoreReport:
    with connect(dsn, settings) as conn:
        return restore.restore(conn, settings, Journal(conn, "Phase3"), dsn, dump)


@pytest.fixture
def cleaned_up(pg_cluster: Cluster, validated_template: str, tmp_path: Path) -> Iterator[CleanedUp]:
    with support.database_from(pg_cluster, validated_template) as dsn:
        settings = support.settings_for(tmp_path)
        with psycopg.connect(dsn, autocommit=True) as conn:
            shape, rows = support.legacy_shape(conn), support.legacy_fingerprints(conn)
        report = support.run_cleanup(dsn, settings)
        yield CleanedUp(dsn, settings, report, shape, rows)


def test_restore_brings_back_every_legacy_object_with_equal_checksums(cleaned_up: CleanedUp) -> None:
    with psycopg.connect(cleaned_up.dsn, autocommit=True) as conn:
        assert live_catalog.existing_schemas(conn, LEGACY_SCHEMAS) == ["public"]
    result = run_restore(cleaned_up.dsn, cleaned_up.settings)  # newest dump of backup_dir
    assert result.restored and result.dump == cleaned_up.report.dump
    assert result.tables == cleaned_up.report.fingerprints
    with psycopg.connect(cleaned_up.dsn, autocommit=True) as conn:
        assert support.legacy_shape(conn) == cleaned_up.shape  # tables, columns, keys, indexes, views, sequences
        assert support.legacy_fingerprints(conn) == cleaned_up.rows
        log = support.phase3_log(conn)
    restores = [(status, src) for step, status, src in log if step == "restore"]
    assert ("completed", str(cleaned_up.report.dump)) in restores
    assert sum(1 for status, _ in restores if status == "passed") == len(cleaned_up.report.fingerprints)


def test_a_second_restore_only_verifies(cleaned_up: CleanedUp) -> None:
    run_restore(cleaned_up.dsn, cleaned_up.settings)
    again = run_restore(cleaned_up.dsn, cleaned_up.settings, cleaned_up.report.dump)
    assert not again.restored and again.tables == cleaned_up.report.fingerprints
    with psycopg.connect(cleaned_up.dsn, autocommit=True) as conn:
        assert ("restore", "verified", str(cleaned_up.report.dump)) in support.phase3_log(conn)


def test_a_difference_after_the_restore_is_reported_by_table(cleaned_up: CleanedUp) -> None:
    run_restore(cleaned_up.dsn, cleaned_up.settings)
    with psycopg.connect(cleaned_up.dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE mlb_betting.totals SET sportsbook = 'changed' WHERE id = (SELECT min(id) FROM mlb_betting.totals)"
        )
        conn.execute("DELETE FROM action.fact_games WHERE id = (SELECT min(id) FROM action.fact_games)")
    with pytest.raises(RestoreFailed) as caught:
        run_restore(cleaned_up.dsn, cleaned_up.settings)
    message = str(caught.value)
    assert "restored data differs from what was recorded before the drop" in message
    assert "mlb_betting.totals: checksum differs" in message
    assert "action.fact_games: 11 rows vs 12 recorded" in message
    assert "\n" not in caught.value.line()


def test_a_corrupted_dump_is_refused_and_nothing_is_restored(cleaned_up: CleanedUp) -> None:
    dump = cleaned_up.report.dump
    assert dump is not None
    data = bytearray(dump.read_bytes())
    data[-200:-100] = b"\0" * 100
    dump.write_bytes(bytes(data))
    with pytest.raises(RestoreFailed, match="changed since cleanup wrote it"):
        run_restore(cleaned_up.dsn, cleaned_up.settings)
    with psycopg.connect(cleaned_up.dsn, autocommit=True) as conn:
        assert live_catalog.existing_schemas(conn, LEGACY_SCHEMAS) == ["public"]
        assert ("restore", "failed", str(dump)) in support.phase3_log(conn)


def test_missing_or_unknown_dumps_are_clear_errors(cleaned_up: CleanedUp, tmp_path: Path) -> None:
    with pytest.raises(RestoreFailed, match="no backup found in"):
        run_restore(cleaned_up.dsn, Settings(backup_dir=str(tmp_path / "elsewhere")))
    with pytest.raises(RestoreFailed, match="does not exist"):
        run_restore(cleaned_up.dsn, cleaned_up.settings, tmp_path / "absent.dump")
    stranger = tmp_path / f"20990101T000000Z-{uuid.uuid4()}.dump"
    assert cleaned_up.report.dump is not None
    stranger.write_bytes(cleaned_up.report.dump.read_bytes())
    with pytest.raises(RestoreFailed, match="migration_log has no record of backup"):
        run_restore(cleaned_up.dsn, cleaned_up.settings, stranger)


def test_a_partly_restored_state_is_not_made_worse(cleaned_up: CleanedUp) -> None:
    with psycopg.connect(cleaned_up.dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA splits")
        conn.execute("CREATE TABLE splits.games (id text)")
    with pytest.raises(RestoreFailed, match=r"legacy tables are partly back \(1 of"):
        run_restore(cleaned_up.dsn, cleaned_up.settings)


def test_restore_command_prints_a_summary(cleaned_up: CleanedUp, capsys: pytest.CaptureFixture[str]) -> None:
    done = api.restore(cleaned_up.dsn, cleaned_up.settings, dump=str(cleaned_up.report.dump))
    print_restore(done)
    assert done.restored
    out = capsys.readouterr().out
    assert f"restored {len(cleaned_up.report.fingerprints)} legacy tables from {cleaned_up.report.dump}" in out


def test_end_to_end_run_cleanup_restore(fresh_dsn: str, tmp_path: Path) -> None:
    """legacy build -> run -> cleanup refuses (unmapped rows) -> disposable -> cleanup ->
    public, migration_log and the consolidated data intact -> restore -> all equal."""
    support.build_legacy(fresh_dsn)  # legacy_fixture tiny + api.bootstrap_structure + api.run (passing)
    reader = f"legacy_reader_{uuid.uuid4().hex[:8]}"  # the legacy application's grants come back too
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(reader)))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA splits TO {}").format(sql.Identifier(reader)))
        conn.execute(sql.SQL("GRANT SELECT ON splits.games, public.games TO {}").format(sql.Identifier(reader)))
        shape, rows = support.legacy_shape(conn), support.legacy_fingerprints(conn)
        new_side = {
            t: table_fingerprint(conn, t)
            for t in live_catalog.existing_tables(conn, ["raw_data", "core_betting", "analytics", "operational"])
        }
    assert sum(count for count, _ in new_side.values()) > 0

    with pytest.raises(CleanupRefused, match="unmapped legacy tables hold rows: action.fact_games: 12 rows"):
        support.run_cleanup(fresh_dsn, support.settings_for(tmp_path, disposable=()))
    settings = support.settings_for(tmp_path, disposable=support.UNMAPPED)
    report = support.run_cleanup(fresh_dsn, settings)
    assert len(report.dropped_schemas) == 8

    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        assert live_catalog.existing_schemas(conn, LEGACY_SCHEMAS) == ["public"]
        validations = conn.execute(
            "SELECT count(*) FROM public.migration_log WHERE step = 'validate' AND status = 'passed'"
        ).fetchone()
        assert validations is not None and validations[0] >= 14
        assert {t: table_fingerprint(conn, t) for t in new_side} == new_side

    result = run_restore(fresh_dsn, settings)
    assert result.restored
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        assert support.legacy_shape(conn) == shape
        assert support.legacy_fingerprints(conn) == rows
        assert {t: table_fingerprint(conn, t) for t in new_side} == new_side
