"""Phase 2 both ways (issue 27), measured: the lag of `run --follow` under writers on both
sides, and the cost of one sync both ways of a 1 % change.

After the scenario's other steps the database is switched to phase 2 (`switch`), then
(bench/scenario.py, each a timed and profiled ``data_copy run``):

1. both ways, once: a first sync (every key checked once, timed apart), then
   `change_both_sides` (1 % of every legacy table, and the application's 1 % of the new
   betting-line tables), then ``run --incremental --carry-back all``: ``both_ways_ratio`` is
   its time over the full copy with checksums;
2. the lag (`follow_lag`): ``run --follow --carry-back all --interval 1s`` runs while one writer inserts
   into a legacy table and another into a new table, ``RATE`` rows a second each; every row
   is looked for on the other side until it is there: ``follow_lag_p50_s``, ``_p99_s``.
"""

from __future__ import annotations

import signal
import statistics
import subprocess
import threading
import time
from collections.abc import Callable

import psycopg

from bench import child

RATE = 100  # rows per second and writer (the issue: "a few hundred rows per second")
FOLLOW_SECONDS = 20.0
SIDES = (  # (written table, the table the row must appear in)
    ("mlb_betting.moneyline", "core_betting.betting_lines_moneyline"),
    ("core_betting.betting_lines_spreads", "mlb_betting.spreads"),
)
_INSERT = "INSERT INTO {t} (game_id, sportsbook, odds_timestamp) VALUES (%s, 'bench-both-ways', now()) RETURNING id"
_LOOK = "SELECT id FROM {t} WHERE id = ANY(%s)"


def _writer(dsn: str, written: str, seen_in: str, stop: threading.Event, lags: list[float]) -> None:
    """Inserts RATE rows a second into `written`; a second connection looks for each in
    `seen_in` and records how long after its commit it appeared."""
    pending: list[tuple[int, float]] = []
    with psycopg.connect(dsn, autocommit=True) as conn, psycopg.connect(dsn, autocommit=True) as look:
        game = conn.execute(f"SELECT min(game_id) FROM {written}").fetchone()  # noqa: S608 - bench tables

        def arrived() -> None:
            nonlocal pending
            keys = [k for k, _ in pending]
            found = {r[0] for r in look.execute(_LOOK.format(t=seen_in), (keys,))}
            now = time.monotonic()
            lags.extend(now - at for k, at in pending if k in found)
            pending = [(k, at) for k, at in pending if k not in found]

        while not stop.is_set():
            row = conn.execute(_INSERT.format(t=written), (game[0] if game else None,)).fetchone()
            assert row is not None
            pending.append((int(row[0]), time.monotonic()))
            arrived()
            time.sleep(1.0 / RATE)
        deadline = time.monotonic() + 60  # the rows written last: until they arrive
        while pending and time.monotonic() < deadline:
            arrived()
            time.sleep(0.1)
        lags.extend(float("inf") for _ in pending)  # never arrived: counted, not hidden


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def change_both_sides(dsn: str, add_activity: Callable[[], object]) -> None:
    """1 % on each side: legacy_fixture.add_activity on legacy, and the application's update
    of every hundredth row of the new betting-line tables."""
    add_activity()
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in ("core_betting.betting_lines_moneyline", "core_betting.betting_lines_spreads"):
            conn.execute(f"UPDATE {table} SET sportsbook = sportsbook WHERE id % 100 = 0")  # noqa: S608


def follow_lag(dsn: str, log: Callable[[str], None]) -> dict[str, float]:
    """The lag of ``run --follow --carry-back all --interval 1s`` under a writer on each side
    (seconds from a row's commit until the other side shows it)."""
    metrics: dict[str, float] = {}
    proc = subprocess.Popen(
        [*child.data_copy_argv("run", dsn, "--follow", "--carry-back", "all", "--interval", "1s")],
        cwd=child.REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3.0)  # its first sync
    stop = threading.Event()
    lags: list[float] = []
    threads = [threading.Thread(target=_writer, args=(dsn, w, s, stop, lags)) for w, s in SIDES]
    for t in threads:
        t.start()
    time.sleep(FOLLOW_SECONDS)
    stop.set()
    for t in threads:
        t.join()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    if proc.returncode:
        raise RuntimeError(f"both ways: run --follow exited {proc.returncode}: {err.strip()[-500:]}")
    finite = [x for x in lags if x != float("inf")]
    metrics["follow_rows"] = float(len(lags))
    metrics["follow_lost"] = float(len(lags) - len(finite))
    metrics["follow_lag_p50_s"] = _quantile(lags, 0.5)
    metrics["follow_lag_p99_s"] = _quantile(lags, 0.99)
    metrics["follow_lag_mean_s"] = statistics.fmean(finite) if finite else float("nan")
    log(
        f"follow: {len(lags)} rows, lag p50 {metrics['follow_lag_p50_s']:.2f} s,"
        f" p99 {metrics['follow_lag_p99_s']:.2f} s, {int(metrics['follow_lost'])} never arrived"
    )
    return metrics
