"""A first copy's settles run on a second session while the next mappings copy.

A first copy's INSERT ... SELECT runs on one core. The settle after it (slot read, counts,
checksums, the ownership check) and the target's index builds read the mapping's own
tables only. On one session each waits for the other; here a second session settles
mapping N and builds its indexes while the main one copies N+1, N+2, ... (pgcopydb, too,
indexes one table while it copies the next). Foreign keys wait for the end (index_builds.py).

When a settle may leave the main session (`Overlap.takes`):
- phase 1, when the new tables are our derived copy, and an unpaced run: a paced run
  leaves the server's cores to the application;
- the mapping was first-copied in this run, and its copy made no session temporary table
  (duplicate legacy keys), which the second session could not see;
- with change capture, the second session's writes carry our second replication origin,
  so they stay ours (stream.attach). An origin is one session's at a time.

What keeps the two sessions apart:
- settles run one at a time, in copy order, on the second session. Only a settle reads the
  slot or writes `cap` while one runs; the main session does neither until `drain`.
- `before_copy`: a mapping whose statements read a new table (game lookups, parent rows:
  Part.reads) waits for that table's settle, which may still write it.
- everything else the main session does with new tables (structure, the journal's
  validation entries) waits for `drain`.
"""

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import psycopg

from catalog.mappings import Mapping
from catalog.tables import table
from data_copy.capture import stream
from data_copy.core.connection import connect
from data_copy.errors import ConnectionFailed
from data_copy.mapping_sql.projection import Part, parts
from data_copy.settings import Settings
from data_copy.sync.copier import Copier
from data_copy.validation.hasher import Hasher

T = TypeVar("T")
Work = Callable[[psycopg.Connection, Copier, Hasher], T]


def order(mappings: tuple[Mapping, ...]) -> tuple[Mapping, ...]:
    """`mappings` (catalog.copy_order: parents first) re-ordered so that the tables most
    others read are copied first, then those that read no new table: the providers'
    settles run while those copy, and are done before their readers copy. Stable
    otherwise; every parent still first."""
    targets = {m.target for m in mappings}
    reads = {m.name: set().union(*(p.reads for p in parts(m))) for m in mappings}
    needs = {m.name: reads[m.name] | (_parents(m) & targets) for m in mappings}
    placed: list[Mapping] = []
    pending = list(mappings)
    while pending:
        done = {m.target for m in placed}
        ready = [m for m in pending if needs[m.name] <= done]  # what it reads and its parents placed
        # most readers first; then those reading nothing, whose copies can overlap the
        # providers' settles (a reader's copy may wait for them)
        pick = max(ready, key=lambda m: (sum(m.target in reads[o.name] for o in pending), not reads[m.name]))
        placed.append(pick)
        pending.remove(pick)
    return tuple(placed)


def _parents(m: Mapping) -> set[str]:
    return {fk.references for fk in table(m.target).foreign_keys} - {m.target}


class Skipped(Exception):
    """A queued settle not run, because one before it failed (that one's error is raised)."""


class Overlap:
    """The second session (connection, copier, hasher) and its queue of settles."""

    def __init__(
        self,
        conn: psycopg.Connection,
        dsn: str,
        settings: Settings,
        copier: Copier,
        cap: stream.Capture | None,
        workers: int,
    ) -> None:
        self._main = conn
        self._dsn = dsn
        self._settings = settings
        self._copier = copier
        self._cap = cap
        self._workers = workers
        self._enabled = settings.overlap and copier.phase == 1 and copier.pacer is None
        self._conn: psycopg.Connection | None = None
        self._session: tuple[Copier, Hasher] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._queued: list[tuple[str, Future]] = []  # (target, its settle), in copy order
        self._failed = False
        self.settled = 0  # settles run on the second session

    def _open(self) -> bool:
        if self._session is not None:
            return True
        try:
            conn = connect(self._dsn, self._settings)
        except ConnectionFailed:  # e.g. max_connections reached: one session does it all
            self._enabled = False
            return False
        name = self._main.execute("SELECT current_setting('application_name')").fetchone()
        conn.execute("SELECT set_config('application_name', %s, false)", (name[0] if name else "data_copy",))
        # as the main session: our writes carry an origin when its do (else neither can)
        if self._cap is not None and self._cap.origin and not stream.attach(conn, self._cap):
            conn.close()
            self._enabled = False  # our second origin is in use or not ours to set up
            return False
        copier = Copier(conn, self._copier.run_id, self._copier.on_progress, phase=1)
        copier.scanned = self._copier.scanned  # one run: the re-syncs that scanned legacy
        self._conn = conn
        self._session = (copier, Hasher(conn, self._dsn, self._settings, self._workers))
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="data_copy settle")
        return True

    def takes(self, part_list: list[Part], first_copied: bool) -> bool:
        """True when this mapping's settle may run on the second session."""
        if not (self._enabled and first_copied):
            return False
        if any(self._copier.excludes(p) for p in part_list):
            return False
        return self._open()

    def submit(self, target: str, work: Work[T]) -> Future[T]:
        """Queues `work(conn, copier, hasher)` on the second session, after the queued ones."""
        assert self._pool is not None and self._session is not None and self._conn is not None
        conn, (copier, hasher) = self._conn, self._session

        def run() -> T:
            if self._failed:  # as on one session: no settle after one that failed
                raise Skipped("an earlier settle failed")
            try:
                return work(conn, copier, hasher)
            except BaseException:
                self._failed = True
                raise

        future = self._pool.submit(run)
        self._queued.append((target, future))
        self.settled += 1
        return future

    def before_copy(self, part_list: list[Part]) -> None:
        """Waits for the settles of the new tables these parts read."""
        reads = set().union(*(p.reads for p in part_list))
        last = max((i for i, (target, _) in enumerate(self._queued) if target in reads), default=-1)
        for _, future in self._queued[: last + 1]:
            future.exception()  # waited for; the result (or error) is taken in order by the caller

    def drain(self) -> None:
        """Waits for every queued settle."""
        for _, future in self._queued:
            future.exception()
        self._queued.clear()

    def close(self) -> None:
        """The run's end, or its error: a settle still running is cancelled, then waited for."""
        if self._conn is not None and any(not f.done() for _, f in self._queued):
            self._conn.cancel_safe()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._session is not None:
            self._session[1].__exit__(None, None, None)
        if self._conn is not None:
            self._conn.close()
