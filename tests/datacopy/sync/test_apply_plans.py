"""How a sync's statements are planned, on a real PostgreSQL whose statistics lag our
bookkeeping tables' writes (autovacuum analyzes them later, or never inside a long
`--follow`): only the upserts probe by nested loops (core/planner.py); the statements that
join our own tables (the dirty marks, the buffered changes, the baseline) hash, so a stale
estimate of one row cannot turn them into a loop over both sides. Measured at large
before the fix: the marks of 10,267 deleted keys took 136.8 s, and each of three
betting-line deletes 4.6 s (its baseline clean-up ran 40M comparisons)."""

from __future__ import annotations

import time

from queries import q

from data_copy import api
from data_copy.settings import Settings

SPLITS = "splits.raw_mlb_betting_splits"
OURS = ("migration_capture_changes", "migration_dirty_keys")


def rows_read(dsn: str) -> int:
    """Rows of our change buffer and dirty marks read so far, once every data_copy backend
    has ended (a backend flushes its counters as it exits)."""
    for _ in range(100):
        if not q(dsn, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'data_copy%%'")[0][0]:
            break
        time.sleep(0.05)
    q(dsn, "SELECT pg_stat_clear_snapshot()")
    row = q(
        dsn,
        "SELECT sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)) FROM pg_stat_user_tables"
        " WHERE schemaname = 'public' AND relname = ANY(%s)",
        list(OURS),
    )
    return int(row[0][0] or 0)


def stale(dsn: str) -> None:
    """Our tables' statistics as the planner found them at large: a page in a thousand
    holding a row (analyzed between two runs, which empty the buffer; and a buffered
    position range always lies past the lsn histogram). Autovacuum kept off them."""
    for table in (*OURS, "migration_owned_rows"):
        q(dsn, f"ALTER TABLE public.{table} SET (autovacuum_enabled = off)")
        q(dsn, "UPDATE pg_class SET reltuples = 1, relpages = 1000 WHERE oid = to_regclass(%s)", f"public.{table}")


def stale_sync_reads(dsn: str, settings: Settings) -> int:
    """`run --incremental` on stale statistics (`stale`), passing: the rows of our buffer
    and marks it read."""
    stale(dsn)
    before = rows_read(dsn)
    report = api.run(dsn, settings, incremental=True)
    assert report.ok, [r.message for r in report.results if r.message]
    return rows_read(dsn) - before


def test_a_syncs_joins_of_our_tables_hash_when_their_statistics_are_stale(small_legacy: str) -> None:
    dsn = small_legacy
    settings = Settings(replica_identity_full=(SPLITS,))  # the deletes carry their key: marked gone by key
    assert api.run(dsn, settings).ok
    q(dsn, f"UPDATE {SPLITS} SET book = 'B' WHERE id IN (SELECT id FROM {SPLITS} ORDER BY id LIMIT 3000)")  # noqa: S608
    q(dsn, f"DELETE FROM {SPLITS} WHERE id IN (SELECT id FROM {SPLITS} ORDER BY id DESC LIMIT 1500)")  # noqa: S608
    read = stale_sync_reads(dsn, settings)
    # measured: 0.32M rows (each part's statements scan the 4,500 buffered changes, all
    # estimated as one row); 5.9M with the marks of the 1,500 gone keys joined to the
    # buffer by a nested loop (the buffer read once per mark)
    assert read < 1_000_000, read


def test_a_both_ways_syncs_joins_of_our_tables_hash_when_their_statistics_are_stale(phase2: str) -> None:
    """The same in phase 2, carrying the application's writes back (its statements keep
    nested loops: planner.keyed in both_ways.carry): legacy's changes and the
    application's, on the same stale statistics. Measured 0.31M rows read, before c8e0e4a
    too: a guard for carry-back's statements, which hashed already."""
    dsn = phase2
    back = Settings(carry_back=("moneyline",))
    legacy, new = "mlb_betting.moneyline", "core_betting.betting_lines_moneyline"
    q(
        dsn,  # 300 legacy rows become 18,300
        f"INSERT INTO {legacy} (game_id, sportsbook, odds_timestamp)"  # noqa: S608
        f" SELECT game_id, sportsbook, now() FROM {legacy}, generate_series(1, 60)",
    )
    assert api.run(dsn, back, incremental=True).ok  # brought over; carry-back's first look
    q(dsn, f"UPDATE {legacy} SET away_ml = -5 WHERE id IN (SELECT id FROM {legacy} ORDER BY id LIMIT 2000)")  # noqa: S608
    q(dsn, f"UPDATE {new} SET home_ml = 77 WHERE id IN (SELECT id FROM {new} ORDER BY id DESC LIMIT 2000)")  # noqa: S608
    q(dsn, f"DELETE FROM {legacy} WHERE id IN (SELECT id FROM {legacy} ORDER BY id DESC OFFSET 3000 LIMIT 500)")  # noqa: S608
    read = stale_sync_reads(dsn, back)
    assert read < 1_000_000, read
