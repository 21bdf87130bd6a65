"""The provider on its own (the stand-in, provider_standin/, unless a real one was found):
each resource and operation leaves the catalog state the spec describes, on a real server.

With the stand-in, the statements it sent are also checked, in order, from its statement
log ($CONSOLIDATION_STANDIN_STATEMENT_LOG); with the real provider only the catalog state
is checked (it keeps no such log).
"""

from __future__ import annotations

import subprocess
from typing import Any

import psycopg
import pulumi
import pytest
from psycopg import sql
from standin_support import Mini, in_order, index_of
from test_stack_support import changes

pytestmark = pytest.mark.e2e


def test_plugin_reports_version_and_says_it_is_the_standin(toolchain) -> None:
    exe = toolchain.bin_dir / "pulumi-resource-postgresql"
    version = subprocess.run([str(exe), "-version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.strip() == "3.18.2"
    if not toolchain.provider_kind.startswith("stand-in"):
        assert toolchain.provider_kind == "real"
        return
    proc = subprocess.Popen([str(exe), "127.0.0.1:1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = proc.stdout.readline().strip() if proc.stdout else ""
        assert port.isdigit(), "a plugin prints its gRPC port first"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "STAND-IN" in err and "not the real pulumi-postgresql provider" in err


def test_role_update_revokes_every_membership_and_regrants_without_admin(mini: Mini) -> None:
    limit = {"v": -1}

    def body(pg: Any, opts: pulumi.ResourceOptions, _db: str) -> None:
        g1 = pg.Role("g1", name="si_g1", opts=opts)
        pg.Role("g2", name="si_g2", opts=opts)
        pg.Role("m", name="si_m", roles=[g1.name], connection_limit=limit["v"], opts=opts)

    mini.declare["body"] = body
    mini.up()
    mini.sql("GRANT si_g1 TO si_m WITH ADMIN OPTION")
    mini.sql("GRANT si_g2 TO si_m")  # a membership the Role does not declare
    limit["v"] = 5
    up = mini.up()
    assert up.summary.resource_changes.get("update") == 1
    rows = mini.sql(
        "SELECT pg_get_userbyid(roleid), admin_option FROM pg_auth_members WHERE member = 'si_m'::regrole ORDER BY 1"
    )
    assert rows == [("si_g1", False)], "every live membership revoked, the declared one re-granted without ADMIN"
    if mini.standin:
        sent = mini.statements("update m")
        i = in_order(
            sent,
            "BEGIN",
            "SET statement_timeout = 0",
            "pg_advisory_xact_lock(oid::bigint)",
            "pg_advisory_xact_lock(member::bigint)",
            'ALTER ROLE "si_m" CONNECTION LIMIT 5',  # no WITH (resource_postgresql_role.go:846)
        )
        revokes = [s for s in sent if s.startswith("REVOKE")]
        assert sorted(revokes) == ['REVOKE "si_g1" FROM "si_m"', 'REVOKE "si_g2" FROM "si_m"']
        i = index_of(sent, 'GRANT "si_g1" TO "si_m"', i)
        assert "ADMIN" not in sent[i]
        in_order(sent, 'ALTER ROLE "si_m" SET search_path TO DEFAULT', "COMMIT", start=i)


def test_grant_read_reports_drift_for_table_created_by_another_role(mini: Mini) -> None:
    def body(pg: Any, opts: pulumi.ResourceOptions, db: str) -> None:
        owner = pg.Role("o", name="si_o", opts=opts)
        reader = pg.Role("r", name="si_r", opts=opts)
        schema = pg.Schema("s", name="si_s", owner=owner.name, database=db, opts=opts)
        pg.Grant(
            "t",
            role=reader.name,
            database=db,
            schema=schema.name,
            object_type="table",
            privileges=["SELECT"],
            opts=opts,
        )

    mini.declare["body"] = body
    mini.up()
    if mini.standin:
        in_order(
            mini.statements("create t"),
            "BEGIN",
            "SET statement_timeout = 0",
            "SELECT DISTINCT tableowner FROM pg_tables",
            "JOIN pg_roles ON nspowner",
            "SELECT CURRENT_USER",
            'REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA "si_s" FROM "si_r"',
            'GRANT SELECT ON ALL TABLES IN SCHEMA "si_s" TO "si_r"',
            "COMMIT",
        )
    mini.sql("CREATE TABLE si_s.later (x int)")  # by another role (the superuser), after the grant
    assert mini.sql("SELECT has_table_privilege('si_r', 'si_s.later', 'SELECT')") == [(False,)]
    refresh = mini.stack.refresh(on_output=lambda _line: None)
    assert refresh.summary.resource_changes.get("update") == 1, "Read reports the drift"
    grant = next(r for r in mini.stack.export_stack().deployment["resources"] if r["type"].endswith("grant:Grant"))
    assert grant["outputs"]["privileges"] == []
    up = mini.up()
    assert up.summary.resource_changes.get("update") == 1
    assert mini.sql("SELECT has_table_privilege('si_r', 'si_s.later', 'SELECT')") == [(True,)]
    mini.sql("DROP TABLE si_s.later")


def test_revoke_only_default_privileges_always_reads_in_sync(mini: Mini) -> None:
    def body(pg: Any, opts: pulumi.ResourceOptions, db: str) -> None:
        owner = pg.Role("o", name="si_o", opts=opts)
        pg.DefaultPrivileges(
            "no-exec", database=db, owner=owner.name, role="public", object_type="function", privileges=[], opts=opts
        )

    mini.declare["body"] = body
    mini.up()
    mini.sql("CREATE SCHEMA si_fs AUTHORIZATION si_o")

    def function_as_owner(name: str) -> None:
        with psycopg.connect(mini.dsn, autocommit=True) as conn:
            conn.execute("SET ROLE si_o")
            conn.execute(
                sql.SQL("CREATE FUNCTION {}() RETURNS int LANGUAGE sql AS 'SELECT 1'").format(
                    sql.Identifier("si_fs", name)
                )
            )

    function_as_owner("f1")
    assert mini.sql("SELECT has_function_privilege('public', 'si_fs.f1()', 'EXECUTE')") == [(False,)]
    mini.sql("ALTER DEFAULT PRIVILEGES FOR ROLE si_o GRANT EXECUTE ON FUNCTIONS TO PUBLIC")  # drift
    function_as_owner("f2")
    assert mini.sql("SELECT has_function_privilege('public', 'si_fs.f2()', 'EXECUTE')") == [(True,)]
    refresh = mini.stack.refresh(on_output=lambda _line: None)
    assert refresh.summary.resource_changes.get("update", 0) == 0, "the drift is invisible: always in sync"
    assert changes(mini.stack.preview(on_output=lambda _line: None).change_summary) == {}
    mini.sql("DROP SCHEMA si_fs CASCADE")


def test_schema_create_adopts_an_existing_schema(mini: Mini) -> None:
    mini.sql("CREATE SCHEMA si_adopt")
    mini.sql("CREATE TABLE si_adopt.theirs (x int)")
    mini.sql("INSERT INTO si_adopt.theirs VALUES (7)")

    def body(pg: Any, opts: pulumi.ResourceOptions, db: str) -> None:
        owner = pg.Role("o", name="si_o", opts=opts)
        pg.Schema("s", name="si_adopt", owner=owner.name, database=db, if_not_exists=False, opts=opts)

    mini.declare["body"] = body
    up = mini.up()
    assert up.summary.result == "succeeded", "adopted silently, whatever if_not_exists says"
    assert mini.sql("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'si_adopt'") == [("si_o",)]
    assert mini.sql("SELECT x FROM si_adopt.theirs") == [(7,)]
    if mini.standin:
        sent = mini.statements("create s")
        assert any(s.startswith('ALTER SCHEMA "si_adopt" OWNER TO "si_o"') for s in sent)
        assert not any(s.startswith("CREATE SCHEMA") for s in sent)
    mini.sql("DROP TABLE si_adopt.theirs")


def test_create_before_delete_replacement_revokes_what_it_granted(mini: Mini) -> None:
    """DefaultPrivileges is create-before-delete: a ForceNew change ends with nothing granted,
    unless delete_before_replace; Grant is delete-before-replace by itself."""
    option = {"v": False, "dbr": False}

    def body(pg: Any, opts: pulumi.ResourceOptions, db: str) -> None:
        owner = pg.Role("o", name="si_o", opts=opts)
        reader = pg.Role("r", name="si_r", opts=opts)
        schema = pg.Schema("s", name="si_s", owner=owner.name, database=db, opts=opts)
        common = {"database": db, "role": reader.name, "schema": schema.name, "with_grant_option": option["v"]}
        dp_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(delete_before_replace=option["dbr"]))
        pg.DefaultPrivileges("d", owner=owner.name, object_type="table", privileges=["SELECT"], opts=dp_opts, **common)
        pg.Grant("g", object_type="schema", privileges=["USAGE"], opts=opts, **common)

    def default_acl() -> list[tuple]:
        return mini.sql(
            "SELECT defaclacl::text FROM pg_default_acl WHERE defaclrole = 'si_o'::regrole"
            " AND defaclnamespace = 'si_s'::regnamespace"
        )

    mini.declare["body"] = body
    mini.up()
    assert default_acl() == [("{si_r=r/si_o}",)]
    option["v"] = True  # ForceNew on both
    up = mini.up()
    assert up.summary.resource_changes.get("replace") == 2
    assert default_acl() == [], "trap 2: the old DefaultPrivileges' Delete revoked what the new one granted"
    assert mini.sql("SELECT has_schema_privilege('si_r', 'si_s', 'USAGE')") == [(True,)], "Grant: DBR"
    mini.stack.refresh(on_output=lambda _line: None)
    option.update(v=False, dbr=True)
    mini.up()
    assert default_acl() == [("{si_r=r/si_o}",)], "delete_before_replace keeps it"
