"""A Schema replacement is delete-before-create (issue 28, item 2), and what our
components' settings make of it: a change of `database`, the one ForceNew field of Schema.

The bridge marks a replacement delete-before-replace when the resource's `name` was given
rather than auto-named (pulumi-terraform-bridge v3.136.0 pkg/tfbridge/provider.go:1275-1276,
schema.go:193-245 nameRequiresDeleteBeforeReplace); pulumi-postgresql auto-names every
`name` property (provider/resources.go:149, SetAutonaming; bridge info/autonaming.go:43-63),
so a Schema with an explicit name, as all of ours, is replaced by DROP first, CREATE after.
The engine then deletes the Schema's dependents that must be replaced first (our Grants and
DefaultPrivileges are delete_before_replace too, components/grants.py).
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pulumi
import pytest
from pulumi import automation as auto
from standin_support import Mini
from test_stack_support import Engine, can, create_owner_tables, grant_user, stack_on, unique, unprotect_all

pytestmark = pytest.mark.e2e


def _schema_ops(events: list[auto.EngineEvent]) -> list[str]:
    """The engine's steps on the Schema "s", in the order they started."""
    ops = []
    for event in events:
        pre = event.resource_pre_event
        if pre is not None and pre.metadata.urn.endswith("::s"):
            ops.append(str(pre.metadata.op.value if hasattr(pre.metadata.op, "value") else pre.metadata.op))
    return ops


def _has_schema(dsn: str, name: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,)).fetchone() is not None


def test_a_schema_moved_to_another_database_is_dropped_first(mini: Mini, engine: Engine) -> None:
    """Settings as our components': the Schema (explicit name, RESTRICT) and a Grant on it
    with delete_before_replace, all protected. A change of `database`:
    - protected: refused in preview, nothing revoked, nothing created;
    - unprotected, the old schema holding a table: the Grant's Delete revokes USAGE in the
      old database, then DROP SCHEMA ... RESTRICT fails; nothing is created in the new one
      (create-before-delete, as the stand-in did, would have created it there first);
    - the table gone: the schema is dropped, then created in the new database."""
    other = f"t_{uuid.uuid4().hex[:16]}"
    other_dsn = engine.cluster.create_database(other)
    state: dict[str, Any] = {"database": None, "protect": True}

    def body(pg: Any, opts: pulumi.ResourceOptions, db: str) -> None:
        database = state["database"] or db
        protected = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=state["protect"]))
        owner = pg.Role("o", name="si_o", opts=opts)
        reader = pg.Role("r", name="si_r", opts=opts)
        schema = pg.Schema(
            "s",
            name="si_s",
            owner=owner.name,
            database=database,
            if_not_exists=False,
            drop_cascade=False,
            opts=protected,
        )
        pg.Grant(
            "g",
            role=reader.name,
            database=database,
            schema=schema.name,
            object_type="schema",
            privileges=["USAGE"],
            opts=pulumi.ResourceOptions.merge(protected, pulumi.ResourceOptions(delete_before_replace=True)),
        )

    try:
        mini.declare["body"] = body
        mini.up()
        mini.sql("CREATE TABLE si_s.kept (x int)")
        mini.sql("INSERT INTO si_s.kept VALUES (1)")
        state["database"] = other

        with pytest.raises(auto.errors.CommandError) as info:
            mini.preview()
        assert "protect" in str(info.value), str(info.value)
        assert mini.sql("SELECT has_schema_privilege('si_r', 'si_s', 'USAGE')") == [(True,)]
        assert not _has_schema(other_dsn, "si_s")

        unprotect_all(mini.stack)
        state["protect"] = False
        events: list[auto.EngineEvent] = []
        with pytest.raises(auto.errors.CommandError) as info:
            mini.up(on_event=events.append)
        assert "cannot drop schema si_s because other objects depend on it" in str(info.value), str(info.value)
        assert "create-replacement" not in _schema_ops(events), _schema_ops(events)
        assert not _has_schema(other_dsn, "si_s"), "nothing created before the old schema is gone"
        assert mini.sql("SELECT has_schema_privilege('si_r', 'si_s', 'USAGE')") == [(False,)], (
            "the Grant's Delete ran first: USAGE is revoked in the old database"
        )
        assert mini.sql("SELECT x FROM si_s.kept") == [(1,)], "RESTRICT kept the table"

        mini.sql("DROP TABLE si_s.kept")
        events.clear()
        mini.up(on_event=events.append)
        ops = _schema_ops(events)
        assert ops.index("delete-replaced") < ops.index("create-replacement"), ops
        assert not _has_schema(engine.dsn, "si_s") and _has_schema(other_dsn, "si_s")
        with psycopg.connect(other_dsn, autocommit=True) as conn:
            row = conn.execute("SELECT has_schema_privilege('si_r', 'si_s', 'USAGE')").fetchone()
        assert row == (True,)
    finally:
        mini.sql("DROP TABLE IF EXISTS si_s.kept")
        unprotect_all(mini.stack)
        mini.stack.destroy(on_output=lambda _line: None)
        engine.cluster.drop_database(other)


def test_a_database_change_on_a_deployed_stack_is_refused_in_preview(engine: Engine) -> None:
    """Our stack: `postgresql:database` changed on a deployed, protected stack (the
    default, consolidation:protect) would replace every Schema, delete first. protect
    refuses it in preview: nothing is revoked in the old database and nothing created in
    the new one."""
    prefix = unique("m") + "_"
    other = f"t_{uuid.uuid4().hex[:16]}"
    other_dsn = engine.cluster.create_database(other)
    try:
        with stack_on(engine, prefix, protect=True) as d:
            d.up()
            create_owner_tables(d)
            reader = prefix + "u_reader"
            grant_user(d, reader, "pw", "analyst")
            d.stack.set_config("postgresql:database", auto.ConfigValue(other))
            try:
                with pytest.raises(auto.errors.CommandError) as info:
                    d.stack.preview(on_output=lambda _line: None)
                text = str(info.value)
                assert "protect" in text and "Traceback" not in text, text
                with d.connect(reader, "pw") as conn:
                    probe = psycopg.sql.SQL("SELECT * FROM {}").format(psycopg.sql.Identifier("analytics", "e2e_probe"))
                    assert can(conn, probe), "nothing was revoked"
                assert not _has_schema(other_dsn, "analytics"), "nothing was created"
            finally:
                d.stack.set_config("postgresql:database", auto.ConfigValue(d.database))
    finally:
        engine.cluster.drop_database(other)
