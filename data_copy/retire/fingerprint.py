"""A whole table's fingerprint: its row count and an order-independent checksum of every column.

Cleanup records one per table before it drops it; restore recomputes them after the
pg_restore and compares, maybe days later in another session: the output settings that
change `row::text` are pinned, so both sessions compute the same value.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from data_copy.core.ident import ident

Fingerprint = tuple[int, str]  # (row count, checksum)

# Output settings that change `row::text`; pinned so that a checksum recorded in one
# session compares equal in another (the restore runs days later, maybe elsewhere).
_PINNED = (
    ("TimeZone", "UTC"),
    ("DateStyle", "ISO, YMD"),
    ("IntervalStyle", "postgres"),
    ("extra_float_digits", "1"),
    ("bytea_output", "hex"),
)


@contextmanager
def _pinned_output(conn: psycopg.Connection) -> Iterator[None]:
    """Pin the output settings for the block, then put back what the session had."""
    with conn.transaction():
        saved = [(name, _setting(conn, name)) for name, _ in _PINNED]
        for name, value in _PINNED:
            conn.execute("SELECT set_config(%s, %s, true)", (name, value))
        yield
        for name, value in saved:
            conn.execute("SELECT set_config(%s, %s, true)", (name, value))


def _setting(conn: psycopg.Connection, name: str) -> str:
    row = conn.execute("SELECT current_setting(%s)", (name,)).fetchone()
    assert row is not None
    return str(row[0])


def table_fingerprint(conn: psycopg.Connection, table: str) -> Fingerprint:
    """(row count, order-independent checksum of every column) of `table` ("schema.table").

    Server-side: count(*) and sum(hashtextextended(row::text, 0)); an empty table has
    checksum "0". Output settings are pinned so the value does not depend on the session.
    """
    query = sql.SQL("SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0)::text FROM {} AS t").format(
        ident(table)
    )
    with _pinned_output(conn):
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])
