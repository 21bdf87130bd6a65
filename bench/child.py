"""Runs ``python -m data_copy ...`` as a child process: wall time, exit code, peak RSS.

Peak RSS is the child's own high-water mark (``ru_maxrss`` from ``wait4`` on its pid, so
no other child of the benchmark is mixed in); the RSS is also sampled from
``/proc/<pid>/status`` every 50 ms, so "flat" can be judged within a run, not only at
its peak.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SECONDS = 0.05


@dataclass
class ChildRun:
    argv: list[str]
    seconds: float
    returncode: int
    peak_rss_mb: float
    rss_samples_mb: list[float] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""

    def tail(self, lines: int = 15) -> str:
        text = (self.stderr.strip() + "\n" + self.stdout.strip()).strip()
        return "\n".join(text.splitlines()[-lines:])

    def summary(self) -> str:
        """data_copy's own verdict: its `error:` line and its per-mapping failure bullets."""
        picked = [
            line.strip()
            for line in (self.stdout + "\n" + self.stderr).splitlines()
            if line.lstrip().startswith(("error:", "•"))
        ]
        return " | ".join(picked) if picked else self.tail(5).replace("\n", " | ")


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def data_copy_argv(command: str, dsn: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "data_copy", command, "--dsn", dsn, *extra]


def run(argv: list[str], env: dict[str, str] | None = None) -> ChildRun:
    """Run ``argv`` from the repository root; output goes to temporary files, not pipes."""
    child_env = dict(os.environ if env is None else env)
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    child_env["COLUMNS"] = "120"  # rich output in the captured log stays readable
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, cwd=REPO_ROOT, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=child_env
        )
        samples: list[float] = []
        done = threading.Event()

        def sample() -> None:
            while not done.wait(SAMPLE_SECONDS):
                value = _rss_mb(proc.pid)
                if value is not None:
                    samples.append(value)

        sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
        sampler.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            done.set()
            sampler.join()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ChildRun(
            argv=argv,
            seconds=seconds,
            returncode=proc.returncode,
            peak_rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
            rss_samples_mb=samples,
            stdout=out.read(),
            stderr=err.read(),
        )
