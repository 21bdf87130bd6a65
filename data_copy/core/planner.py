"""Planner settings for the statements that look rows up by a batch of keys.

A batch of keys is looked up by index: with the default random_page_cost (4, a disk that
seeks) the planner took a parallel scan of the whole table for 10,000 of 1,000,000 keys (the
medium fixture's re-sync: 0.45 s against 0.03 s by index). Our tables and the legacy
indexes being read are the ones the run just touched, so cached: inside `keyed` a random
page costs what a sequential one does, for this transaction only, and the setting is put
back when it ends.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

KEYED_RANDOM_PAGE_COST = "1.1"


@contextmanager
def keyed(conn: psycopg.Connection) -> Iterator[None]:
    """Inside a transaction: keyed lookups planned as index scans (see the module doc)."""
    row = conn.execute("SELECT current_setting('random_page_cost')").fetchone()
    before = str(row[0]) if row else "4"
    conn.execute("SELECT set_config('random_page_cost', %s, true)", (KEYED_RANDOM_PAGE_COST,))
    try:
        yield
    finally:
        if not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            conn.execute("SELECT set_config('random_page_cost', %s, true)", (before,))
