"""Columns of a new table no mapping writes (raw_data.sbr_parsed_games.data_quality, ...):
only the application fills them, so a row it changed only there is its own. On a real
PostgreSQL: in phase 2 legacy's delete or update of such a row is a listed conflict and
the row stays as the application left it (it was deleted, or its legacy change applied,
with "passed"); in phase 1 such a change to a row data_copy recorded stops the run, named;
a baseline recorded before data_copy kept the unmapped hash gets it once, and protects; a
rollback keeps those values where they are, and phase 1 runs on."""

from __future__ import annotations

import pytest
from test_phases import q, result

from data_copy import api
from data_copy.errors import ForeignRows
from data_copy.settings import Settings
from data_copy.state.schema import OWNED

PARSED = "raw_data.sbr_parsed_games"


def _keys(dsn: str, n: int) -> list[int]:
    return [r[0] for r in q(dsn, f"SELECT id FROM {PARSED} ORDER BY id LIMIT %s", n)]  # noqa: S608


def _row(dsn: str, key: int) -> tuple | None:
    rows = q(dsn, f"SELECT legacy_status, data_quality FROM {PARSED} WHERE id = %s", key)  # noqa: S608
    return rows[0] if rows else None


def _conflicts(dsn: str) -> set[tuple[str, str]]:
    rows = q(dsn, "SELECT k, kind FROM migration_conflicts WHERE part = 'sbr_parsed_games' AND resolved_at IS NULL")
    return {(k, kind) for k, kind in rows}


def _legacy_changes(dsn: str, updated: int, deleted: int) -> None:
    q(dsn, "UPDATE public.sbr_parsed_games SET status = 'legacy-2' WHERE id = %s", updated)
    q(dsn, "DELETE FROM public.sbr_parsed_games WHERE id = %s", deleted)


def test_phase2_legacy_never_deletes_nor_overwrites_a_row_the_application_changed_only_in_unmapped_columns(
    phase2: str,
) -> None:
    changed, deleted, only_app, untouched = _keys(phase2, 4)
    before, before_deleted = _row(phase2, changed), _row(phase2, deleted)
    assert before is not None and before_deleted is not None
    q(phase2, f"UPDATE {PARSED} SET data_quality = 'HIGH' WHERE id = ANY(%s)", [changed, deleted, only_app])  # noqa: S608
    _legacy_changes(phase2, changed, deleted)
    q(phase2, "UPDATE public.sbr_parsed_games SET status = 'legacy-2' WHERE id = %s", untouched)

    for _ in range(2):  # and again: nothing of it is undone later
        report = api.run(phase2)
        assert report.ok, [r.message for r in report.results if r.message]
        assert result(report, "sbr_parsed_games").figures["conflicts"] == 2
        assert _row(phase2, deleted) == (before_deleted[0], "HIGH")  # never deleted
        assert _row(phase2, changed) == (before[0], "HIGH")  # keep-new: the application's version stays
        assert _row(phase2, only_app)[1] == "HIGH"  # legacy did not touch it: no conflict
        assert _row(phase2, untouched)[0] == "legacy-2"  # a row only legacy changed still follows it
        assert _conflicts(phase2) == {
            (str(changed), "conflict_both_changed"),
            (str(deleted), "conflict_changed_deleted"),
        }


def test_phase1_a_change_only_in_unmapped_columns_of_a_recorded_row_stops_the_run_and_is_kept(
    tiny_synced: str,
) -> None:
    key = _keys(tiny_synced, 1)[0]
    q(tiny_synced, "UPDATE public.sbr_parsed_games SET status = 'legacy-2' WHERE id = %s", key)
    assert api.run(tiny_synced).ok  # legacy's change written and recorded, with its unmapped hash
    assert q(tiny_synced, "SELECT count(*) FROM migration_owned_rows WHERE part = 'sbr_parsed_games'") == [(1,)]
    q(tiny_synced, f"UPDATE {PARSED} SET data_quality = 'HIGH' WHERE id = %s", key)  # noqa: S608
    q(tiny_synced, "DELETE FROM public.sbr_parsed_games WHERE id = %s", key)
    with pytest.raises(ForeignRows) as stop:
        api.run(tiny_synced)
    assert PARSED in stop.value.line() and "1 row(s)" in stop.value.line() and str(key) in stop.value.line()
    assert _row(tiny_synced, key) == ("legacy-2", "HIGH")


def test_a_baseline_recorded_without_unmapped_hashes_gets_them_once_and_is_protected(phase2: str) -> None:
    kept, deleted, gone = _keys(phase2, 3)
    q(phase2, f"DELETE FROM {PARSED} WHERE id = %s", gone)  # noqa: S608  (the application's delete)
    q(phase2, f"ALTER TABLE {OWNED.as_string()} DROP COLUMN u")  # as a database of the version before
    first = api.run(phase2)
    assert first.ok, [r.message for r in first.results if r.message]
    assert any("unmapped columns" in n and "1 whose row is gone" in n for n in first.notes), first.notes
    assert q(phase2, f"SELECT count(*) FROM {OWNED.as_string()} WHERE u IS NULL") == [(0,)]
    assert not any("unmapped" in n for n in api.run(phase2).notes)  # once

    q(phase2, f"UPDATE {PARSED} SET data_quality = 'HIGH' WHERE id = ANY(%s)", [kept, deleted])  # noqa: S608
    _legacy_changes(phase2, kept, deleted)
    report = api.run(phase2)
    assert report.ok and result(report, "sbr_parsed_games").figures["conflicts"] == 2
    assert _row(phase2, deleted) is not None and _row(phase2, deleted)[1] == "HIGH"
    assert _row(phase2, kept)[1] == "HIGH" and _row(phase2, kept)[0] != "legacy-2"
    assert _row(phase2, gone) is None  # the application's delete stays


def test_a_rollback_keeps_what_only_the_new_table_holds_and_phase_1_runs_on(phase2: str) -> None:
    key = _keys(phase2, 1)[0]
    q(phase2, f"UPDATE {PARSED} SET data_quality = 'HIGH' WHERE id = %s", key)  # noqa: S608
    assert api.run(phase2).ok
    api.rollback(phase2, Settings())  # nothing of it can go back: legacy has no such column
    q(phase2, "UPDATE public.sbr_parsed_games SET status = 'legacy-2' WHERE id = %s", key)
    report = api.run(phase2)  # phase 1: not a foreign row, and legacy's change arrives
    assert report.ok, [r.message for r in report.results if r.message]
    assert _row(phase2, key) == ("legacy-2", "HIGH")
