"""Grant and DefaultPrivileges validation and reads, held to upstream (issue 28, item 6).
Each test names the upstream lines it follows.

Upstream = cyrilgdn/terraform-provider-postgresql at ff936b9 (`postgresql/...`); the bridge
= pulumi/pulumi-terraform-bridge v3.136.0.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from psycopg import sql
from pulumi import automation as auto
from standin_support import Mini
from test_stack_support import changes

pytestmark = pytest.mark.e2e

GRANT_OBJECT_TYPES = (
    '["database" "function" "procedure" "routine" "schema" "sequence" "table" '
    '"foreign_data_wrapper" "foreign_server" "column"]'
)


def test_object_type_is_checked_in_preview_and_privileges_per_type_case_sensitively(mini: Mini) -> None:
    """`object_type` has a ValidateFunc, StringInSlice(allowedObjectTypes, false)
    (resource_postgresql_grant.go:16-27, 66-71), which the bridge runs in Check, so a
    preview fails: `expected object_type to be one of [...], got tables` and `Examine values
    at '<name>.objectType'.` (bridge check_failures.go:173-190). Privileges are checked at
    apply, before any statement, against the object type's list with an exact match
    (helpers.go:241-298 validatePrivileges: `select is not an allowed privilege for object
    type table`)."""
    grant = {"object_type": "tables", "privileges": ["SELECT"]}

    def body(pg: Any, opts: pulumi.ResourceOptions, db: str) -> None:
        reader = pg.Role("r", name="si_r", opts=opts)
        pg.Grant("g", role=reader.name, database=db, schema="public", opts=opts, **grant)

    mini.declare["body"] = body
    with pytest.raises(auto.errors.CommandError) as info:
        mini.preview()
    expected = f"expected object_type to be one of {GRANT_OBJECT_TYPES}, got tables. Examine values at 'g.objectType'."
    assert expected in str(info.value), str(info.value)

    for privileges, word in ((["select"], "select"), (["USAGE"], "USAGE")):
        grant.update(object_type="table", privileges=privileges)
        with pytest.raises(auto.errors.CommandError) as info:
            mini.up()
        assert f"{word} is not an allowed privilege for object type table" in str(info.value), str(info.value)
        if mini.standin:  # (the operation's first step connects: upstream's PGResourceFunc)
            sent = [s for s in mini.statements("create g") if s not in ("ping", "SELECT VERSION()")]
            assert sent == [], "refused before any statement"


def test_all_reads_as_the_full_set_of_the_object_type(mini: Mini) -> None:
    """A declared `["ALL"]` equals the granted set when that is every privilege of the
    object type (helpers.go:300-322 resourcePrivilegesEqual, used by every Read:
    grant.go:303, 524): a schema Grant of ALL reads CREATE+USAGE and stays in sync."""

    def body(pg: Any, opts: pulumi.ResourceOptions, db: str) -> None:
        reader = pg.Role("r", name="si_r", opts=opts)
        pg.Grant(
            "g",
            role=reader.name,
            database=db,
            schema="public",
            object_type="schema",
            privileges=["ALL"],
            opts=opts,
        )

    mini.declare["body"] = body
    mini.up()
    assert mini.sql("SELECT has_schema_privilege('si_r', 'public', 'CREATE')") == [(True,)]
    assert changes(mini.preview().change_summary) == {}
    assert mini.refresh().summary.resource_changes.get("update", 0) == 0


def test_function_grants_read_overloads_merged_by_name(mini: Mini) -> None:
    """The function Read groups pg_proc by `proname` and joins the ACLs USING (proname,
    pronamespace) (resource_postgresql_grant.go:459-474): the overloads of one name are
    one object, whose privileges are the union of theirs. EXECUTE revoked from one
    overload of two is therefore not seen as drift."""

    def body(pg: Any, opts: pulumi.ResourceOptions, db: str) -> None:
        reader = pg.Role("r", name="si_r", opts=opts)
        pg.Grant(
            "g",
            role=reader.name,
            database=db,
            schema="si_fn",
            object_type="function",
            privileges=["EXECUTE"],
            opts=opts,
        )

    mini.sql("CREATE SCHEMA si_fn")
    try:
        for arg in ("int", "text"):
            function = sql.SQL("CREATE FUNCTION si_fn.f(x {}) RETURNS int LANGUAGE sql AS 'SELECT 1'")
            mini.sql(function.format(sql.SQL(arg)))
        mini.declare["body"] = body
        mini.up()
        mini.sql("REVOKE EXECUTE ON FUNCTION si_fn.f(text) FROM si_r")
        refresh = mini.refresh()
        assert refresh.summary.resource_changes.get("update", 0) == 0, "one overload's revoke is not drift"
    finally:
        mini.stack.destroy(on_output=lambda _line: None)
        mini.sql("DROP SCHEMA si_fn CASCADE")


def test_default_privileges_id_and_refusals(mini: Mini) -> None:
    """DefaultPrivileges ids are role_database_schema_owner_objecttype with `noschema` for
    no schema (resource_postgresql_default_privileges.go:362-373). Create refuses, before
    any statement, `with_grant_option` for role public (default_privileges.go:137-139) and a
    schema with object_type schema (default_privileges.go:120-128)."""
    dp = {"role": "si_r", "schema": None, "object_type": "function", "with_grant_option": False}

    def body(pg: Any, opts: pulumi.ResourceOptions, db: str) -> None:
        pg.Role("r", name="si_r", opts=opts)
        owner = pg.Role("o", name="si_o", opts=opts)
        pg.DefaultPrivileges(
            "d",
            database=db,
            owner=owner.name,
            privileges=["EXECUTE"] if dp["object_type"] == "function" else ["USAGE"],
            opts=opts,
            **dp,
        )

    mini.declare["body"] = body
    mini.up()
    [resource] = mini.resources("defaultPrivileges:DefaultPrivileges")
    database = mini.dsn.rsplit("/", 1)[1]
    assert resource["id"] == f"si_r_{database}_noschema_si_o_function"

    for update, message in (
        ({"role": "public", "with_grant_option": True}, "with_grant_option cannot be true for role 'public'"),
        ({"schema": "public", "object_type": "schema"}, "cannot specify `schema` when `object_type` is `schema`"),
    ):
        dp.update({"role": "si_r", "schema": None, "object_type": "function", "with_grant_option": False, **update})
        with pytest.raises(auto.errors.CommandError) as info:
            mini.up()
        assert message in str(info.value), str(info.value)
        if mini.standin:
            assert not [s for s in mini.statements("create d") if "ALTER DEFAULT" in s], "refused before any statement"
