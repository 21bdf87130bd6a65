"""Runs ``python -m data_copy ...`` as a child process: wall time, exit code, peak RSS.

Peak RSS is the child's own high-water mark, ``VmHWM`` in ``/proc/<pid>/status``, read
every 20 ms (it only grows, so the last reading is the peak up to 20 ms before exit).
Not ``ru_maxrss``: Linux carries the high-water mark of the pre-exec image into it, and
that image is a fork of this (larger) benchmark process, so it would report our size,
not data_copy's. ``VmRSS`` is sampled alongside, so "flat" can be judged within a run.
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
SAMPLE_SECONDS = 0.02


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


def _memory_mb(pid: int) -> tuple[float, float] | None:
    """(VmRSS, VmHWM) of a running process in MB; None once it has exited."""
    values: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    values[line[:5]] = int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    if "VmRSS" not in values or "VmHWM" not in values:
        return None  # a zombie has no memory lines
    return values["VmRSS"], values["VmHWM"]


def data_copy_argv(command: str, dsn: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "data_copy", command, "--dsn", dsn, *extra]


def run(argv: list[str], env: dict[str, str] | None = None) -> ChildRun:
    """Run ``argv`` from the repository root; output goes to temporary files, not pipes."""
    child_env = dict(os.environ if env is None else env)
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    child_env["COLUMNS"] = "120"  # rich output in the captured log stays readable
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=child_env)
        samples: list[float] = []
        peak = [0.0]
        done = threading.Event()
        cmdline = ("\0".join(argv) + "\0").encode()

        def sample() -> None:
            while not done.wait(SAMPLE_SECONDS):
                # only once the child has exec'd argv: before that it is a copy of us
                try:
                    with open(f"/proc/{proc.pid}/cmdline", "rb") as handle:
                        if handle.read() != cmdline:
                            continue
                except OSError:
                    continue
                value = _memory_mb(proc.pid)
                if value is not None:
                    samples.append(value[0])
                    peak[0] = max(peak[0], value[1])

        sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
        sampler.start()
        try:
            _, status = os.waitpid(proc.pid, 0)
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
            peak_rss_mb=peak[0],
            rss_samples_mb=samples,
            stdout=out.read(),
            stderr=err.read(),
        )
