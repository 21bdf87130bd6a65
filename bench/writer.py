"""The live application, simulated: one row per transaction into legacy tables, timed.

A thread with its own connection inserts alternately into each table of WRITER_TABLES
(a copy of one existing row with a new key and fresh timestamps), paced at one insert
every ``interval`` seconds, until stopped or bounded by ``max_rows``/``max_seconds``. The
latency of each insert (statement + commit, as the application sees it) is recorded.
The same writer runs once on the idle database and once during a copy.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from catalog.legacy import legacy_table

WRITER_TABLES = ("splits.raw_mlb_betting_splits", "mlb_betting.moneyline")
TIMESTAMP_COLUMNS = ("created_at", "updated_at", "last_updated")
# Far above any id the fixture or its 1 % activity uses, for tables whose id has no default.
KEY_OFFSET = 1_000_000_000
SAFETY_TIMEOUT = "120s"  # a writer blocked this long is reported, not left hanging


@dataclass
class WriterStats:
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return len(self.latencies_ms)

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        if len(self.latencies_ms) == 1:
            return self.latencies_ms[0]
        cuts = statistics.quantiles(self.latencies_ms, n=1000, method="inclusive")
        return cuts[min(int(q * 1000) - 1, len(cuts) - 1)]

    @property
    def p50_ms(self) -> float:
        return self.percentile(0.5)

    @property
    def p99_ms(self) -> float:
        return self.percentile(0.99)

    @property
    def max_ms(self) -> float:
        return max(self.latencies_ms, default=float("nan"))


@dataclass
class _Target:
    name: str
    query: sql.Composable
    values: list[Any]
    key_index: int | None  # position of an explicit key to advance, if the id has no default
    next_key: int = 0
    timestamps: list[int] = field(default_factory=list)


def _prepare(conn: psycopg.Connection, qualified: str) -> _Target:
    """An INSERT of a copy of the table's first row: new key, fresh timestamps."""
    spec = legacy_table(qualified)
    table = sql.Identifier(*qualified.split("."))
    key = spec.primary_key[0] if spec.primary_key else "id"
    key_col = spec.column(key)
    serial = key_col.default is not None and key_col.default.startswith("nextval(")
    columns = [c.name for c in spec.columns if not (serial and c.name == key)]
    cur = conn.execute(
        sql.SQL("SELECT {} FROM {} LIMIT 1").format(sql.SQL(", ").join(sql.Identifier(c) for c in columns), table)
    )
    row = cur.fetchone()
    if row is None:
        raise RuntimeError(f"{qualified} is empty: the writer copies an existing row")
    values = [Jsonb(v) if isinstance(v, dict | list) else v for v in row]
    target = _Target(
        name=qualified,
        query=sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            table,
            sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            sql.SQL(", ").join(sql.Placeholder() for _ in columns),
        ),
        values=values,
        key_index=None if serial else columns.index(key),
        timestamps=[i for i, c in enumerate(columns) if c in TIMESTAMP_COLUMNS],
    )
    if target.key_index is not None:
        top = conn.execute(sql.SQL("SELECT coalesce(max({}), 0) FROM {}").format(sql.Identifier(key), table)).fetchone()
        target.next_key = (top[0] if top else 0) + KEY_OFFSET
    return target


def _row(target: _Target) -> list[Any]:
    values = list(target.values)
    if target.key_index is not None:
        target.next_key += 1
        values[target.key_index] = target.next_key
    now = datetime.now(UTC)
    for i in target.timestamps:
        original = target.values[i]
        if isinstance(original, datetime):
            values[i] = now.replace(tzinfo=None) if original.tzinfo is None else now
    return values


class Writer:
    """Start with :meth:`start`, stop with :meth:`stop` (returns the latencies)."""

    def __init__(
        self,
        dsn: str,
        interval: float = 0.01,
        max_rows: int = 50_000,
        max_seconds: float = 1800.0,
        tables: tuple[str, ...] = WRITER_TABLES,
    ) -> None:
        self.dsn = dsn
        self.interval = interval
        self.max_rows = max_rows
        self.max_seconds = max_seconds
        self.tables = tables
        self.stats = WriterStats()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-writer", daemon=True)
        self._failure: BaseException | None = None

    def start(self) -> Writer:
        self._thread.start()
        self._ready.wait(30)
        if self._failure is not None:
            raise RuntimeError(f"the writer could not start: {self._failure}")
        return self

    def stop(self) -> WriterStats:
        self._stop.set()
        self._thread.join()
        if self._failure is not None:
            raise RuntimeError(f"the writer failed: {self._failure}")
        return self.stats

    def run_for(self, seconds: float) -> WriterStats:
        """Write for ``seconds`` (the idle measurement)."""
        self.start()
        self._stop.wait(seconds)
        return self.stop()

    def _loop(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True, application_name="bench_writer") as conn:
                conn.execute("SELECT set_config('statement_timeout', %s, false)", (SAFETY_TIMEOUT,))
                targets = [_prepare(conn, t) for t in self.tables]
                self._ready.set()
                start = time.perf_counter()
                next_at = start
                i = 0
                while not self._stop.is_set() and self.stats.rows < self.max_rows:
                    now = time.perf_counter()
                    if now - start > self.max_seconds:
                        break
                    if next_at > now:
                        self._stop.wait(next_at - now)
                        continue
                    target = targets[i % len(targets)]
                    i += 1
                    values = _row(target)
                    t0 = time.perf_counter()
                    try:
                        conn.execute(target.query, values)
                    except psycopg.Error as error:
                        self.stats.errors.append(f"{target.name}: {str(error).splitlines()[0]}")
                    elapsed = time.perf_counter() - t0
                    self.stats.latencies_ms.append(elapsed * 1000)
                    next_at = max(next_at + self.interval, time.perf_counter())
                self.stats.seconds = time.perf_counter() - start
        except BaseException as error:  # reported by stop()
            self._failure = error
            self._ready.set()


class WaitSampler:
    """What the writer's backend waits on: pg_stat_activity sampled every ``interval`` s.

    Counts ``wait_event_type:wait_event`` over the samples in which the writer's backend
    is running a statement ("CPU" when it runs without waiting): Lock:* would mean the
    copy blocks the application; LWLock/IO:WAL* mean they share the WAL and the disk.
    """

    def __init__(self, dsn: str, application_name: str = "bench_writer", interval: float = 0.01) -> None:
        self.dsn = dsn
        self.application_name = application_name
        self.interval = interval
        self.counts: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-wait-sampler", daemon=True)

    def start(self) -> WaitSampler:
        self._thread.start()
        return self

    def stop(self) -> dict[str, int]:
        self._stop.set()
        self._thread.join()
        return dict(sorted(self.counts.items(), key=lambda kv: -kv[1]))

    def _loop(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True, application_name="bench_sampler") as conn:
                while not self._stop.wait(self.interval):
                    for kind, event in conn.execute(
                        "SELECT wait_event_type, wait_event FROM pg_stat_activity"
                        " WHERE application_name = %s AND state = 'active'",
                        (self.application_name,),
                    ):
                        key = f"{kind}:{event}" if kind else "CPU"
                        self.counts[key] = self.counts.get(key, 0) + 1
        except psycopg.Error as error:
            self.counts[f"sampler failed: {str(error).splitlines()[0]}"] = 1
