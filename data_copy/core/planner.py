"""Planner settings for the statements that look rows up by a batch of keys.

A batch of keys is looked up by index: with the default random_page_cost (4, a disk that
seeks) the planner took a parallel scan of the whole table for 10,000 of 1,000,000 keys (the
medium fixture's re-sync: 0.45 s against 0.03 s by index). Our tables and the legacy
indexes being read are the ones the run just touched, so cached: inside `keyed` a random
page costs what a sequential one does, and nested loops are allowed again where asked
(the sessions turn them off for whole-table statements, core/connection.py; without them a
phase-2 upsert of 72 keys hashed all 1M baseline rows of its part, 1.27 s, and a follow's
sync took 4-5 s at large), for this transaction only; the settings are put back when it
ends. Not for a part whose projection joins a game lookup: a nested loop over its keys
rescanned the whole lookup per row (2,000 recommendations: 3.5 s).
"""

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import psycopg

KEYED_RANDOM_PAGE_COST = "1.1"


@contextmanager
def _local(conn: psycopg.Connection, name: str, value: str) -> Iterator[None]:
    """The setting `name` is `value` for the caller's transaction only (one is opened around
    the block on an autocommit connection outside one), and put back when the block ends."""
    if conn.autocommit and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        with conn.transaction(), _local(conn, name, value):
            yield
        return
    row = conn.execute("SELECT current_setting(%s)", (name,)).fetchone()
    before = str(row[0]) if row else ""
    conn.execute("SELECT set_config(%s, %s, true)", (name, value))
    try:
        yield
    finally:
        if not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            conn.execute("SELECT set_config(%s, %s, true)", (name, before))


@contextmanager
def keyed(conn: psycopg.Connection, nested_loops: bool = False) -> Iterator[None]:
    """Keyed lookups planned as index scans, and with `nested_loops` as index probes (see
    the module doc)."""
    with _local(conn, "random_page_cost", KEYED_RANDOM_PAGE_COST), probing(conn, nested_loops):
        yield


def probing(conn: psycopg.Connection, nested_loops: bool = True) -> AbstractContextManager[None]:
    """Nested loops allowed again for the block (nothing when `nested_loops` is False). Only
    around a statement whose every join has an index to probe: our bookkeeping tables'
    statistics lag their writes, and a join planned on a stale estimate of one row ran as
    a nested loop over both sides (a delete's baseline clean-up of 1,998 keys against
    19,955 recorded rows: 40M comparisons, 6 s, three times in one re-sync)."""
    return _local(conn, "enable_nestloop", "on") if nested_loops else nullcontext()


def probes(conn: psycopg.Connection) -> AbstractContextManager[None]:
    """`WHERE part = x LIMIT 1` probes of our tables by index. With a
    LIMIT the planner expects a sequential scan to stop at once, which holds for a part with
    many rows; for one with none it reads the whole table (migration_owned_rows in phase 2 at
    the medium fixture: 15 such probes, 1.4 s, against 1 ms by index)."""
    return _local(conn, "enable_seqscan", "off")
