"""Issue 26, (4): the README's tear-down steps, run literally on the real engine: a stack
in phase 1 with a first run, torn down by the steps as the README (or docs/) writes them,
then `pulumi up` and `data_copy run` again: 14/14 validated, 0 rejected, the first run's
checksums, legacy untouched, nothing of the first life left in between."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from test_stack_support import REPO_ROOT, Deployed, Engine, managed_roles, new_schemas, stack_on, unique

import legacy_fixture
from catalog.legacy import LEGACY_TABLES
from data_copy.state import journal

pytestmark = pytest.mark.e2e

ANCHOR = "To tear a stack down on purpose"


def teardown_steps() -> list[str]:
    """The commands of the indented block that follows ANCHOR in README.md (or, once it moved
    there, a file of docs/): the test runs what users read, and fails on a step it cannot run."""
    for path in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("**/*.md"))]:
        text = path.read_text() if path.exists() else ""
        at = text.find(ANCHOR)
        if at < 0:
            continue
        block = re.search(r"\n\n((?:[ \t]{4,}\S.*\n)+)", text[at:])
        assert block, f"{path.name}: no indented command block after {ANCHOR!r}"
        return [line.strip() for line in block.group(1).splitlines()]
    raise AssertionError(f"no {ANCHOR!r} in README.md or docs/")


def _run_step(step: str, d: Deployed, env: dict[str, str]) -> None:
    words = shlex.split(step.replace("NAME", d.stack.name))
    if words[:3] == ["python", "-m", "data_copy"]:
        proc = subprocess.run(
            [sys.executable, *words[1:]],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, f"{step}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        assert "legacy untouched" in proc.stdout, proc.stdout
    elif words[0] == "pulumi":  # the toolchain's CLI on the stack's workspace, answered yes
        d.stack._run_pulumi_cmd_sync([*words[1:], "--yes"])
    else:
        raise AssertionError(f"a tear-down step this test cannot run: {step!r}")


def _checksums(dsn: str) -> dict[str, tuple]:
    with psycopg.connect(dsn) as conn:
        return {
            v.mapping: (v.status, v.source_count, v.target_count, v.source_checksum, v.target_checksum)
            for v in journal.latest_validations(conn)
        }


def _legacy(dsn: str) -> dict[str, str]:
    with psycopg.connect(dsn) as conn:
        return {
            t.qualified: conn.execute(
                sql.SQL("SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {} AS x").format(
                    sql.Identifier(*t.qualified.split("."))
                )
            ).fetchone()[0]
            for t in LEGACY_TABLES
            if t.kind == "table"
        }


def _run(d: Deployed, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "data_copy", "run", "--stack", d.stack.name],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "14/14 mappings validated" in proc.stdout and " 0 rejected" in proc.stdout, proc.stdout[-2000:]
    return proc.stdout


def test_the_readme_teardown_then_up_and_run_is_the_first_run_again(engine: Engine, tmp_path: Path) -> None:
    steps = teardown_steps()
    assert any(s.startswith("python -m data_copy reset ") for s in steps), steps
    with psycopg.connect(engine.dsn, autocommit=True) as conn:
        legacy_fixture.build(conn, "tiny")
    prefix = unique("t") + "_"
    with stack_on(engine, prefix, protect=True) as d:
        d.up()
        _run(d, engine.env)
        first, legacy = _checksums(d.dsn()), _legacy(d.dsn())

        for step in steps:
            _run_step(step, d, engine.env)
        with d.connect() as conn:
            assert new_schemas(conn) == {} and managed_roles(conn, prefix) == {}
            assert conn.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'migration\\_%'").fetchone() == (
                0,
            )
            assert conn.execute(
                "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()"
            ).fetchone() == (0,)
            assert conn.execute(
                "SELECT count(*) FROM pg_replication_origin WHERE strpos(roname, current_database()) > 0"
            ).fetchone() == (0,)
        assert _legacy(d.dsn()) == legacy

        d.up()
        _run(d, engine.env)
        assert _checksums(d.dsn()) == first
        assert _legacy(d.dsn()) == legacy
