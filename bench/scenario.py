"""One scale, end to end, on one empty database: every measurement of the issue, in one run.

Order (each timed copy starts from the same state: legacy data, empty structure, a
CHECKPOINT just before):

1. legacy built with legacy_fixture (seed 42), then VACUUM (FREEZE, ANALYZE), so no
   copy pays for hint bits or autovacuum of the freshly loaded legacy tables;
2. baseline: the hand-written script (bench.baseline) into tables from data_copy's DDL;
3. ``python -m data_copy run --count-only`` (a child process: wall time, peak RSS);
4. ``python -m data_copy run`` (checksum validation);
5. ``count(*)`` of every legacy and new table, and a read of every column of both
   (``count(<last column>)``), vs ``data_copy.api.validate`` (checksums), all on warm caches;
6. re-sync: ``legacy_fixture.add_activity`` (1 % new rows + some updates) and
   bench.changes.delete_some (0.2 % deletes), then ``data_copy run`` again (checksums);
   then ``validate --incremental`` against a full ``validate`` (bench.changes); then one
   more activity and ``run --count-only``; then the same again with the replica identity
   opt-in on the keyless legacy table (``--replica-identity-full``);
7. the writer: on the idle database, then during a full ``data_copy run`` (checksums),
   then during a paced one (``--pace``, bench.changes.PACE);
8. phase 2 both ways (bench.both_ways): ``switch``, 1 % on each side, one
   ``run --incremental --carry-back all``, then the lag of ``run --follow`` under a writer
   on each side.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from bench import baseline, both_ways, changes, child, profile, structure
from bench.writer import WRITER_TABLES, WaitSampler, Writer, WriterStats
from catalog.mappings import copy_order
from data_copy.mapping_sql.target_tables import create_tables
from data_copy.settings import Settings

Log = Callable[[str], None]

SEED = 42
ACTIVITY_FRACTION = 0.01
BETTING_LINES = ("mlb_betting.moneyline", "mlb_betting.spreads", "mlb_betting.totals")
RAW_SPLITS = "splits.raw_mlb_betting_splits"


@dataclass
class Options:
    writer_interval: float = 0.01  # seconds between two writer inserts (≤ 100 inserts/s)
    idle_seconds: float = 10.0  # how long the writer runs on the idle database
    profile_limit: int = 8
    repeat: int = 1  # baseline + both full copies this many times each; the fastest counts


@dataclass
class ScaleResult:
    scale: str
    metrics: dict[str, float] = field(default_factory=dict)  # the keys + extras
    rows: dict[str, int] = field(default_factory=dict)  # legacy table -> rows after build
    steps: dict[str, float] = field(default_factory=dict)  # every timed step, seconds
    profiles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    breakdown: dict[str, dict[str, float]] = field(default_factory=dict)  # step -> category -> s
    runs: dict[str, list[float]] = field(default_factory=dict)  # step -> seconds of every run
    writer_waits: dict[str, dict[str, int]] = field(default_factory=dict)  # what the writer waited on
    baseline_statements: list[dict[str, Any]] = field(default_factory=list)
    rss_samples_mb: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _timed(log: Log, label: str, fn: Callable[[], Any]) -> tuple[float, Any]:
    log(f"{label} ...")
    start = time.perf_counter()
    value = fn()
    elapsed = time.perf_counter() - start
    log(f"{label}: {elapsed:.2f} s")
    return elapsed, value


def _lock_timeout_ms(dsn: str, settings: Settings) -> float:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT set_config('lock_timeout', %s, false)", (settings.lock_timeout,))
        row = conn.execute("SELECT setting::float8 FROM pg_settings WHERE name = 'lock_timeout'").fetchone()
    return float(row[0]) if row else math.nan  # pg_settings reports lock_timeout in ms


def _build(dsn: str, scale: str) -> dict[str, int]:
    import legacy_fixture

    with psycopg.connect(dsn, autocommit=True) as conn:
        counts = legacy_fixture.build(conn, scale, seed=SEED)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM (FREEZE, ANALYZE)")
        conn.execute("CHECKPOINT")
    return {str(k): int(v) for k, v in dict(counts).items()}


def _add_activity(dsn: str) -> dict[str, int]:
    import legacy_fixture

    with psycopg.connect(dsn, autocommit=True) as conn:
        counts = legacy_fixture.add_activity(conn, fraction=ACTIVITY_FRACTION)
    return {str(k): int(v) for k, v in dict(counts or {}).items()}


def _table_rows(dsn: str, tables: list[str]) -> dict[str, int]:
    rows: dict[str, int] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in tables:
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*name.split(".")))).fetchone()
            rows[name] = int(row[0]) if row else 0
    return rows


def _count_both_sides(dsn: str) -> int:
    """``SELECT count(*)`` of every mapped legacy table and every target, one after another."""
    total = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        for m in copy_order():
            for name in (*m.sources, m.target):
                row = conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*name.split(".")))
                ).fetchone()
                total += int(row[0]) if row else 0
    return total


def _read_both_sides(dsn: str) -> int:
    """Every mapped legacy table and every target read whole, every column, no hashing:
    ``count(<last column>)`` (the read a validation cannot do without), one after another."""
    total = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        for m in copy_order():
            for name in (*m.sources, m.target):
                row = conn.execute(
                    "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0"
                    " AND NOT a.attisdropped ORDER BY a.attnum DESC LIMIT 1",
                    (name,),
                ).fetchone()
                assert row is not None
                counted = conn.execute(
                    sql.SQL("SELECT count({}) FROM {}").format(sql.Identifier(row[0]), sql.Identifier(*name.split(".")))
                ).fetchone()
                total += int(counted[0]) if counted else 0
    return total


def _empty_structure(dsn: str, settings: Settings) -> None:
    structure.reset(dsn, settings)
    structure.checkpoint(dsn)


def prepare_baseline(dsn: str, settings: Settings) -> None:
    """The baseline's starting point: empty structure plus data_copy's empty tables."""
    _empty_structure(dsn, settings)
    with psycopg.connect(dsn, autocommit=True) as conn:
        create_tables(conn, settings.owner_role)
    structure.checkpoint(dsn)


def prepare_only(dsn: str, scale: str, settings: Settings | None = None, log: Log = print) -> None:
    """Legacy data + empty consolidated tables, for an independent run of the baseline script."""
    settings = settings or Settings()
    _timed(log, f"build legacy ({scale})", lambda: _build(dsn, scale))
    prepare_baseline(dsn, settings)


class _Runner:
    def __init__(self, dsn: str, scale: str, settings: Settings, options: Options, log: Log) -> None:
        self.dsn = dsn
        self.settings = settings
        self.options = options
        self.log = log
        self.result = ScaleResult(scale)
        self.profiling = profile.enable(dsn)
        self.peak_rss: list[float] = []

    # ------------------------------------------------------------------ helpers
    def _profile(self, step: str) -> None:
        if self.profiling:
            self.result.profiles[step] = [p.as_dict() for p in profile.top(self.dsn, self.options.profile_limit)]
            self.result.steps[f"{step}_server"] = profile.total_ms(self.dsn) / 1000
            self.result.breakdown[step] = {k: v / 1000 for k, v in sorted(profile.breakdown(self.dsn).items())}

    def _reset_profile(self) -> None:
        if self.profiling:
            profile.reset(self.dsn)

    def _best(self, step: str, seconds: float) -> bool:
        """Record ``seconds`` for ``step`` if it is its fastest run so far (repeats)."""
        self.result.runs.setdefault(step, []).append(round(seconds, 3))
        previous = self.result.steps.get(step)
        if previous is not None and previous <= seconds:
            return False
        self.result.steps[step] = seconds
        return True

    def _data_copy(self, step: str, *extra: str, allowed: tuple[int, ...] = (0,)) -> float:
        """``python -m data_copy run --dsn DSN [extra]`` as a child; returns seconds."""
        self._reset_profile()
        argv = child.data_copy_argv("run", self.dsn, *extra)
        self.log(f"{step}: python -m data_copy run {' '.join(extra)} ...")
        run = child.run(argv)
        self.log(f"{step}: {run.seconds:.2f} s, exit {run.returncode}, peak RSS {run.peak_rss_mb:.1f} MB")
        if self._best(step, run.seconds):
            self._profile(step)
            self.result.rss_samples_mb[step] = [round(v, 1) for v in run.rss_samples_mb[::10]]
        key = f"{step}_peak_rss_mb"
        self.result.metrics[key] = max(self.result.metrics.get(key, 0.0), run.peak_rss_mb)
        self.peak_rss.append(run.peak_rss_mb)
        if run.returncode not in allowed:
            self.result.errors.append(f"{step}: data_copy exited {run.returncode}: {run.summary()}")
            self.log(f"{step}: FAILED (exit {run.returncode}): {run.summary()}")
        return self.result.steps[step]

    # -------------------------------------------------------------------- steps
    def build(self, scale: str) -> None:
        seconds, counts = _timed(self.log, f"build legacy ({scale})", lambda: _build(self.dsn, scale))
        self.result.steps["build_legacy"] = seconds
        mapped = sorted({s for m in copy_order() for s in m.sources})
        self.result.rows = _table_rows(self.dsn, mapped)
        self.result.metrics["fixture_rows_reported"] = float(sum(counts.values()))
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        self.result.metrics["database_mb"] = (row[0] if row else 0) / 1048576

    def startup(self) -> None:
        """What every data_copy child pays before its first query: Python + imports."""
        run = child.run([sys.executable, "-c", "import data_copy.cli, data_copy.api"])
        self.result.steps["data_copy_startup"] = run.seconds
        self.result.metrics["data_copy_startup_s"] = run.seconds
        self.result.metrics["data_copy_idle_rss_mb"] = run.peak_rss_mb

    def run_baseline(self) -> float:
        """The baseline script once; returns the fastest baseline so far."""
        prepare_baseline(self.dsn, self.settings)
        self._reset_profile()
        self.log("baseline: hand-written INSERT ... SELECT script ...")
        timings = baseline.run(self.dsn, self.settings.legacy_timezone)
        inserts = sum(t.seconds for t in timings if t.phase != "finish")
        finish = sum(t.seconds for t in timings if t.phase == "finish")
        self.log(f"baseline: {inserts + finish:.2f} s (inserts {inserts:.2f} s, indexes+keys {finish:.2f} s)")
        if self._best("baseline", inserts + finish):
            self.result.steps["baseline_insert"] = inserts
            self.result.steps["baseline_finish"] = finish
            self.result.metrics["baseline_rows"] = float(sum(t.rows for t in timings))
            self.result.baseline_statements = [
                {"label": t.label, "phase": t.phase, "seconds": t.seconds, "rows": t.rows} for t in timings
            ]
            self._profile("baseline")
        return self.result.steps["baseline"]

    def run_copies(self) -> tuple[float, float]:
        """Both full copies once; returns the fastest of each so far."""
        _empty_structure(self.dsn, self.settings)
        count_s = self._data_copy("copy_count", "--count-only")
        _empty_structure(self.dsn, self.settings)
        checksum_s = self._data_copy("copy_checksum")
        return count_s, checksum_s

    def run_validate(self) -> tuple[float, float]:
        from data_copy import api

        _count_both_sides(self.dsn)  # warm the caches the same way for both
        count_s, rows = _timed(self.log, "count(*) both sides", lambda: _count_both_sides(self.dsn))
        self.result.metrics["counted_rows"] = float(rows)
        _read_both_sides(self.dsn)  # warm, as for count(*)
        read_s, _ = _timed(self.log, "read every column, both sides", lambda: _read_both_sides(self.dsn))
        self.result.steps["read_both_sides"] = read_s
        self._reset_profile()
        validate_s, results = _timed(
            self.log, "validate (checksums)", lambda: api.validate(self.dsn, self.settings, True)
        )
        self._profile("validate")
        failed = [f"{r.name} ({r.message})" for r in results if r.status != "passed"]
        if failed:
            self.result.errors.append(f"validate right after a passing copy failed: {'; '.join(failed)}")
        self.result.metrics["target_rows"] = float(sum(r.target_count for r in results))
        count_only_s, _ = _timed(
            self.log, "validate (counts only)", lambda: api.validate(self.dsn, self.settings, False)
        )
        self.result.steps["count_both_sides"] = count_s
        self.result.steps["validate_checksum"] = validate_s
        self.result.steps["validate_count"] = count_only_s
        return count_s, validate_s

    def run_resync(self) -> tuple[float, float]:
        seconds, counts = _timed(self.log, "add_activity (1 %)", lambda: _add_activity(self.dsn))
        self.result.steps["add_activity_checksum"] = seconds
        self.result.metrics["activity_rows_checksum"] = float(sum(counts.values()))
        deleted = changes.delete_some(self.dsn)
        self.result.metrics["activity_deleted_rows"] = float(sum(len(k) for k in deleted.values()))
        since = changes.current_xid(self.dsn)
        structure.checkpoint(self.dsn)
        resync_s = self._data_copy("resync_checksum", "--incremental")
        self.log("validate --incremental, then validate (full), after the re-sync ...")
        inc_s, full_s, cold_s, keys, emulated, failed = changes.time_validations(
            self.dsn, self.settings, since, deleted, warm=lambda: _count_both_sides(self.dsn)
        )
        self.log(f"validate --incremental {inc_s:.2f} s ({keys} keys; {cold_s:.2f} s cold), full {full_s:.2f} s")
        self.result.steps["validate_incremental"] = inc_s
        self.result.steps["validate_incremental_cold"] = cold_s
        self.result.steps["validate_after_resync"] = full_s
        self.result.metrics["validate_incremental_keys"] = float(keys)
        self.result.metrics["validate_incremental_emulated"] = float(emulated)
        if failed:
            self.result.errors.append(f"validation after the re-sync failed: {'; '.join(failed)}")
        seconds, counts = _timed(self.log, "add_activity (1 %)", lambda: _add_activity(self.dsn))
        self.result.steps["add_activity_count"] = seconds
        self.result.metrics["activity_rows_count"] = float(sum(counts.values()))
        structure.checkpoint(self.dsn)
        resync_count_s = self._data_copy("resync_count", "--count-only")
        self._resync_with_replica_identity()
        return resync_s, resync_count_s

    def _resync_with_replica_identity(self) -> None:
        """The same 1 % change synced with the owners' opt-in (REPLICA IDENTITY FULL on the
        keyless legacy table): set by one run first, so the change's deletes carry keys;
        undone after (capture-drop), so that no later step pays its WAL."""
        opt_in = ("--replica-identity-full", RAW_SPLITS)
        self._data_copy("resync_ri_set", "--incremental", "--count-only", *opt_in)
        _timed(self.log, "add_activity (1 %)", lambda: _add_activity(self.dsn))
        changes.delete_some(self.dsn)
        structure.checkpoint(self.dsn)
        self._data_copy("resync_ri", "--incremental", *opt_in)
        undone = child.run(child.data_copy_argv("capture-drop", self.dsn))
        if undone.returncode:
            self.result.errors.append(f"capture-drop after the opt-in: exit {undone.returncode}: {undone.summary()}")

    def _under_load(self, label: str, work: Callable[[], object]) -> WriterStats:
        """The writer (and the wait sampler) running while ``work`` runs."""
        structure.checkpoint(self.dsn)
        sampler = WaitSampler(self.dsn).start()
        writer = Writer(self.dsn, interval=self.options.writer_interval).start()
        try:
            work()
        finally:
            stats = writer.stop()
            self.result.writer_waits[label] = sampler.stop()
        self.log(
            f"writer {label}: {stats.rows} inserts, p50 {stats.p50_ms:.2f} ms,"
            f" p99 {stats.p99_ms:.2f} ms, max {stats.max_ms:.1f} ms"
        )
        if stats.errors:
            self.result.errors.append(f"writer ({label}): {len(stats.errors)} failed inserts, e.g. {stats.errors[0]}")
        return stats

    def run_writer(self) -> tuple[WriterStats, WriterStats, WriterStats]:
        """The writer idle, during the baseline script (the control) and during data_copy run."""
        _empty_structure(self.dsn, self.settings)
        self.log(f"writer on the idle database ({self.options.idle_seconds:.0f} s) ...")
        sampler = WaitSampler(self.dsn).start()
        idle = Writer(self.dsn, interval=self.options.writer_interval).run_for(self.options.idle_seconds)
        self.result.writer_waits["idle"] = sampler.stop()
        self.log(f"writer idle: {idle.rows} inserts, p50 {idle.p50_ms:.2f} ms, p99 {idle.p99_ms:.2f} ms")
        if idle.errors:
            self.result.errors.append(f"writer (idle): {len(idle.errors)} failed, e.g. {idle.errors[0]}")
        # the control: what any bulk load does to the application on this disk, untimed
        prepare_baseline(self.dsn, self.settings)
        during_baseline = self._under_load(
            "during the baseline", lambda: baseline.run(self.dsn, self.settings.legacy_timezone)
        )
        _empty_structure(self.dsn, self.settings)
        # the writer's rows arrive during the copy: a run may end before it sees the last
        # of them, so a validation mismatch (exit 1) is expected here, not a failure
        during_copy = self._under_load(
            "during data_copy run", lambda: self._data_copy("copy_under_load", allowed=(0, 1))
        )
        self.result.metrics["writer_lock_wait_samples"] = float(
            sum(n for k, n in self.result.writer_waits["during data_copy run"].items() if k.startswith("Lock:"))
        )
        return idle, during_baseline, during_copy

    def run_both_ways(self) -> None:
        """Phase 2 both ways, last: it switches the database (bench.both_ways)."""
        self._data_copy("both_ways_validated")  # after the paced copy: a validated phase 1
        switched = child.run(child.data_copy_argv("switch", self.dsn))
        if switched.returncode:
            self.result.errors.append(f"switch: exit {switched.returncode}: {switched.summary()}")
            return
        self._data_copy("both_ways_first", "--incremental", "--carry-back", "all")
        _timed(
            self.log, "1 % on each side", lambda: both_ways.change_both_sides(self.dsn, lambda: _add_activity(self.dsn))
        )
        structure.checkpoint(self.dsn)
        self._data_copy("both_ways", "--incremental", "--carry-back", "all")
        self.result.metrics.update(both_ways.follow_lag(self.dsn, self.log))

    def run_paced(self) -> WriterStats:
        """The writer during a paced full copy (the same load as copy_under_load)."""
        _empty_structure(self.dsn, self.settings)
        return self._under_load(
            "during a paced data_copy run",
            lambda: self._data_copy("copy_paced", "--pace", changes.PACE, allowed=(0, 1)),
        )


def run_scale(
    dsn: str,
    scale: str,
    settings: Settings | None = None,
    options: Options | None = None,
    log: Log = print,
) -> ScaleResult:
    """Every measurement for ``scale`` on the empty database ``dsn``."""
    settings = settings or Settings()
    options = options or Options()
    r = _Runner(dsn, scale, settings, options, lambda msg: log(f"[{scale}] {msg}"))
    load_start = os.getloadavg()[0]
    r.build(scale)
    r.startup()
    # repeats alternate baseline and copies, so a burst of other load hits both alike;
    # the fastest run of each counts
    for _ in range(options.repeat):
        baseline_s = r.run_baseline()
        count_s, checksum_s = r.run_copies()
    counts_s, validate_s = r.run_validate()
    resync_s, resync_count_s = r.run_resync()
    idle, during_baseline, loaded = r.run_writer()
    paced = r.run_paced()
    r.run_both_ways()

    m = r.result.metrics
    m["repeat"] = float(options.repeat)
    for step in ("baseline", "copy_count", "copy_checksum"):
        times = r.result.runs.get(step, [])
        if len(times) > 1:  # how much the same step varied here: the noise the ratios carry
            m[f"{step}_spread_pct"] = (max(times) / min(times) - 1) * 100
    m["baseline_s"] = baseline_s
    m["baseline_insert_s"] = r.result.steps["baseline_insert"]
    m["copy_count_s"] = count_s
    m["copy_checksum_s"] = checksum_s
    m["copy_count_ratio"] = count_s / baseline_s
    m["copy_checksum_ratio"] = checksum_s / baseline_s
    m["count_both_sides_s"] = counts_s
    m["validate_s"] = validate_s
    m["validate_vs_count_ratio"] = validate_s / counts_s
    m["read_both_sides_s"] = r.result.steps["read_both_sides"]
    m["validate_vs_read_ratio"] = validate_s / m["read_both_sides_s"]
    m["validate_count_only_s"] = r.result.steps["validate_count"]
    m["validate_count_only_vs_count_ratio"] = r.result.steps["validate_count"] / counts_s
    m["resync_s"] = resync_s
    m["resync_ratio"] = resync_s / checksum_s
    m["resync_ri_s"] = r.result.steps["resync_ri"]
    m["resync_ri_ratio"] = m["resync_ri_s"] / checksum_s
    m["resync_count_s"] = resync_count_s
    m["resync_count_ratio"] = resync_count_s / count_s
    m["peak_rss_mb"] = max(r.peak_rss)
    m["writer_idle_p50_ms"] = idle.p50_ms
    m["writer_idle_p99_ms"] = idle.p99_ms
    m["writer_p50_ms"] = loaded.p50_ms
    m["writer_p99_ms"] = loaded.p99_ms
    m["writer_p50_ratio"] = loaded.p50_ms / idle.p50_ms
    m["writer_p99_ratio"] = loaded.p99_ms / idle.p99_ms
    m["writer_max_wait_ms"] = loaded.max_ms
    m["writer_idle_max_ms"] = idle.max_ms
    m["writer_baseline_p50_ms"] = during_baseline.p50_ms
    m["writer_baseline_p99_ms"] = during_baseline.p99_ms
    m["writer_baseline_max_ms"] = during_baseline.max_ms
    m["writer_baseline_p99_ratio"] = during_baseline.p99_ms / idle.p99_ms
    m["writer_inserts"] = float(loaded.rows)
    m["writer_idle_inserts"] = float(idle.rows)
    m["copy_under_load_s"] = r.result.steps["copy_under_load"]
    m["validate_incremental_s"] = r.result.steps["validate_incremental"]
    m["validate_after_resync_s"] = r.result.steps["validate_after_resync"]
    m["validate_incremental_ratio"] = m["validate_incremental_s"] / m["validate_after_resync_s"]
    m["validate_incremental_cold_s"] = r.result.steps["validate_incremental_cold"]
    m["resync_captured"] = 0.0 if m["validate_incremental_emulated"] else 1.0  # else: the scan path
    m["copy_paced_s"] = r.result.steps["copy_paced"]
    m["paced_copy_ratio"] = m["copy_paced_s"] / m["copy_under_load_s"]
    m["writer_paced_p50_ms"] = paced.p50_ms
    m["writer_paced_p99_ms"] = paced.p99_ms
    m["writer_paced_max_ms"] = paced.max_ms
    m["writer_p99_paced_ratio"] = paced.p99_ms / idle.p99_ms
    m["both_ways_s"] = r.result.steps.get("both_ways", math.nan)
    m["both_ways_first_s"] = r.result.steps.get("both_ways_first", math.nan)
    m["both_ways_ratio"] = m["both_ways_s"] / checksum_s
    m["lock_timeout_ms"] = _lock_timeout_ms(dsn, settings)
    m["rows_raw_splits"] = float(r.result.rows.get(RAW_SPLITS, 0))
    m["rows_betting_lines"] = float(sum(r.result.rows.get(t, 0) for t in BETTING_LINES))
    m["rows_legacy_mapped"] = float(sum(r.result.rows.values()))
    # other work on this machine during the run makes every ratio noisier: recorded, not hidden
    m["loadavg_1m_start"] = load_start
    m["loadavg_1m_end"] = os.getloadavg()[0]
    return r.result


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=child.REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


__all__ = ["Options", "ScaleResult", "WRITER_TABLES", "git_commit", "prepare_only", "run_scale"]
