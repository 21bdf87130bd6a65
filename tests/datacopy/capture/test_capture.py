"""Change capture (issue 12 part 1) on a real PostgreSQL running wal_level=logical.

Changes made by a live writer DURING the first copy and after it arrive by key (the report
says `capture` and that no full reconcile was needed: the validation passed right after the
keyed apply); kill -9 between applying and advancing the slot loses and duplicates nothing;
phase 2: an application row survives a capture-applied legacy delete and update; the origin
keeps our own writes out of the slot's output.
"""

import os
import subprocess
import sys
import threading
import time
from functools import partial

import psycopg
import pytest
import queries
from test_replica_identity import whole_table_passes

from catalog.legacy import legacy_table
from data_copy import api
from data_copy.capture import slot as capture_slot
from data_copy.settings import Settings
from data_copy.sync import settle

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ML = "core_betting.betting_lines_moneyline"
LEGACY_ML = "mlb_betting.moneyline"
SP = "core_betting.betting_lines_spreads"
LEGACY_SP = "mlb_betting.spreads"


q = partial(queries.q, flushed=True)  # committed is flushed: the slot can see it at once


def content_md5(dsn: str, table: str, legacy: str) -> str:
    """An independent checksum of a betting-lines table in its legacy columns (text form,
    ordered by id): no projection and no hash function of data_copy's."""
    cols = ", ".join(f'CAST("{c.name}" AS {c.type}) AS "{c.name}"' for c in legacy_table(legacy).columns)
    return q(dsn, f"SELECT md5(string_agg(x::text, '|' ORDER BY x.id)) FROM (SELECT {cols} FROM {table}) AS x")[0][0]  # noqa: S608


def same_as_legacy(dsn: str) -> None:
    for table, legacy in ((ML, LEGACY_ML), (SP, LEGACY_SP)):
        assert q(dsn, f"SELECT count(*), count(DISTINCT id) FROM {table}") == q(  # noqa: S608
            dsn,
            f"SELECT count(*), count(DISTINCT id) FROM {legacy}",  # noqa: S608
        ), table
        assert content_md5(dsn, table, legacy) == content_md5(dsn, legacy, legacy), table


def change_lines(dsn: str, legacy: str, n: int, salt: int) -> set[int]:
    """n inserts, n updates (updated_at left alone: no watermark can see them), n deletes;
    the keys touched."""
    ids = [
        r[0]
        for r in q(dsn, f"SELECT id FROM {legacy} ORDER BY hashint4(id + %s) LIMIT %s", salt, 2 * n)  # noqa: S608
    ]
    updated, deleted = ids[:n], ids[n:]
    q(dsn, f"UPDATE {legacy} SET sportsbook = left(sportsbook, 10) || '*' WHERE id = ANY(%s)", updated)  # noqa: S608
    q(dsn, f"DELETE FROM {legacy} WHERE id = ANY(%s)", deleted)  # noqa: S608
    inserted = [
        r[0]
        for r in q(
            dsn,
            f"INSERT INTO {legacy} (id, game_id, sportsbook, odds_timestamp)"  # noqa: S608
            f" SELECT (SELECT max(id) FROM {legacy}) + g, (SELECT min(game_id) FROM {legacy}), 'NEW',"
            " now() + g * interval '1 second'"
            " FROM generate_series(1, %s) AS g RETURNING id",
            n,
        )
    ]
    return set(updated) | set(deleted) | set(inserted)


def mode(report: api.RunReport, name: str) -> str:
    return report.capture[name]["mode"]


def test_changes_during_the_first_copy_and_after_arrive_by_key(small_legacy: str) -> None:
    stop = threading.Event()
    written = {"ins": 0, "upd": 0, "del": 0}

    def writer() -> None:
        with psycopg.connect(small_legacy, autocommit=True) as conn:
            conn.execute("SET synchronous_commit = on")
            n = 0
            while not stop.is_set():
                n += 1
                conn.execute(
                    f"INSERT INTO {LEGACY_ML} (id, game_id, sportsbook, odds_timestamp)"  # noqa: S608
                    f" SELECT max(id) + 1, min(game_id), 'LIVE', now() FROM {LEGACY_ML}"
                )
                written["ins"] += 1
                written["upd"] += conn.execute(
                    f"UPDATE {LEGACY_ML} SET home_ml = coalesce(home_ml, 0) + 1"  # noqa: S608
                    f" WHERE id = (SELECT min(id) + %s FROM {LEGACY_ML})",
                    (n * 7,),
                ).rowcount
                written["del"] += conn.execute(
                    f"DELETE FROM {LEGACY_ML} WHERE id = (SELECT min(id) + %s FROM {LEGACY_ML})",  # noqa: S608
                    (n * 13,),
                ).rowcount
                time.sleep(0.01)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        first = api.run(small_legacy)  # the slot is created before the first chunk
    finally:
        time.sleep(0.5)
        stop.set()
        thread.join()
    assert first.ok, [r.message for r in first.results if r.message]
    assert written["ins"] > 20 and written["upd"] > 20 and written["del"] > 20, written
    # changes committed after the slot was created were applied by key in the first run,
    # and the validation right after passed without a full reconcile
    assert mode(first, "moneyline") == "capture" and first.capture["moneyline"]["keys"] > 0, first.capture
    second = api.run(small_legacy)  # everything the writer did after moneyline's settle
    assert second.ok, [r.message for r in second.results if r.message]
    assert mode(second, "moneyline") == "capture" and second.capture["moneyline"]["keys"] > 0, second.capture
    same_as_legacy(small_legacy)
    # after: a mix of inserts, updates and deletes on two tables, exact key counts
    touched_ml = change_lines(small_legacy, LEGACY_ML, 30, 1)
    touched_sp = change_lines(small_legacy, LEGACY_SP, 20, 2)
    third = api.run(small_legacy)
    assert third.ok, [r.message for r in third.results if r.message]
    assert third.capture["moneyline"] == {"mode": "capture", "keys": len(touched_ml)}
    assert third.capture["spreads"] == {"mode": "capture", "keys": len(touched_sp)}
    assert third.capture["totals"] == {"mode": "capture", "keys": 0}
    same_as_legacy(small_legacy)
    assert all(r.status == "passed" for r in api.validate(small_legacy))
    # the buffer keeps nothing every Part has applied; the slot is at our position
    assert q(small_legacy, "SELECT count(*) FROM public.migration_capture_changes") == [(0,)]
    slot = capture_slot.slot_name(q(small_legacy, "SELECT current_database()")[0][0])
    assert q(
        small_legacy,
        "SELECT s.confirmed_flush_lsn = c.pulled_lsn FROM pg_replication_slots s"
        " JOIN public.migration_capture c ON c.slot = s.slot_name WHERE s.slot_name = %s",
        slot,
    ) == [(True,)]


KILL = """
import os, signal, sys
from data_copy import api
from data_copy.capture import slot as capture_slot
from data_copy.capture import stream
from data_copy.sync import change_apply
where, applied = sys.argv[2], []
sync, advance = change_apply.sync, stream.advance
def sync_and_note(conn, copier, cap, m, part_list):
    written = sync(conn, copier, cap, m, part_list)
    if m.name == "moneyline" and cap is not None and cap.applied.get("moneyline"):
        applied.append(m.name)
    return written
def advance_or_die(conn, cap):
    behind = conn.execute(
        "SELECT s.confirmed_flush_lsn < c.pulled_lsn FROM pg_replication_slots s"
        " JOIN public.migration_capture c ON c.slot = s.slot_name WHERE s.slot_name = %s", (cap.slot,)
    ).fetchone()[0]
    if where == "after-apply" and applied or where == "after-pull" and behind:
        os.kill(os.getpid(), signal.SIGKILL)
    advance(conn, cap)
change_apply.sync, stream.advance = sync_and_note, advance_or_die
api.run(sys.argv[1])
"""


def _applied(dsn: str, part: str, table: str) -> bool:
    """The Part's recorded position is past every buffered change of its legacy table."""
    return q(
        dsn,
        "SELECT p.lsn >= (SELECT max(lsn) FROM public.migration_capture_changes WHERE tbl = %s)"
        " FROM public.migration_capture_positions p WHERE p.part = %s",
        table,
        part,
    )[0][0]


@pytest.mark.parametrize("where", ["after-pull", "after-apply"])
def test_kill_9_before_the_slot_advances_loses_and_duplicates_nothing(tiny_synced: str, where: str) -> None:
    """after-pull: the changed keys and pulled_lsn are committed, the slot is behind them;
    after-apply: moneyline's changes and its position are committed, the slot not advanced."""
    dsn = tiny_synced
    touched = change_lines(dsn, LEGACY_ML, 10, 3)
    proc = subprocess.run([sys.executable, "-c", KILL, dsn, where], cwd=ROOT, capture_output=True, timeout=600)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    slot = capture_slot.slot_name(q(dsn, "SELECT current_database()")[0][0])
    behind = q(
        dsn,
        "SELECT s.confirmed_flush_lsn < c.pulled_lsn FROM pg_replication_slots s"
        " JOIN public.migration_capture c ON c.slot = s.slot_name WHERE s.slot_name = %s",
        slot,
    )
    if where == "after-pull":
        assert behind == [(True,)]
        assert q(dsn, "SELECT count(DISTINCT k) FROM public.migration_capture_changes") == [(len(touched),)]
        assert not _applied(dsn, "moneyline", LEGACY_ML)
    else:  # killed in the window: moneyline already has the changes, its position recorded
        assert _applied(dsn, "moneyline", LEGACY_ML)
        assert content_md5(dsn, ML, LEGACY_ML) == content_md5(dsn, LEGACY_ML, LEGACY_ML)
        # the slot may still hold our applied writes to the new table, under our origin: the
        # phases' view of "someone else wrote the new table" leaves them out
        with psycopg.connect(dsn, autocommit=True) as conn:
            assert capture_slot.foreign_writes(conn, Settings(), [ML]) == {}
    again = api.run(dsn)
    assert again.ok, [r.message for r in again.results if r.message]
    assert mode(again, "moneyline") == "capture"
    assert again.capture["moneyline"]["keys"] == (len(touched) if where == "after-pull" else 0)
    same_as_legacy(dsn)
    assert all(r.status == "passed" for r in api.validate(dsn))
    # the application's own write to the new table is seen as someone else's
    q(dsn, f"UPDATE {ML} SET home_ml = 4242 WHERE id = (SELECT min(id) FROM {ML})")  # noqa: S608
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert capture_slot.foreign_writes(conn, Settings(), [ML]) == {ML: 1}


def test_phase2_application_rows_survive_a_capture_applied_legacy_delete_and_update(tiny_synced: str) -> None:
    dsn = tiny_synced
    api.switch(dsn, Settings())
    a, b, d = (r[0] for r in q(dsn, f"SELECT id FROM {ML} ORDER BY id LIMIT 3"))  # noqa: S608
    q(dsn, f"UPDATE {ML} SET home_ml = 1001 WHERE id = ANY(%s)", [a, b])  # noqa: S608 - the application
    created = q(
        dsn,
        f"INSERT INTO {ML} (game_id, sportsbook, home_ml, odds_timestamp)"  # noqa: S608
        f" SELECT min(game_id), 'APP', 5, now() FROM {ML} RETURNING id",
    )[0][0]
    q(dsn, f"DELETE FROM {LEGACY_ML} WHERE id = ANY(%s)", [a, d])  # noqa: S608 - old code
    q(dsn, f"UPDATE {LEGACY_ML} SET home_ml = 2002 WHERE id = %s", b)  # noqa: S608
    report = api.run(dsn)
    assert report.capture["moneyline"]["mode"].startswith("capture") and report.capture["moneyline"]["keys"] == 3
    rows = dict(q(dsn, f"SELECT id, home_ml FROM {ML} WHERE id = ANY(%s)", [a, b, d, created]))  # noqa: S608
    assert rows == {a: 1001, b: 1001, created: 5}  # d (ours, untouched) went with legacy; a, b stay
    moneyline = next(r for r in report.results if r.name == "moneyline")
    assert moneyline.figures["conflicts"] == 2, moneyline.figures  # b changed on both sides, a deleted/changed


def test_a_table_without_primary_key_is_keyed_by_its_new_rows_and_its_deletes_found_by_an_anti_join(
    tiny_synced: str,
) -> None:
    dsn, raw, legacy = tiny_synced, "raw_data.raw_mlb_betting_splits", "splits.raw_mlb_betting_splits"
    a, b, c = (r[0] for r in q(dsn, f"SELECT id FROM {legacy} ORDER BY id LIMIT 3"))  # noqa: S608
    q(dsn, f"UPDATE {legacy} SET home_or_over_bets = 4321 WHERE id = ANY(%s)", [a, b])  # noqa: S608 - no updated_at
    q(
        dsn,
        f"INSERT INTO {legacy} (id, game_id, split_type, updated_at)"  # noqa: S608
        f" SELECT max(id) + 1, min(game_id), 'moneyline', now() FROM {legacy}",
    )
    report = api.run(dsn)
    assert report.ok, [r.message for r in report.results if r.message]
    assert report.capture["raw_betting_splits"] == {"mode": "capture", "keys": 3}
    said = [n for n in report.notes if legacy in n]
    assert said == [
        f"change capture: {legacy}: its deletes carry no id (no primary key on it): a run after a change there"
        " finds deleted rows by one anti-join"
    ]
    assert q(dsn, f"SELECT count(*) FROM {raw} WHERE home_or_over_bets = 4321") == [(2,)]  # noqa: S608
    moved = q(dsn, f"SELECT max(id) + 100 FROM {legacy}")[0][0]  # noqa: S608
    q(dsn, f"DELETE FROM {legacy} WHERE id = %s", a)  # noqa: S608 - printed without a key
    q(dsn, f"UPDATE {legacy} SET id = %s WHERE id = %s", moved, c)  # noqa: S608 - printed as the new row only
    report = api.run(dsn)
    assert report.ok, [r.message for r in report.results if r.message]
    assert report.capture["raw_betting_splits"] == {"mode": "capture", "keys": 1}  # the moved row's new key
    assert q(dsn, f"SELECT count(*) FROM {raw} WHERE id = ANY(%s)", [a, c]) == [(0,)]  # noqa: S608
    assert q(dsn, f"SELECT count(*) FROM {raw} WHERE id = %s", moved) == [(1,)]  # noqa: S608
    assert q(dsn, f"SELECT count(*) FROM {raw}") == q(dsn, f"SELECT count(*) FROM {legacy}")  # noqa: S608


def test_a_key_changed_by_an_update_alone_on_a_table_without_primary_key_is_found(
    tiny_synced: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No delete in the stream: the update printed only the new row, and the new key is in
    neither the new table nor an earlier insert, so the run finds the old key's row by the
    anti-join. Updates in place, and an insert updated in the same sync, need no such pass
    (change_apply._moved: the updated keys looked up by the new table's index)."""
    dsn, raw, legacy = tiny_synced, "raw_data.raw_mlb_betting_splits", "splits.raw_mlb_betting_splits"
    passes = whole_table_passes(monkeypatch)  # splits' guarded deletes: whole table or not
    a, b = (r[0] for r in q(dsn, f"SELECT id FROM {legacy} ORDER BY id LIMIT 2"))  # noqa: S608
    new = q(dsn, f"SELECT max(id) + 1 FROM {legacy}")[0][0]  # noqa: S608
    q(dsn, f"UPDATE {legacy} SET home_or_over_bets = 4321 WHERE id = %s", a)  # noqa: S608
    q(dsn, f"INSERT INTO {legacy} (id, game_id, split_type) SELECT %s, min(game_id), 'moneyline' FROM {legacy}", new)  # noqa: S608
    q(dsn, f"UPDATE {legacy} SET home_or_over_bets = 1234 WHERE id = %s", new)  # noqa: S608
    assert api.run(dsn).ok
    assert True not in passes, passes  # in place, or inserted first: nothing moved
    assert q(dsn, f"SELECT home_or_over_bets FROM {raw} WHERE id = ANY(%s) ORDER BY id", [a, new]) == [(4321,), (1234,)]  # noqa: S608

    moved = new + 100
    q(dsn, f"UPDATE {legacy} SET id = %s WHERE id = %s", moved, b)  # noqa: S608 - printed as the new row only
    report = api.run(dsn)
    assert report.ok, [r.message for r in report.results if r.message]
    assert True in passes, passes  # the old key's row found by the anti-join
    assert report.capture["raw_betting_splits"]["mode"] == "capture"  # not by the settle's full reconcile
    assert q(dsn, f"SELECT count(*) FROM {raw} WHERE id = %s", b) == [(0,)]  # noqa: S608
    assert q(dsn, f"SELECT count(*) FROM {raw} WHERE id = %s", moved) == [(1,)]  # noqa: S608
    assert q(dsn, f"SELECT count(*) FROM {raw}") == q(dsn, f"SELECT count(*) FROM {legacy}")  # noqa: S608


def test_a_change_committed_but_not_yet_flushed_is_applied_by_the_run_whose_snapshot_sees_it(
    tiny_synced: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """synchronous_commit=off (the application's choice) makes a commit visible before its
    WAL is flushed, and a slot decodes flushed WAL only. The application commits so right
    before the moneyline settle (after the marker, which flushes on PostgreSQL 15), and the
    WAL writer is slowed to 10 s so that the gap lasts: the settle must flush what its
    snapshot sees. Without the flush (wal_flush.Flusher) this run reported ok with the row stale:
    its incremental validation re-hashes the changed keys only, and this one it never read."""
    dsn = tiny_synced
    key = q(dsn, f"SELECT min(id) FROM {LEGACY_ML}")[0][0]  # noqa: S608
    app = psycopg.connect(dsn, autocommit=True)
    app.execute("SET synchronous_commit = off")
    unflushed = []
    settle_mapping = settle.settle

    def the_application_commits_then_settle(conn, copier, m, *args, **kwargs):
        if m.name == "moneyline":  # after the marker, before the settle's snapshot
            app.execute(f"UPDATE {LEGACY_ML} SET home_ml = coalesce(home_ml, 0) + 1000 WHERE id = %s", (key,))  # noqa: S608
            head, flushed = app.execute("SELECT pg_current_wal_insert_lsn(), pg_current_wal_flush_lsn()").fetchone()
            unflushed.append(flushed < head)
        return settle_mapping(conn, copier, m, *args, **kwargs)

    monkeypatch.setattr(settle, "settle", the_application_commits_then_settle)
    q(dsn, "ALTER SYSTEM SET wal_writer_delay = '10s'")
    q(dsn, "SELECT pg_reload_conf()")
    try:
        time.sleep(0.5)  # the WAL writer's current sleep (200 ms) ends and it reads the new delay
        report = api.run(dsn, incremental=True)
    finally:
        app.close()
        q(dsn, "ALTER SYSTEM RESET wal_writer_delay")
        q(dsn, "SELECT pg_reload_conf()")
    assert unflushed == [True]  # visible, and not yet decodable
    assert report.ok, [r.message for r in report.results if r.message]
    assert mode(report, "moneyline") == "capture", report.capture  # no full reconcile was needed
    assert q(dsn, f"SELECT home_ml FROM {ML} WHERE id = %s", key) == q(  # noqa: S608
        dsn,
        f"SELECT home_ml FROM {LEGACY_ML} WHERE id = %s",  # noqa: S608
        key,
    )
    same_as_legacy(dsn)


def test_an_update_beside_an_unchanged_toasted_value_keeps_that_value(tiny_synced: str) -> None:
    """The slot prints `unchanged-toast-datum` for a TOASTed value an UPDATE did not change
    (sbr_raw_html's HTML): the sync takes the row from legacy by its key, so the 1 MB value
    arrives whole, never as that literal."""
    dsn = tiny_synced
    row_id = q(dsn, "SELECT min(id) FROM public.sbr_raw_html")[0][0]
    html = "<html>" + "".join(f"<p>{i} {'x' * 40}</p>" for i in range(20_000)) + "</html>"  # about 1 MB
    q(dsn, "UPDATE public.sbr_raw_html SET html_content = %s WHERE id = %s", html, row_id)
    assert api.run(dsn).ok
    q(dsn, "UPDATE public.sbr_raw_html SET status = 'reparsed' WHERE id = %s", row_id)  # the HTML stays
    slot = capture_slot.slot_name(q(dsn, "SELECT current_database()")[0][0])
    printed = q(
        dsn,
        "SELECT count(*) FROM pg_logical_slot_peek_changes(%s, NULL, NULL) WHERE data LIKE %s",
        slot,
        "%html_content[text]:unchanged-toast-datum%",
    )
    assert printed == [(1,)]  # the slot does not carry the value
    report = api.run(dsn, incremental=True)
    assert report.ok, [r.message for r in report.results if r.message]
    assert mode(report, "sbr_raw_html") == "capture"
    target = "SELECT legacy_status, md5(response_html), length(response_html) FROM raw_data.sbr_raw_html WHERE id = %s"
    assert q(dsn, target, row_id) == [("reparsed", q(dsn, "SELECT md5(%s)", html)[0][0], len(html))]
