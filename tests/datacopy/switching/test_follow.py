"""`python -m data_copy run --follow` on a real PostgreSQL, as a user runs it: it syncs both
ways every interval until SIGTERM, which ends it with exit 0 after the sync in flight; other
commands refuse in one line while it runs; a kill -9 loses nothing, and a new follow brings
over what was written meanwhile."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import both_sides
from test_both_ways import conflicts
from test_phases import LEGACY_ML, ML, ROOT, app_insert_ml, content_md5, legacy_insert_ml, ml, q

from catalog.mappings import MAPPINGS
from data_copy.errors import BUSY


def follow(dsn: str, carry_back: str = "moneyline") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "data_copy", "run", "--follow", "--interval", "300ms", "--carry-back", carry_back]
        + ["--dsn", dsn],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def until(check: Callable[[], bool], what: str, timeout: float = 60.0) -> float:
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < timeout, f"timed out waiting for {what}"
        time.sleep(0.1)
    return time.monotonic() - began


def synced(dsn: str) -> bool:
    return bool(q(dsn, "SELECT count(*) FROM migration_log WHERE step = 'validate' AND status = 'passed'")[0][0] >= 28)


def test_follow_syncs_both_ways_until_sigterm_and_others_refuse(phase2: str) -> None:
    dsn = phase2
    proc = follow(dsn)
    try:
        until(lambda: synced(dsn), "a first sync")
        app_row, old_row = app_insert_ml(dsn, "APP"), legacy_insert_ml(dsn, "OLD")
        lag_back = until(lambda: ml(dsn, LEGACY_ML, app_row) is not None, "the application's row in legacy")
        lag_over = until(lambda: ml(dsn, ML, old_row) is not None, "old code's row in the new table")
        assert lag_back < 30 and lag_over < 30, (lag_back, lag_over)
        other = subprocess.run(
            [sys.executable, "-m", "data_copy", "validate", "--dsn", dsn], cwd=ROOT, capture_output=True, text=True
        )
        assert other.returncode == BUSY and other.stderr.strip().count("\n") == 0, other.stderr
        assert "data_copy follow" in other.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert "sync 1:" in out and "followed:" in out, out[-2000:]
    assert "Traceback" not in err
    assert q(dsn, "SELECT count(*) FROM migration_log WHERE status = 'running'") == [(0,)]
    assert content_md5(dsn, ML) == content_md5(dsn, LEGACY_ML)


def test_a_killed_follow_loses_nothing_and_the_next_one_brings_the_rest(phase2: str) -> None:
    dsn = phase2
    proc = follow(dsn)
    until(lambda: synced(dsn), "a first sync")
    written = [app_insert_ml(dsn, "APP1"), legacy_insert_ml(dsn, "OLD1")]
    time.sleep(0.5)  # likely inside a sync: the kill lands wherever it lands
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written += [app_insert_ml(dsn, "APP2"), legacy_insert_ml(dsn, "OLD2")]
    again = follow(dsn)
    try:
        until(lambda: all(ml(dsn, t, k) for k in written for t in (ML, LEGACY_ML)), "every row on both sides")
        until(lambda: content_md5(dsn, ML) == content_md5(dsn, LEGACY_ML), "both sides equal")
    finally:
        again.send_signal(signal.SIGTERM)
        again.communicate(timeout=120)
    assert again.returncode == 0
    counts = q(dsn, f"SELECT count(*), count(DISTINCT id) FROM {LEGACY_ML}")[0]  # noqa: S608
    assert counts[0] == counts[1]  # nothing doubled


def test_kill_9_at_random_points_under_writers_on_both_sides_loses_nothing(phase2: str) -> None:
    """Two writers on both sides of every invertible mapping while follow runs (every
    mapping both ways); follow is killed -9 four times at random moments and started again;
    after the writers stop, two more syncs: both sides of each mapping are equal (each new
    column cast back to its legacy type, by key) but for keys listed as open conflicts;
    nothing doubled."""
    dsn = phase2
    sides = both_sides.invertible(dsn)
    assert len(sides) == sum(m.invertible for m in MAPPINGS)
    both_sides.key_sequence(dsn)
    rng = random.Random(27)
    stop, done = threading.Event(), [0]
    writers = [threading.Thread(target=both_sides.writer, args=(dsn, seed, sides, stop, done)) for seed in (1, 2)]
    proc = follow(dsn, "all")
    for w in writers:
        w.start()
    try:
        for _ in range(4):
            time.sleep(rng.uniform(0.5, 3.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc = follow(dsn, "all")
    finally:
        stop.set()
        for w in writers:
            w.join()
    assert done[0] > 100, done
    stopped = q(dsn, "SELECT clock_timestamp()")[0][0]
    try:
        until(
            lambda: (
                q(
                    dsn,
                    "SELECT count(*) FROM migration_log WHERE step = 'validate' AND mapping = 'spreads'"
                    " AND started_at > %s",
                    stopped,
                )[0][0]
                >= 2
            ),
            "two syncs after the writers stopped",
            timeout=120,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    for s in sides:
        missed = both_sides.differing(dsn, s) - conflicts(dsn, s.part)
        tables = ((s.legacy, s.keys[0]), (s.new, s.keys[1]))
        assert not missed, (s.mapping, missed, both_sides.explain(dsn, s.part, tables, missed))
        assert not both_sides.doubled(dsn, s), s.mapping
