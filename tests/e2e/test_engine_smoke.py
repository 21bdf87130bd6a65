"""Smoke tests of the real Pulumi engine through the Automation API.

test_engine_runs_inline_program: the CLI, a local file backend and an inline Python program
(no provider): up, preview (no changes), destroy.

test_postgresql_schema_up_preview_destroy: the pulumi-postgresql provider toolchain/bootstrap.sh
chose (the real one, or the stand-in provider_standin/) against our own throwaway cluster: `up`
creates a schema (seen in pg_namespace), `preview` then reports only 'same', `destroy` removes it.

Never skipped: a missing engine FAILS these tests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pulumi
import pytest
from pulumi import automation as auto
from test_stack_support import Engine

pytestmark = pytest.mark.e2e

PROJECT = "consolidation-smoke"


def _stack(
    name: str,
    program: Callable[[], None],
    work_dir: Path,
    env: dict[str, str],
    command: auto.PulumiCommand,
) -> auto.Stack:
    return auto.create_stack(
        stack_name=name,
        project_name=PROJECT,
        program=program,
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(work_dir),
            env_vars=env,
            pulumi_command=command,
            project_settings=auto.ProjectSettings(name=PROJECT, runtime="python"),
        ),
    )


def _only_same(preview: auto.PreviewResult) -> bool:
    return set(preview.change_summary) <= {"same"} and preview.change_summary.get("same", 0) > 0


def _pinned_pulumi_version() -> str:
    env = Path(__file__).resolve().parents[2] / "toolchain" / "versions.env"
    for line in env.read_text().splitlines():
        if line.startswith("PULUMI_VERSION="):
            return line.split("=", 1)[1].strip()
    raise AssertionError(f"PULUMI_VERSION not found in {env}")


def test_engine_runs_inline_program(
    pulumi_env: dict[str, str],
    pulumi_command: auto.PulumiCommand,
    tmp_path: Path,
) -> None:
    assert pulumi_command.version is not None
    assert str(pulumi_command.version) == _pinned_pulumi_version()

    def program() -> None:
        component = pulumi.ComponentResource("consolidation:smoke:Empty", "empty")
        component.register_outputs({})
        pulumi.export("answer", 42)

    stack = _stack("inline", program, tmp_path, pulumi_env, pulumi_command)
    up = stack.up()
    assert up.summary.result == "succeeded"
    assert up.outputs["answer"].value == 42
    assert _only_same(stack.preview()), "a second preview must report no changes"
    assert stack.destroy().summary.result == "succeeded"
    stack.workspace.remove_stack("inline")


def _schema_exists(dsn: str, schema: str) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    return row is not None and row[0] == 1


def test_postgresql_schema_up_preview_destroy(engine: Engine, tmp_path: Path) -> None:
    import pulumi_postgresql as postgresql

    dbname = engine.database
    schema_name = "smoke_schema"

    def program() -> None:
        provider = engine.provider("smoke", connect_timeout=15)
        schema = postgresql.Schema(
            "smoke",
            name=schema_name,
            database=dbname,
            opts=pulumi.ResourceOptions(provider=provider),
        )
        pulumi.export("schema", schema.name)

    stack = _stack("postgresql", program, tmp_path, engine.env, engine.command)
    assert not _schema_exists(engine.dsn, schema_name)

    up = stack.up()
    assert up.summary.result == "succeeded"
    assert up.outputs["schema"].value == schema_name
    assert _schema_exists(engine.dsn, schema_name), "up must create the schema"

    preview = stack.preview()
    assert _only_same(preview), f"expected no changes, got {preview.change_summary}"

    assert stack.destroy().summary.result == "succeeded"
    assert not _schema_exists(engine.dsn, schema_name), "destroy must drop the schema"
    stack.workspace.remove_stack("postgresql")
