"""Phase 2's incremental validation (validation/phase_check.py) on a real PostgreSQL: after a
full three-way check passed in phase 2, `run --incremental` classifies only the keys written
since (legacy's changes applied, the application's carried back) and the open conflicts,
and still finds every conflict and every change left to bring over; after a phase change
the first check is full again, in either phase."""

from __future__ import annotations

import json
import time

import psycopg
from test_both_ways import conflicts, ids
from test_phases import LEGACY_ML, ML, app_insert_ml, q, result

from data_copy import api
from data_copy.capture import wal_flush
from data_copy.settings import Settings


def last_validation(dsn: str, mapping: str = "moneyline") -> dict:
    rows = q(
        dsn,
        "SELECT details FROM migration_log WHERE step = 'validate' AND mapping = %s ORDER BY id DESC LIMIT 1",
        mapping,
    )
    details = rows[0][0]
    return details if isinstance(details, dict) else json.loads(details)


def away(dsn: str, table: str, key: int) -> int:
    return q(dsn, f"SELECT away_ml FROM {table} WHERE id = %s", key)[0][0]  # noqa: S608


def test_after_a_full_check_only_the_written_keys_are_classified_and_conflicts_still_found(phase2: str) -> None:
    dsn = phase2
    first = api.run(dsn, incremental=True)
    assert first.ok and last_validation(dsn)["incremental"] is False  # the first check in phase 2 is full
    a, b, c, d = ids(dsn, ML, 4)
    q(dsn, f"UPDATE {LEGACY_ML} SET away_ml = -7 WHERE id = ANY(%s)", [a, b, c])  # noqa: S608
    q(dsn, f"UPDATE {ML} SET home_ml = 4242 WHERE id = ANY(%s)", [c, d])  # noqa: S608  c: both sides
    report = api.run(dsn, incremental=True)
    details = last_validation(dsn)
    assert details["incremental"] is True and details["verified_keys"] == 3, details
    assert away(dsn, ML, a) == away(dsn, ML, b) == -7  # legacy's changes came over
    assert conflicts(dsn) == {str(c)} and details["conflicts"] == 1, details
    assert away(dsn, ML, c) != -7  # the application's version of c kept
    assert report.ok, [r.message for r in report.results if r.message]
    # a passing check forgets the keys it checked: the next one looks at the new change and
    # the open conflict only
    q(dsn, f"UPDATE {LEGACY_ML} SET away_ml = -8 WHERE id = %s", a)  # noqa: S608
    assert api.run(dsn, incremental=True).ok
    assert last_validation(dsn)["verified_keys"] == 2 and away(dsn, ML, a) == -8
    # a full check counts every key the same way
    full = api.run(dsn)
    assert last_validation(dsn)["incremental"] is False
    assert result(full, "moneyline").figures["conflicts"] == 1 and result(full, "moneyline").figures["app_changed"] == 1


def test_an_open_conflict_the_application_undoes_is_rechecked_and_brought_over(phase2: str) -> None:
    """The application's own writes are not in the stream without carry-back: the open
    conflicts are classified in every incremental check, so a conflict the application
    resolves by restoring its row makes legacy's change come over."""
    dsn = phase2
    assert api.run(dsn).ok
    (c,) = ids(dsn, ML, 1)
    original = q(dsn, f"SELECT home_ml FROM {ML} WHERE id = %s", c)[0][0]  # noqa: S608
    q(dsn, f"UPDATE {LEGACY_ML} SET away_ml = -9 WHERE id = %s", c)  # noqa: S608
    q(dsn, f"UPDATE {ML} SET home_ml = 4343 WHERE id = %s", c)  # noqa: S608
    api.run(dsn)  # a full check: the conflict stays open, the marks start again (c is not among them)
    assert conflicts(dsn) == {str(c)}
    assert q(dsn, "SELECT count(*) FROM migration_dirty_keys WHERE part = 'moneyline'") == [(0,)]
    q(dsn, f"UPDATE {ML} SET home_ml = %s WHERE id = %s", original, c)  # noqa: S608 - the application undoes
    report = api.run(dsn, incremental=True)  # c is found still to bring over, and brought over
    assert report.ok, [r.message for r in report.results if r.message]
    assert away(dsn, ML, c) == -9 and conflicts(dsn) == set()


def test_with_carry_back_the_applications_keys_are_classified_too(phase2: str) -> None:
    dsn = phase2
    back = Settings(carry_back=("moneyline",))
    assert api.run(dsn, back, incremental=True).ok  # full, and carry-back's first look
    created = app_insert_ml(dsn, "APP")
    (changed,) = ids(dsn, ML, 1, 3)
    q(dsn, f"UPDATE {ML} SET home_ml = 5151 WHERE id = %s", changed)  # noqa: S608
    report = api.run(dsn, back, incremental=True)
    assert report.ok, [r.message for r in report.results if r.message]
    details = last_validation(dsn)
    assert details["incremental"] is True and details["verified_keys"] == 2, details
    assert details["in_sync"] == 2, details  # both went back: equal on both sides now
    assert q(dsn, f"SELECT home_ml FROM {LEGACY_ML} WHERE id = %s", changed) == [(5151,)]  # noqa: S608
    assert q(dsn, f"SELECT count(*) FROM {LEGACY_ML} WHERE id = %s", created) == [(1,)]  # noqa: S608


def test_after_a_rollback_the_first_incremental_run_in_phase_1_is_full(phase2: str) -> None:
    """Phase 1's incremental validation starts from the full one's stored chunks: the
    application's phase-2 rows (carried back by the rollback) are in neither, so the first
    one after the rollback re-reads every row, and its counts are today's."""
    dsn = phase2
    app_insert_ml(dsn, "APP")
    api.rollback(dsn, Settings())
    report = api.run(dsn, incremental=True)
    assert report.ok, [r.message for r in report.results if r.message]
    assert last_validation(dsn)["incremental"] is False
    counted = q(dsn, f"SELECT count(*) FROM {ML}")[0][0]  # noqa: S608
    assert result(report, "moneyline").target_count == counted
    again = api.run(dsn, incremental=True)  # from then on incremental again
    assert again.ok and last_validation(dsn)["incremental"] is True


def test_the_switchs_baseline_rows_are_not_in_the_next_slot_read(tiny_synced: str) -> None:
    """`switch` records every first-copied row in migration_owned_rows under our origin, so
    the next run's slot read (only-local) does not decode them (at large scale they were 83 s
    of the first phase-2 sync)."""
    dsn = tiny_synced
    api.switch(dsn, Settings())
    recorded = q(dsn, "SELECT count(*) FROM migration_owned_rows")[0][0]
    slot = q(dsn, "SELECT slot_name FROM pg_replication_slots WHERE database = current_database()")[0][0]
    with psycopg.connect(dsn) as conn:  # the switch's commit flushed (the slot decodes flushed WAL only)
        wal_flush.Flusher(conn).flush()
    lines = q(
        dsn,
        "SELECT count(*) FILTER (WHERE data LIKE 'table public.migration_owned_rows:%%'), count(*)"
        " FROM pg_logical_slot_peek_changes(%s, NULL, NULL, 'only-local', '1')",
        slot,
    )[0]
    assert recorded > 1000 and lines[0] == 0, (recorded, lines)


def _baseline_rows_read(dsn: str) -> int:
    """Rows of migration_owned_rows read so far (by scan or by index), once every data_copy
    backend has ended (a backend flushes its counters as it exits)."""
    for _ in range(100):
        if not q(dsn, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'data_copy%%'")[0][0]:
            break
        time.sleep(0.05)
    row = q(
        dsn,
        "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables"
        " WHERE relid = 'public.migration_owned_rows'::regclass",
    )
    return int(row[0][0])


def test_a_sync_of_a_few_keys_reads_their_baseline_rows_not_the_whole_part(phase2: str) -> None:
    """Each sync's statements over a batch of keys probe the baseline by key (planner.keyed):
    with the sessions' nested loops off, a phase-2 upsert of a few keys hashed every
    baseline row of its part (1M at large: a follow's sync took 4-5 s, lag p99 7 s)."""
    dsn = phase2
    back = Settings(carry_back=("moneyline",))
    q(  # a part big enough for the planner to care: 300 legacy rows become 18,300
        dsn,
        f"INSERT INTO {LEGACY_ML} (game_id, sportsbook, odds_timestamp)"  # noqa: S608
        f" SELECT game_id, sportsbook, now() FROM {LEGACY_ML}, generate_series(1, 60)",
    )
    assert api.run(dsn, back, incremental=True).ok  # brought over; the full check, carry-back's first look
    q(dsn, "ANALYZE migration_owned_rows")
    part_rows = q(dsn, "SELECT count(*) FROM migration_owned_rows WHERE part = 'moneyline'")[0][0]
    a, b, c, d = ids(dsn, ML, 4)
    q(dsn, f"UPDATE {LEGACY_ML} SET away_ml = -11 WHERE id = ANY(%s)", [a, b])  # noqa: S608
    q(dsn, f"UPDATE {ML} SET home_ml = 6161 WHERE id = ANY(%s)", [c, d])  # noqa: S608
    before = _baseline_rows_read(dsn)
    report = api.run(dsn, back, incremental=True)
    read = _baseline_rows_read(dsn) - before
    assert report.ok, [r.message for r in report.results if r.message]
    assert away(dsn, ML, a) == -11 and q(dsn, f"SELECT home_ml FROM {LEGACY_ML} WHERE id = %s", c) == [(6161,)]  # noqa: S608
    assert part_rows > 10_000 and read < part_rows / 10, (read, part_rows)
