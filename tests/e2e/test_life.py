"""The stack's whole life on the real engine, as a user runs it (docs/phases.md, docs/rollback-phase3-restore.md).

Legacy database (legacy_fixture, tiny) -> phase 1 preview (lists every resource) -> up ->
preview (no changes) -> refresh (no drift) -> `data_copy run --stack` -> `switch` + phase 2
(registry switches) -> `rollback` + phase 1 (switches back) -> `switch` + phase 2 + re-sync
-> phase 3 ->
`data_copy cleanup --stack` -> `data_copy restore --stack` -> `pulumi destroy` refused
(protected) -> the documented teardown (drop the tables, `pulumi state unprotect --all`,
destroy) leaves no role, schema or function behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from pulumi import automation as auto
from test_stack_support import (
    REPO_ROOT,
    Engine,
    changes,
    drop_test_objects,
    functions,
    managed_roles,
    new_schemas,
    stack_on,
    unique,
    unprotect_all,
)

import legacy_fixture
from catalog import ROLES, SCHEMA_NAMES, privileges, table_registry
from catalog.legacy import LEGACY_TABLES

pytestmark = pytest.mark.e2e

# stack + provider + 5 components + 8 group roles + owner role + 4 schemas + per (role, schema)
# pair 4 grants and 3 default privileges + the PUBLIC revoke + 2 permission functions
PAIRS = sum(1 for r in ROLES for s in SCHEMA_NAMES if privileges(r, s))
UNMAPPED = tuple(t.qualified for t in LEGACY_TABLES if t.kind == "table" and t.mapped_to is None)
RESOURCES = 1 + 1 + 5 + len(ROLES) + 1 + len(SCHEMA_NAMES) + PAIRS * 7 + 1 + 2


def _data_copy(command: str, stack: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "data_copy", command, "--stack", stack],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def _table_exists(conn: psycopg.Connection, qualified: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified,)).fetchone() == (True,)


def test_whole_life(
    engine: Engine,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    with psycopg.connect(engine.dsn, autocommit=True) as conn:
        legacy_fixture.build(conn, "tiny")
    prefix = unique("l") + "_"
    with stack_on(engine, prefix, protect=True) as d:
        d.stack.set_config("consolidation:backupDir", auto.ConfigValue(str(tmp_path / "backups")))
        # the fixture's unmapped legacy tables hold a few rows: the user declares them disposable
        d.stack.set_config("consolidation:disposableTables", auto.ConfigValue(json.dumps(list(UNMAPPED))))
        name = d.stack.name

        start = time.monotonic()
        preview = d.stack.preview(on_output=lambda _line: None)
        record_property("preview_empty_seconds", round(time.monotonic() - start, 1))
        assert preview.change_summary == {"create": RESOURCES}, preview.change_summary
        up, seconds = d.up()
        record_property("up_phase1_empty_seconds", round(seconds, 1))
        assert up.summary.resource_changes == {"create": RESOURCES}
        start = time.monotonic()
        assert changes(d.stack.preview(on_output=lambda _line: None).change_summary) == {}
        record_property("noop_preview_seconds", round(time.monotonic() - start, 1))
        refresh = d.stack.refresh(on_output=lambda _line: None)
        assert changes(refresh.summary.resource_changes) == {}, "refresh shows no drift"

        copy = _data_copy("run", name, engine.env)
        assert copy.returncode == 0, copy.stdout[-2000:] + copy.stderr[-2000:]

        for phase, command in ((2, "switch"), (1, "rollback"), (2, "switch")):
            step = _data_copy(command, name, engine.env)  # the database records its phase first
            assert step.returncode == 0, step.stdout[-2000:] + step.stderr[-2000:]
            d.set_phase(phase)
            up, _ = d.up()
            assert up.outputs["tableRegistry"].value == table_registry(phase)
            assert set(changes(up.summary.resource_changes)) <= {"update"}
        resync = _data_copy("run", name, engine.env)
        assert resync.returncode == 0, resync.stdout[-2000:] + resync.stderr[-2000:]

        d.set_phase(3)
        up, _ = d.up()
        drops = up.outputs["legacyDrop"].value
        assert "splits.raw_mlb_betting_splits" in drops["tables"]
        cleanup = _data_copy("cleanup", name, engine.env)
        assert cleanup.returncode == 0, cleanup.stdout[-2000:] + cleanup.stderr[-2000:]
        with d.connect() as conn:
            assert not _table_exists(conn, "splits.raw_mlb_betting_splits")
            assert _table_exists(conn, "raw_data.raw_mlb_betting_splits")
        restore = _data_copy("restore", name, engine.env)
        assert restore.returncode == 0, restore.stdout[-2000:] + restore.stderr[-2000:]
        with d.connect() as conn:
            assert _table_exists(conn, "splits.raw_mlb_betting_splits")

        with pytest.raises(auto.errors.CommandError) as info:
            d.destroy()
        assert "protect" in str(info.value)
        with d.connect() as conn:
            assert len(managed_roles(conn, prefix)) == len(ROLES) + 1, "a refused destroy revokes nothing"

        drop_test_objects(d)  # the documented teardown: the data first ...
        unprotect_all(d.stack)  # ... then the protection
        destroy, _ = d.destroy()
        assert destroy.summary.result == "succeeded"
        with d.connect() as conn:
            assert managed_roles(conn, prefix) == {}
            assert new_schemas(conn) == {}
            assert functions(conn) == {}
