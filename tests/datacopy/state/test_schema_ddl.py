"""Our tables' DDL (data_copy/state/schema.py) on a real server: once they are current,
`ensure` takes no lock on them, so an autovacuum of one (which holds SHARE UPDATE
EXCLUSIVE) never makes a command wait; a column or index missing is still added."""

import psycopg

from data_copy.state import schema

_LOCKED = ("migration_dirty_keys", "migration_capture_changes")


def _columns(conn: psycopg.Connection, table: str) -> set[str]:
    rows = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
        (f"public.{table}",),
    )
    return {r[0] for r in rows}


def test_a_current_schema_is_ensured_without_waiting_for_a_vacuum_of_our_tables(fresh_dsn: str) -> None:
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        schema.ensure(conn)
    with psycopg.connect(fresh_dsn) as vacuum, psycopg.connect(fresh_dsn, autocommit=True) as conn:
        for table in _LOCKED:  # what an autovacuum of each holds
            vacuum.execute(f"LOCK TABLE public.{table} IN SHARE UPDATE EXCLUSIVE MODE")
        conn.execute("SET lock_timeout = '200ms'")
        schema.ensure(conn)  # before: LockNotAvailable on the ALTER of migration_capture_changes
        vacuum.rollback()


def test_a_column_or_index_missing_is_added(fresh_dsn: str) -> None:
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        schema.ensure(conn)
        conn.execute("ALTER TABLE public.migration_dirty_keys DROP COLUMN gone")
        conn.execute("DROP INDEX public.migration_capture_changes_slot_tbl_lsn")
        schema.ensure(conn)
        assert {"tid", "gone"} <= _columns(conn, "migration_dirty_keys")
        row = conn.execute("SELECT to_regclass('public.migration_capture_changes_slot_tbl_lsn')").fetchone()
        assert row and row[0] is not None
