"""Planner settings: for the statements that look rows up by a batch of keys, and for the
ones that hash whole tables.

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

A whole-table hash (`whole_table`) is the other way round: one long scan evaluating one
function per column of every row. The sessions turn the JIT off (core/connection.py: it
compiled the three-way check for seconds); for these statements it is turned back on with
optimization and no inlining, and the query takes no more processes than the server has
CPUs (on 2 cores one worker beside the leader instead of two). Together they took the
large bench's hash statements from 6.0 to 5.0 s (bench/ANALYSIS.md).
"""

import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import psycopg

KEYED_RANDOM_PAGE_COST = "1.1"
_cpus: "weakref.WeakKeyDictionary[psycopg.Connection, tuple[int, str]]" = weakref.WeakKeyDictionary()


def _count_cpus(spec: str) -> int:
    """'0-3,6' -> 5 (the kernel's cpu list format)."""
    total = 0
    for item in spec.strip().split(","):
        if not item:
            continue
        lo, _, hi = item.partition("-")
        total += int(hi or lo) - int(lo) + 1
    return total


def server_cpus(conn: psycopg.Connection) -> tuple[int, str]:
    """(CPUs, how it was learned) of the database server: its online CPUs where this role
    may read them (superusers, pg_read_server_files), else max_parallel_workers_per_gather
    + 1, the share of them its administrator lets one query use. Read once per connection."""
    if conn not in _cpus:
        _cpus[conn] = _read_cpus(conn)
    return _cpus[conn]


def _read_cpus(conn: psycopg.Connection) -> tuple[int, str]:
    try:
        with conn.transaction():
            row = conn.execute("SELECT pg_read_file('/sys/devices/system/cpu/online')").fetchone()
        if row and row[0]:
            return _count_cpus(row[0]), "server's online CPUs"
    except (psycopg.Error, ValueError):
        pass
    return parallel_workers(conn) + 1, "max_parallel_workers_per_gather + 1"


def parallel_workers(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT current_setting('max_parallel_workers_per_gather')::int").fetchone()
    return int(row[0]) if row else 0


@contextmanager
def _local(conn: psycopg.Connection, name: str, value: str, *more: str) -> Iterator[None]:
    """The setting `name` is `value` (and `more` names and values in turn) for the caller's
    transaction only (one is opened around the block on an autocommit connection outside
    one), and put back when the block ends."""
    if conn.autocommit and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        with conn.transaction(), _local(conn, name, value, *more):
            yield
        return
    names, values = [name, *more[::2]], [value, *more[1::2]]
    row = conn.execute("SELECT array_agg(current_setting(n)) FROM unnest(%s::text[]) AS n", (names,)).fetchone()
    before = list(row[0]) if row else []
    conn.execute("SELECT set_config(n, v, true) FROM unnest(%s::text[], %s::text[]) AS s(n, v)", (names, values))
    try:
        yield
    finally:
        if not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            conn.execute(
                "SELECT set_config(n, v, true) FROM unnest(%s::text[], %s::text[]) AS s(n, v)", (names, before)
            )


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


@contextmanager
def whole_table(conn: psycopg.Connection) -> Iterator[None]:
    """A statement hashing whole tables: JIT with optimization, no more processes than the
    server's CPUs (see the module doc)."""
    capped = max(0, min(parallel_workers(conn), server_cpus(conn)[0] - 1))
    with _local(
        conn,
        *("jit", "on", "jit_optimize_above_cost", "0", "jit_inline_above_cost", "-1"),
        *("max_parallel_workers_per_gather", str(capped)),
    ):
        yield
