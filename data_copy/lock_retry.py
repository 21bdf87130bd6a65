"""DDL behind the application's locks: every DDL step keeps the session's lock_timeout
(connection.py sets it on every connection), so the application never queues behind us for
longer than that, and a step refused with 55P03 (lock_not_available) is retried, whole, after
a growing pause with jitter, so a busy moment does not fail the run."""

import random
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg

T = TypeVar("T")
ATTEMPTS = 6
FIRST_PAUSE_S = 0.2
MAX_PAUSE_S = 5.0


def retrying(step: Callable[[], T], attempts: int | None = None, sleep: Callable[[float], None] = time.sleep) -> T:
    """Runs `step` (which opens and commits its own transaction, or savepoint) until it is
    not refused by a lock timeout, at most `attempts` (ATTEMPTS) times; the last refusal
    is raised."""
    attempts = attempts or ATTEMPTS
    pause = FIRST_PAUSE_S
    for attempt in range(1, attempts + 1):
        try:
            return step()
        except psycopg.errors.LockNotAvailable:
            if attempt == attempts:
                raise
            sleep(pause + random.uniform(0, pause / 2))
            pause = min(pause * 2, MAX_PAUSE_S)
    raise AssertionError("unreachable")
