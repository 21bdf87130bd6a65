"""The owners' opt-in REPLICA IDENTITY FULL (consolidation:replicaIdentityFull) on a real
PostgreSQL: `plan` names it first; a run sets it (under lock_timeout, retried) and records
what the table had; a keyless table's deletes then carry their key, so the sync deletes
their rows by key, with no pass over the whole legacy table (without it, that pass runs);
`rollback` and `capture-drop` put the table's replica identity back."""

from __future__ import annotations

import pytest
from lock_holding import Held, Pauses, short_pauses
from queries import q

from data_copy import api
from data_copy.settings import Settings
from data_copy.sync import gone_rows

SPLITS = "splits.raw_mlb_betting_splits"
TARGET = "raw_data.raw_mlb_betting_splits"


@pytest.fixture(autouse=True)
def pauses(monkeypatch: pytest.MonkeyPatch) -> Pauses:
    return short_pauses(monkeypatch)


def identity(dsn: str) -> str:
    return q(dsn, "SELECT relreplident FROM pg_class WHERE oid = to_regclass(%s)", SPLITS)[0][0]


def whole_table_passes(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, for every guarded delete of rows gone, whether it read the whole table."""
    seen: list[bool] = []
    real = gone_rows.delete

    def spy(conn, part, legacy_condition, target_keys, whole_table, mark):  # noqa: ANN001, ANN202
        if part.source_table == SPLITS:
            seen.append(whole_table)
        return real(conn, part, legacy_condition, target_keys, whole_table, mark)

    monkeypatch.setattr(gone_rows, "delete", spy)
    return seen


def delete_some(dsn: str, n: int = 7) -> list[int]:
    return [
        r[0]
        for r in q(
            dsn,
            f"DELETE FROM {SPLITS} WHERE id IN (SELECT id FROM {SPLITS} WHERE id IS NOT NULL ORDER BY id LIMIT {n})"
            " RETURNING id",
        )
    ]


def test_keyless_deletes_carry_their_key_and_the_opt_in_is_undone(
    small_legacy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(replica_identity_full=(SPLITS,))
    before = identity(small_legacy)
    assert before != "f"
    lines = api.phase_plan(small_legacy, settings)
    assert any(f"{SPLITS}: REPLICA IDENTITY" in line and "-> FULL" in line for line in lines)
    assert identity(small_legacy) == before  # plan changes nothing

    assert api.run(small_legacy, settings).ok
    assert identity(small_legacy) == "f"
    assert q(small_legacy, "SELECT tbl, original FROM public.migration_replica_identity") == [(SPLITS, before)]

    passes = whole_table_passes(monkeypatch)
    gone = delete_some(small_legacy)
    report = api.run(small_legacy, settings, incremental=True)
    assert report.ok, [r.message for r in report.results if r.status != "passed"]
    assert True not in passes  # deleted by key: no pass over the whole legacy table
    assert q(small_legacy, f"SELECT count(*) FROM {TARGET} WHERE id = ANY(%s)", gone) == [(0,)]

    assert api.capture_drop(small_legacy, settings)
    assert identity(small_legacy) == before
    assert q(small_legacy, "SELECT count(*) FROM public.migration_replica_identity") == [(0,)]


def test_without_the_opt_in_the_keyless_deletes_need_one_pass(
    small_legacy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control of the test above: the spy sees the pass when the deletes carry no key."""
    assert api.run(small_legacy).ok
    passes = whole_table_passes(monkeypatch)
    gone = delete_some(small_legacy)
    report = api.run(small_legacy, incremental=True)
    assert report.ok
    assert True in passes
    assert q(small_legacy, f"SELECT count(*) FROM {TARGET} WHERE id = ANY(%s)", gone) == [(0,)]


def test_set_under_lock_timeout_retried_and_undone_by_rollback(small_legacy: str, pauses: Pauses) -> None:
    """The application holding a lock on the table: the ALTER waits lock_timeout, is
    refused, retried, and made once the lock goes. A rollback to phase 1 puts it back."""
    settings = Settings(replica_identity_full=(SPLITS,), lock_timeout="100ms")
    held = Held(small_legacy, SPLITS, "ACCESS SHARE")
    pauses.then = lambda: held.release_after(0.3)
    try:
        assert api.run(small_legacy, settings).ok
    finally:
        held.close()
    assert pauses.seen  # refused at least once
    assert identity(small_legacy) == "f"
    api.switch(small_legacy, settings)
    done = api.rollback(small_legacy, settings)
    assert any(f"{SPLITS}: REPLICA IDENTITY" in line and "again" in line for line in done.lines)
    assert identity(small_legacy) != "f"
