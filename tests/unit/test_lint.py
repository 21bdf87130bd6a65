"""`make lint`'s import layers and type checker, run by the suite too, so CI (which runs
`make test`) fails on a wrong-way import or a type error as `make lint` does."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_no_import_runs_against_the_layers() -> None:
    """pyproject.toml's [tool.importlinter] contracts: data_copy's layers, catalog pure."""
    proc = subprocess.run([str(BIN / "lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_the_type_checker_is_clean() -> None:
    """mypy over data_copy, catalog, stack_settings and components ([tool.mypy])."""
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
