"""For the DDL-retry tests: another session (the application) holding a lock, and
lock_retry's pauses made short and counted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg
import pytest

from data_copy.core import lock_retry


class Held:
    """Another session holding `mode` on `table` in an open transaction."""

    def __init__(self, dsn: str, table: str, mode: str) -> None:
        self.conn = psycopg.connect(dsn)
        self.conn.execute(f"LOCK TABLE {table} IN {mode} MODE")
        self.pid = self.conn.info.backend_pid

    def release_after(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self.conn.rollback)
        timer.start()
        return timer

    def close(self) -> None:
        self.conn.rollback()
        self.conn.close()


class Pauses:
    """lock_retry's pauses, made short and counted; `then`, when set, runs at the next one
    (e.g. the lock released a little later, so the step is refused at least once, whatever
    its timing)."""

    def __init__(self) -> None:
        self.seen: list[float] = []
        self.then: Callable[[], object] | None = None

    def __call__(self, seconds: float) -> None:
        self.seen.append(seconds)
        if self.then is not None:
            then, self.then = self.then, None
            then()
        time.sleep(seconds)


def short_pauses(monkeypatch: pytest.MonkeyPatch) -> Pauses:
    """lock_retry pausing 50-200 ms through a counting Pauses (for an autouse fixture)."""
    monkeypatch.setattr(lock_retry, "FIRST_PAUSE_S", 0.05)
    monkeypatch.setattr(lock_retry, "MAX_PAUSE_S", 0.2)
    watch = Pauses()
    monkeypatch.setattr(lock_retry, "_sleep", watch)
    return watch
