"""The README's walkthrough: the commands an owner types, read from README.md and run as typed.

The block is the fenced `sh` block after the line WALKTHROUGH_MARKER in README.md. A line
`# N. Title` starts step N; other comment lines are notes; every other line is one command,
run by bash as it is written. Step 0's `export` lines set up the shell (PATH, the server, the
passphrase): environment() runs them once and keeps the environment they leave. `make demo`
runs steps 0 and 1 and prints the rest; tests/e2e/test_walkthrough.py runs every step against a
throwaway cluster (only the `export PGHOST=...` line is the test's own), so the two cannot drift.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
WALKTHROUGH_MARKER = "<!-- walkthrough: run as written by make demo (steps 0-1) and tests/e2e/test_walkthrough.py -->"
SERVER_LINE = "export PGHOST="
"""The one line that names the server (the demo's local cluster); a test puts its own there."""

_STEP = re.compile(r"^# (\d+)\. (.+)$")


class WalkthroughError(Exception):
    """README.md has no walkthrough block of the expected shape (one line, what is wrong)."""


@dataclass(frozen=True)
class Step:
    number: int
    title: str
    lines: tuple[str, ...]
    """The step's lines after its heading: comments (notes) and commands, in order."""

    @property
    def commands(self) -> tuple[str, ...]:
        return tuple(line for line in self.lines if not line.startswith("#"))

    @property
    def setup(self) -> tuple[str, ...]:
        """The `export` lines (step 0): they set up the shell rather than do anything."""
        return tuple(c for c in self.commands if c.startswith("export "))

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(c for c in self.commands if not c.startswith("export "))


def block(page: Path = README, marker: str = WALKTHROUGH_MARKER) -> list[str]:
    """The lines of the fenced block after the line `marker` of `page`."""
    lines = page.read_text(encoding="utf-8").splitlines()
    try:
        start = lines.index(marker)
        opening = next(i for i in range(start + 1, len(lines)) if lines[i].strip().startswith("```"))
        closing = next(i for i in range(opening + 1, len(lines)) if lines[i].strip() == "```")
    except (ValueError, StopIteration):
        raise WalkthroughError(f"{page} has no fenced block after the line {marker!r}") from None
    return lines[opening + 1 : closing]


def steps(page: Path = README, marker: str = WALKTHROUGH_MARKER) -> list[Step]:
    """The numbered steps of the block (README's walkthrough unless told another page's)."""
    found: list[Step] = []
    for line in block(page, marker):
        text = line.strip()
        heading = _STEP.match(text)
        if heading:
            found.append(Step(int(heading.group(1)), heading.group(2), ()))
        elif text:
            if not found:
                raise WalkthroughError(f"walkthrough line before the first '# 0. ...' step: {text}")
            last = found[-1]
            found[-1] = Step(last.number, last.title, (*last.lines, text))
    if [s.number for s in found] != list(range(len(found))):
        raise WalkthroughError(f"walkthrough steps are not numbered 0, 1, 2, ...: {[s.number for s in found]}")
    return found


def for_stack(command: str, stack: str) -> str:
    """The command for another stack than the walkthrough's `dev`."""
    return re.sub(r"(--create|--stack) dev\b", rf"\1 {stack}", command)


def environment(setup: list[str] | tuple[str, ...], base: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """The environment a bash shell has after running the `setup` lines (in `cwd`, from `base`)."""
    script = "set -e\n" + "\n".join(setup) + "\nenv -0\n"
    proc = subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=dict(base), capture_output=True, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        detail = (proc.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise WalkthroughError(f"the walkthrough's setup lines failed: {detail}")
    pairs = (item.split("=", 1) for item in proc.stdout.decode(errors="surrogateescape").split("\0") if "=" in item)
    return {k: v for k, v in pairs if k not in ("_", "SHLVL", "PWD", "OLDPWD")}


def run(command: str, env: Mapping[str, str], cwd: Path, capture: bool = True) -> subprocess.CompletedProcess[str]:
    """One command, run by bash as typed (output captured, or shown as it comes)."""
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=dict(env),
        capture_output=capture,
        text=True,
        stdin=subprocess.DEVNULL,
    )
