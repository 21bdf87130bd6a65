"""Pacing the copy (`--pace DURATION`, stack config consolidation:pace): chunks sized to a
target duration, a rest after each, and pauses while the server shows strain.

Off by default: full speed. With a pace, the first copy of a Part goes in key ranges whose
width is re-sized after every chunk so that one chunk takes about the target duration (a
short transaction: short WAL bursts, short lock holds), each chunk is followed by a rest of
REST_FRACTION of its duration, and before every chunk, mapping and index the pacer waits
while one of these measured signals shows strain (up to MAX_PAUSE_S at a time):

- lock waits: sessions of this database, other than ours, waiting for a lock
  (pg_stat_activity.wait_event_type = 'Lock'): the application is queueing already;
- replay lag: a standby further behind than MAX_REPLAY_LAG_S (pg_stat_replication).
"""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from data_copy.errors import BadArguments

REST_FRACTION = 0.25
FIRST_KEYS = 20_000
MIN_KEYS = 1_000
MAX_PAUSE_S = 60.0
MAX_REPLAY_LAG_S = 1.0
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|min)")
_UNITS = {"ms": 0.001, "s": 1.0, "min": 60.0}


def duration_s(text: str) -> float | None:
    """'250ms', '1s', '0.5s', '1min' -> seconds; None when it is not a positive duration."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match or float(match.group(1)) <= 0:
        return None
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_pace(text: str) -> float:
    """'' or 'off' -> 0 (full speed); a duration -> seconds."""
    if text.strip().lower() in ("", "off", "0"):
        return 0.0
    seconds = duration_s(text)
    if seconds is None:
        raise BadArguments(
            f"pace {text!r} is not a duration",
            fix="give the time one copy chunk should take, e.g. --pace 250ms, or off",
        )
    return seconds


_STRAIN = """
SELECT (SELECT count(*) FROM pg_stat_activity
         WHERE wait_event_type = 'Lock' AND datname = current_database() AND pid <> pg_backend_pid()),
       (SELECT coalesce(max(extract(epoch FROM replay_lag)), 0) FROM pg_stat_replication)
"""


def strain(conn: psycopg.Connection) -> str:
    """'' when calm, else what shows strain now."""
    row = conn.execute(_STRAIN).fetchone()
    waiting, lag = (int(row[0]), float(row[1])) if row else (0, 0.0)
    reasons = []
    if waiting:
        reasons.append(f"{waiting} session(s) waiting for a lock")
    if lag > MAX_REPLAY_LAG_S:
        reasons.append(f"standby replay lag {lag:.1f} s")
    return "; ".join(reasons)


@dataclass
class Pacer:
    conn: psycopg.Connection
    target_s: float
    max_keys: int
    sleep: Callable[[float], None] = time.sleep
    keys: int = FIRST_KEYS
    paused_s: float = 0.0  # waiting for calm
    rested_s: float = 0.0  # the rests after chunks
    pauses: list[str] = field(default_factory=list)  # why it waited, once per wait

    def __post_init__(self) -> None:
        self.keys = max(MIN_KEYS, min(FIRST_KEYS, self.max_keys))

    def breathe(self) -> float:
        """Waits while the server shows strain (at most MAX_PAUSE_S); returns seconds waited."""
        started = time.monotonic()
        pause = 0.05
        reason = strain(self.conn)
        if not reason:
            return 0.0
        self.pauses.append(reason)
        while reason and time.monotonic() - started < MAX_PAUSE_S:
            self.sleep(pause)
            pause = min(pause * 2, 1.0)
            reason = strain(self.conn)
        waited = time.monotonic() - started
        self.paused_s += waited
        return waited

    def chunk_done(self, keys: int, elapsed: float) -> None:
        """Re-sizes the next chunk toward the target duration (at most halved or doubled at
        once) and rests after this one."""
        if elapsed > 0:
            wanted = int(keys * self.target_s / elapsed)
            self.keys = max(MIN_KEYS, min(self.max_keys, max(keys // 2, min(keys * 2, wanted))))
        rest = elapsed * REST_FRACTION
        self.sleep(rest)
        self.rested_s += rest


def pacer(conn: psycopg.Connection, pace: str, max_keys: int) -> Pacer | None:
    """None at full speed (the default)."""
    target = parse_pace(pace)
    return Pacer(conn, target, max_keys) if target > 0 else None
