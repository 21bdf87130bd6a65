"""Finding PostgreSQL's programs, in one order for everyone (pgcluster's server, data_copy's pg_dump).

The order: ``$PGCLUSTER_BINDIR``, ``pg_config --bindir``, ``/usr/lib/postgresql/<major>/bin``
(newest first), then ``PATH`` (programs only). Standard library only: pgcluster (tests, demo,
benchmarks) and data_copy both import it, neither imports the other.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

ENV = "PGCLUSTER_BINDIR"
SERVER_TOOLS = ("initdb", "pg_ctl", "postgres")
_VERSIONED = Path("/usr/lib/postgresql")


def bindirs() -> list[Path]:
    """Every directory that may hold PostgreSQL's programs, in the one order (no duplicates)."""
    found: list[Path] = []
    env = os.environ.get(ENV)
    if env:
        found.append(Path(env))
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], check=True, capture_output=True, text=True, timeout=30
            ).stdout.strip()
            if out:
                found.append(Path(out))
    found += sorted(
        _VERSIONED.glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else -1,
        reverse=True,
    )
    unique: list[Path] = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return unique


def find_bindir(tools: Sequence[str] = SERVER_TOOLS) -> Path | None:
    """The first directory (in the one order) that holds every one of `tools`, or None."""
    return next((d for d in bindirs() if all((d / t).is_file() for t in tools)), None)


def program_major(path: Path) -> int | None:
    """The major version a PostgreSQL program reports (`pg_dump --version` -> 15), or None."""
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\s(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else None


def find_program(name: str, major: int) -> tuple[Path | None, list[str]]:
    """(path of `name` for a server of version `major`, the candidates found too old).

    Among the candidates in the one order (then PATH): the first of exactly `major`, else the
    newest newer one (a client cannot serve a newer server: pg_dump refuses to dump one).
    """
    candidates = [d / name for d in bindirs()]
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    newer: list[tuple[int, Path]] = []
    too_old: list[str] = []
    seen: set[Path] = set()
    for path in candidates:
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        version = program_major(path)
        if version == major:
            return path, too_old
        if version is not None and version > major:
            newer.append((version, path))
        else:
            too_old.append(f"{path} ({version})")
    if newer:
        return max(newer, key=lambda vp: vp[0])[1], too_old
    return None, too_old
