"""Hashing one Part's chunks on several connections that see exactly one snapshot.

The validating connection runs in a REPEATABLE READ transaction and exports its snapshot
(pg_export_snapshot); every worker imports it (SET TRANSACTION SNAPSHOT), so all of them
read the same committed state the validating transaction reads. An exported snapshot
does not carry the exporting transaction's own writes: a caller that wrote the part's
tables in that transaction hashes on its own connection instead (settle.settle does).

How many workers: `Settings.validate_workers` when set, else the CPUs the SERVER has
(core/planner.server_cpus) divided by what one query already uses
(max_parallel_workers_per_gather + 1). Capped at MAX_WORKERS. With one worker, a full
validation is one whole-table hash per side (chunks.full_check), the fastest form
measured here.
"""

import threading

import psycopg
from psycopg import sql

from data_copy.core.connection import connect
from data_copy.core.planner import parallel_workers, server_cpus
from data_copy.mapping_sql.projection import Part
from data_copy.settings import Settings
from data_copy.validation.chunks import Chunk, hash_range

MAX_WORKERS = 8


def worker_count(conn: psycopg.Connection, settings: Settings) -> int:
    """Connections to hash on: as many as the server has CPUs for queries that each use
    PostgreSQL's own parallel query (max_parallel_workers_per_gather + 1 processes). One
    on a 2-core server: there a single query already uses both cores, and two connections
    measured slower (bench/ANALYSIS.md)."""
    if settings.validate_workers > 0:
        return min(settings.validate_workers, MAX_WORKERS)
    if settings.pace not in ("", "off"):
        return 1  # a paced run leaves the server's CPUs to the application
    per_query = parallel_workers(conn) + 1
    return max(1, min(server_cpus(conn)[0] // per_query, MAX_WORKERS))


def slices(lo: int, hi: int, n: int, bits: int) -> list[tuple[int, int]]:
    """lo..hi cut into at most n key ranges on chunk boundaries."""
    first, last = lo >> bits, hi >> bits
    chunks = last - first + 1
    n = max(1, min(n, chunks))
    out = []
    for i in range(n):
        a = first + chunks * i // n
        b = first + chunks * (i + 1) // n - 1
        if b >= a:
            out.append((a << bits, ((b + 1) << bits) - 1))
    return out


class Hasher:
    """Worker connections for one validation; `hash()` runs inside the caller's snapshot."""

    def __init__(self, conn: psycopg.Connection, dsn: str, settings: Settings, workers: int) -> None:
        self.conn = conn
        self.dsn = dsn
        self.settings = settings
        self.workers = workers
        self._pool: list[psycopg.Connection] = []

    def __enter__(self) -> "Hasher":
        return self

    def __exit__(self, *exc: object) -> None:
        for c in self._pool:
            c.close()
        self._pool.clear()

    def _connections(self, n: int) -> list[psycopg.Connection]:
        while len(self._pool) < n:
            self._pool.append(connect(self.dsn, self.settings))
        return self._pool[:n]

    def hash(self, part: Part, lo: int, hi: int, bits: int) -> dict[int, Chunk]:
        ranges = slices(lo, hi, self.workers, bits)
        if len(ranges) <= 1:
            return hash_range(self.conn, part, lo, hi, bits)
        row = self.conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert row is not None
        snapshot = row[0]
        results: list[dict[int, Chunk] | BaseException] = [{} for _ in ranges]

        def work(i: int, c: psycopg.Connection, a: int, b: int) -> None:
            try:
                with c.transaction():
                    c.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    c.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
                    # the workers are the parallelism: no parallel query on top of them
                    c.execute("SET LOCAL max_parallel_workers_per_gather = 0")
                    results[i] = hash_range(c, part, a, b, bits, nulls=i == 0)
            except BaseException as error:  # re-raised in the calling thread
                results[i] = error

        threads = [
            threading.Thread(target=work, args=(i, c, a, b), daemon=True)
            for i, (c, (a, b)) in enumerate(zip(self._connections(len(ranges)), ranges, strict=True))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        merged: dict[int, Chunk] = {}
        for r in results:
            if isinstance(r, BaseException):
                raise r
            merged.update(r)
        return merged
