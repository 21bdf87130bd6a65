"""The change capture slot and our replication origins: names, creation, lag, teardown.

The slot (test_decoding, read over plain SQL: capture/stream.py) is per database and role
prefix. Our own writes carry a replication origin (`origin_name`), so the slot's output
leaves them out (`only-local`) and `foreign_writes` can tell the application's writes to
the new tables from ours.
"""

import hashlib
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from data_copy.capture import decoding
from data_copy.settings import Settings
from data_copy.state import schema
from data_copy.state.schema import CAPTURE, CAPTURE_CHANGES, CAPTURE_POSITIONS

PLUGIN = "test_decoding"

SLOT_CREATE_LOCK_TIMEOUT = "60s"  # creating the slot waits for transactions already running

ORIGIN_WAIT_S = 3.0  # for the session of a run that has just ended to let go of our origin

LAG_WARN_BYTES = 1 << 30


def _safe(text: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", text.lower())


def slot_name(dbname: str, role_prefix: str = "") -> str:
    """`data_copy_<prefix><db>_<hash>`: per database and role prefix (two stacks on one
    server never share a slot), within the 63 characters a slot name may have."""
    digest = hashlib.md5(f"{role_prefix}\0{dbname}".encode()).hexdigest()[:8]
    return f"data_copy_{_safe(role_prefix + dbname)[:40]}_{digest}"


def origin_name(slot: str) -> str:
    return slot  # the origin of our writes, named as the slot they are filtered from


def second_origin_name(slot: str) -> str:
    """The origin of our second session (sync/overlap.py): an origin is one session's at a time."""
    return f"{slot}_2"


def name_for(conn: psycopg.Connection, settings: Settings) -> str:
    row = conn.execute("SELECT current_database()").fetchone()
    assert row is not None
    return slot_name(row[0], settings.role_prefix)


def wal_level(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT current_setting('wal_level')").fetchone()
    return row[0] if row else ""


def slot_row(conn: psycopg.Connection, slot: str) -> tuple | None:
    return conn.execute(
        "SELECT plugin, confirmed_flush_lsn, active FROM pg_replication_slots WHERE slot_name = %s", (slot,)
    ).fetchone()


def create_slot(conn: psycopg.Connection, slot: str) -> str:
    with conn.transaction():  # SET LOCAL only: a transaction that wrote cannot create a slot
        conn.execute("SELECT set_config('lock_timeout', %s, true)", (SLOT_CREATE_LOCK_TIMEOUT,))
        row = conn.execute("SELECT lsn FROM pg_create_logical_replication_slot(%s, %s)", (slot, PLUGIN)).fetchone()
    assert row is not None
    return str(row[0])


def setup_origin(conn: psycopg.Connection, name: str) -> bool:
    """Our writes on `conn` carry origin `name`: False when they cannot (only slower)."""
    deadline = time.monotonic() + ORIGIN_WAIT_S
    while True:
        try:
            with conn.transaction():
                conn.execute(
                    "SELECT pg_replication_origin_create(%s) WHERE pg_replication_origin_oid(%s) IS NULL", (name, name)
                )
            conn.execute("SELECT pg_replication_origin_session_setup(%s)", (name,))
            return True
        except psycopg.errors.ObjectInUse:  # the last run's session, still ending, holds it
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        except psycopg.Error:  # no privilege
            return False


def reset_origin(conn: psycopg.Connection) -> None:
    """This session's writes carry no origin again (setup_origin undone)."""
    conn.execute("SELECT pg_replication_origin_session_reset()")


@contextmanager
def writing_as_ours(conn: psycopg.Connection, settings: Settings) -> Iterator[bool]:
    """Inside: this session's writes carry our origin, when this database has our slot (so
    the next slot read leaves them out, as a run's own writes); yields whether they do."""
    name = name_for(conn, settings)
    ours = slot_row(conn, name) is not None and setup_origin(conn, origin_name(name))
    try:
        yield ours
    finally:
        if ours and not conn.closed:
            reset_origin(conn)


def lag(conn: psycopg.Connection, settings: Settings, warn_bytes: int = LAG_WARN_BYTES) -> dict | None:
    """The slot's lag in bytes (WAL the server keeps for it), or None without a slot."""
    slot = name_for(conn, settings)
    row = conn.execute(
        "SELECT CAST(pg_current_wal_lsn() - confirmed_flush_lsn AS bigint), wal_status"
        " FROM pg_replication_slots WHERE slot_name = %s",
        (slot,),
    ).fetchone()
    if row is None:
        return None
    lag_bytes = int(row[0] or 0)
    return {"slot": slot, "lag_bytes": lag_bytes, "wal_status": row[1], "warn": lag_bytes > warn_bytes}


def lag_line(info: dict | None, warn_bytes: int = LAG_WARN_BYTES) -> str:
    if info is None:
        return "change capture: no slot (re-sync scans; a run on a wal_level=logical server creates one)"
    text = f"change capture: slot {info['slot']} lags {info['lag_bytes']:,} bytes of WAL ({info['wal_status']})"
    if info["warn"]:
        text += (
            f"; WARNING: over {warn_bytes:,} bytes: the server keeps that WAL until the next `run`"
            " (or `capture-drop`): see max_slot_wal_keep_size"
        )
    return text


def drop(conn: psycopg.Connection, settings: Settings) -> list[str]:
    """Drops the slot, our origin and the capture state; what was dropped, in words."""
    slot = name_for(conn, settings)
    done = []
    if slot_row(conn, slot) is not None:
        conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
        done.append(f"replication slot {slot}")
    for origin in (origin_name(slot), second_origin_name(slot)):
        row = conn.execute("SELECT pg_replication_origin_oid(%s)", (origin,)).fetchone()
        if row and row[0] is not None:
            conn.execute("SELECT pg_replication_origin_drop(%s)", (origin,))
            done.append(f"replication origin {origin}")
    if schema.exists(conn, CAPTURE):
        with conn.transaction():
            for table in (CAPTURE, CAPTURE_POSITIONS, CAPTURE_CHANGES):
                conn.execute(sql.SQL("DELETE FROM {} WHERE slot = %s").format(table), (slot,))
    return done


def foreign_writes(conn: psycopg.Connection, settings: Settings, tables: Iterable[str]) -> dict[str, int]:
    """Rows written to `tables` (e.g. new tables) since the slot's position by anyone but
    data_copy (our writes carry our origin and are left out): for the phases code."""
    slot = name_for(conn, settings)
    if slot_row(conn, slot) is None:
        return {}
    return decoding.count_by_table(conn, slot, list(tables))
