"""The throwaway PostgreSQL cluster the benchmark runs on, and what machine it is."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from pgcluster import Cluster, ServerSettings

# pg_stat_statements is the profiler: every statement data_copy and the baseline run is
# timed server-side, so a missed target can name the statements that dominate.
PROFILE_SETTINGS = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "top",
    "pg_stat_statements.max": "2000",
    "track_io_timing": "on",
}


def server_settings(fsync: bool) -> ServerSettings:
    """pgcluster's bulk-load defaults (fsync on, unless asked), plus the profiler."""
    return ServerSettings(fsync=fsync, extra=PROFILE_SETTINGS)


@contextmanager
def throwaway(fsync: bool = True) -> Iterator[Cluster]:
    """A new cluster in a temporary directory, stopped and removed on exit."""
    with Cluster.throwaway(settings=server_settings(fsync), prefix="bench-pg-") as cluster:
        yield cluster


def _meminfo_mb() -> int:
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 0


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(dsn: str) -> dict[str, Any]:
    """nproc, memory, CPU, kernel and the PostgreSQL server's version and key settings."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        settings = dict(
            conn.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
                (
                    [
                        "shared_buffers",
                        "work_mem",
                        "maintenance_work_mem",
                        "fsync",
                        "synchronous_commit",
                        "max_wal_size",
                        "max_parallel_workers_per_gather",
                    ],
                ),
            ).fetchall()
        )
    return {
        "nproc": os.cpu_count() or 0,
        "memory_mb": _meminfo_mb(),
        "cpu": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": version[0] if version else "unknown",
        "server_settings": settings,
    }
