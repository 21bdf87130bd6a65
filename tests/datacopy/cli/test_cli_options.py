"""The cleanup/restore command-line options reach what the commands do: `python -m data_copy`
run as a user runs it, against a real legacy database (no stubs).

--disposable makes cleanup drop an unmapped legacy table that holds rows (without it the
same table makes cleanup refuse), --backup-dir is where cleanup writes its dump and where
restore looks for it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
from cleanup_support import UNMAPPED, build_legacy, legacy_fingerprints

from catalog.schemas import LEGACY_SCHEMAS

REPO = Path(__file__).resolve().parents[3]
DISPOSABLE = [arg for table in UNMAPPED for arg in ("--disposable", table)]


def data_copy(*args: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "data_copy", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "400"},
        timeout=600,
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def _schemas(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (list(LEGACY_SCHEMAS),))
        return {r[0] for r in rows}


def test_disposable_and_backup_dir_reach_cleanup_and_restore(fresh_dsn: str, tmp_path: Path) -> None:
    build_legacy(fresh_dsn)
    with psycopg.connect(fresh_dsn) as conn:
        before = legacy_fingerprints(conn)
    assert UNMAPPED and all(before[t][0] > 0 for t in UNMAPPED)  # they hold rows: not droppable by default

    # without --disposable, the unmapped tables holding rows make cleanup refuse (dry run: the plan says so)
    code, out, _ = data_copy("cleanup", "--dsn", fresh_dsn, "--dry-run", "--accept-legacy-reads")
    assert code == 3
    assert all(f"{t} (holds rows: cleanup refuses)" in out for t in UNMAPPED if not t.startswith("public.")), out
    # with every one of them named, the plan drops them with their schema
    code, out, _ = data_copy("cleanup", "--dsn", fresh_dsn, "--dry-run", "--accept-legacy-reads", *DISPOSABLE)
    assert code == 0, out
    assert all(f"{t} (holds rows, disposable)" in out for t in UNMAPPED if not t.startswith("public.")), out

    backups, elsewhere = tmp_path / "backups", tmp_path / "elsewhere"
    code, out, err = data_copy(
        "cleanup", "--dsn", fresh_dsn, "--accept-legacy-reads", "--backup-dir", str(backups), *DISPOSABLE
    )
    assert code == 0, out + err
    dumps = list(backups.iterdir())
    assert len(dumps) == 1 and dumps[0].stat().st_size > 0  # the dump went where --backup-dir said
    assert _schemas(fresh_dsn) == {"public"}

    # restore looks where --backup-dir says: an empty directory has no backup (exit 4, one line)
    elsewhere.mkdir()
    code, _, err = data_copy("restore", "--dsn", fresh_dsn, "--backup-dir", str(elsewhere))
    assert code == 4 and err.strip().splitlines() == [err.strip()] and f"no backup found in {elsewhere}" in err
    code, out, err = data_copy("restore", "--dsn", fresh_dsn, "--backup-dir", str(backups))
    assert code == 0, out + err
    with psycopg.connect(fresh_dsn) as conn:
        assert legacy_fingerprints(conn) == before
