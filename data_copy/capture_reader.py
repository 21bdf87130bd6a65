"""Reads the capture slot on a second connection while the main one bulk-copies.

Every slot read decodes the WAL written since the slot's restart_lsn, our own bulk copy
included (its rows carry our origin and are left out, but only after being decoded). A
first copy writes hundreds of MB of WAL: read by the settle, that decoding waits in line
behind the copy. While `running()`, a thread on its own connection (same dsn and session
settings) repeats capture.mark + capture.pull + capture.advance, each pull its own
transaction and each advance after that commits, exactly as catch_up does: the decoding
runs on another core while the copy writes, and the settle that follows reads only the
last moments. Nothing else uses the slot meanwhile (the main connection only copies); the
thread is stopped and joined before the settle reads the slot itself.

The reader only saves time: a failure in it (connection lost, slot busy, ...) stops it for
the rest of the run and is said once; the settle's own pull still reads everything.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg

from data_copy import capture
from data_copy.capture import Capture
from data_copy.connection import connect
from data_copy.errors import DataCopyError, first_line
from data_copy.settings import Settings

READ_EVERY_S = 1.0  # pause between two looks at the head
# A read decodes from restart_lsn, which cannot pass the start of a transaction still running
# (a first copy's chunk, an application's): reading again while the same oldest transaction
# runs would decode the same WAL again and move nothing, so the reader reads only once the
# oldest running transaction changed. A running-xacts record (capture.mark) every
# MARK_EVERY_BYTES of WAL gives the transactions that start later a restart point near them.
MARK_EVERY_BYTES = 16 << 20


class Reader:
    def __init__(self, dsn: str, settings: Settings) -> None:
        self.dsn = dsn
        self.settings = settings
        self.cap: Capture | None = None  # None: `running` does nothing (no capture this run)
        self.note: Callable[[str], None] = lambda line: None
        self.conn: psycopg.Connection | None = None
        self.failed = ""  # why the reader stopped for good ('' while it works)
        self.reads = 0  # pulls done, for the report and the tests
        self.connected = threading.Event()  # set once the reader's connection is open

    def __enter__(self) -> "Reader":
        return self

    def attach(self, cap: Capture | None, note: Callable[[str], None]) -> None:
        self.cap, self.note = cap, note

    def __exit__(self, *exc: object) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    @contextmanager
    def running(self) -> Iterator[None]:
        """The reader reads while the body runs; stopped and joined when it ends."""
        if self.cap is None or self.failed:
            yield
            return
        stop = threading.Event()
        thread = threading.Thread(target=self._loop, args=(self.cap, stop), name="capture-reader", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            if self.failed:
                self.note(
                    f"change capture: the background slot reader stopped ({self.failed}); the re-syncs read the"
                    " slot themselves (slower)"
                )
                if self.conn is not None:
                    self.conn.close()
                    self.conn = None

    def _loop(self, cap: Capture, stop: threading.Event) -> None:
        try:
            if self.conn is None:
                self.conn = connect(self.dsn, self.settings)
            self.connected.set()
            marked_at, read_xmin = -MARK_EVERY_BYTES, None
            while not stop.is_set():
                head, xmin = _head(self.conn)
                if head - marked_at >= MARK_EVERY_BYTES:  # a later restart point, even while we wait
                    capture.mark(self.conn, cap)  # a failed mark only costs decoding: the main one says it
                    marked_at = head
                if xmin != read_xmin:  # else restart_lsn is held by the same running transaction
                    read_xmin = xmin
                    self._read(cap, stop)
                if stop.wait(READ_EVERY_S):
                    return
        except (psycopg.Error, DataCopyError) as error:
            self.failed = first_line(error) or type(error).__name__
        except Exception as error:  # noqa: BLE001 - whatever stops it, the run goes on without it
            self.failed = f"{type(error).__name__}: {error}"

    def _read(self, cap: Capture, stop: threading.Event) -> None:
        assert self.conn is not None
        while True:
            cut = capture.pull(self.conn, cap, capture.BATCH_CHANGES)
            self.reads += 1
            capture.advance(self.conn, cap)
            if not cut or stop.is_set():
                return


def _head(conn: psycopg.Connection) -> tuple[int, int]:
    """(WAL flushed, in bytes; the oldest transaction id still running)."""
    row = conn.execute(
        "SELECT CAST(pg_current_wal_flush_lsn() - CAST('0/0' AS pg_lsn) AS bigint),"
        " CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS text) AS bigint)"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])
