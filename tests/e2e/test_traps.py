"""The provider's traps (../shared/spec/pulumi-postgresql-behaviour.md), on the real engine.

Each trap has a test of the project's stack (the fix holds) and, where the trap can be shown
in a few resources, a test that reproduces it with the naive declaration (so the provider in
use, the real one or the stand-in, is shown to behave as the spec says):

1. owner-role memberships: ADMIN OPTION survives a drifted owner role + `up --refresh`, a
   catalog role added and one removed; grant_user_permissions still works (naive: a Role
   update drops the ADMIN OPTION a GrantRole added);
2. renaming + re-parenting the component with aliases replaces nothing, privileges intact
   (naive: without aliases the `up` cannot even create the "new" roles);
3. a rolePrefix change on a deployed stack is refused in preview with one line; a live user
   of the old roles keeps its access;
4. a table a system_administrators member creates later gets the matrix after
   `pulumi up --refresh` (the documented step);
5. `pulumi destroy` with data in the schemas is refused before anything is revoked (protect);
6. a schema of the same name that exists before phase 1 is refused, unless
   consolidation:adoptExistingSchemas lists it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pulumi
import pytest
from psycopg import sql
from pulumi import automation as auto
from test_stack_support import (
    Deployed,
    Engine,
    admin_memberships,
    can,
    changes,
    create_login,
    create_owner_tables,
    grant_user,
    stack_on,
    unique,
)

import catalog.roles as catalog_roles
import components.grants
import components.roles
import stack_settings.naming
from catalog import OWNER_ROLE, ROLES
from components.stack import build_stack, current_config, load_settings

pytestmark = pytest.mark.e2e


def _quiet() -> dict[str, Callable[[str], None]]:
    return {"on_output": lambda _line: None}


@pytest.fixture
def deployed(engine: Engine) -> Iterator[Deployed]:
    with stack_on(engine, unique("t") + "_") as d:
        yield d


# ------------------------------------------------------------------------------ trap 1


def test_trap1_naive_role_update_drops_admin_option(engine: Engine, tmp_path: Path) -> None:
    """The trap itself: Role.roles + GrantRole on one role; any Role update loses ADMIN OPTION."""
    import pulumi_postgresql as postgresql

    prefix = unique("n") + "_"
    limit = {"value": -1}

    def program() -> None:
        opts = pulumi.ResourceOptions(provider=engine.provider("p"))
        group = postgresql.Role("g", name=prefix + "g", opts=opts)
        owner = postgresql.Role("o", name=prefix + "o", roles=[group.name], connection_limit=limit["value"], opts=opts)
        postgresql.GrantRole("admin", role=owner.name, grant_role=group.name, with_admin_option=True, opts=opts)

    stack = auto.create_stack(
        stack_name="naive1",
        project_name="trap1",
        program=program,
        opts=auto.LocalWorkspaceOptions(work_dir=str(tmp_path), env_vars=engine.env, pulumi_command=engine.command),
    )
    try:
        stack.up(**_quiet())
        with psycopg.connect(engine.dsn, autocommit=True) as conn:
            assert admin_memberships(conn, prefix + "o") == {prefix + "g": True}
        limit["value"] = 5  # any update of the owner role
        stack.up(**_quiet())
        with psycopg.connect(engine.dsn, autocommit=True) as conn:
            assert admin_memberships(conn, prefix + "o") == {prefix + "g": False}, "trap 1 reproduced"
    finally:
        stack.destroy(**_quiet())
        stack.workspace.remove_stack("naive1")


def _with_roles(monkeypatch: pytest.MonkeyPatch, roles: tuple[catalog_roles.Role, ...]) -> None:
    """The catalog with other group roles (a role added or removed), for the program only."""
    names = (OWNER_ROLE, *(r.name for r in roles))
    monkeypatch.setattr(components.roles, "ROLES", roles)
    monkeypatch.setattr(components.grants, "ROLES", roles)
    monkeypatch.setattr(stack_settings.naming, "ROLES", roles)
    monkeypatch.setattr(stack_settings.naming, "LOGICAL_ROLE_NAMES", names)
    monkeypatch.setattr(stack_settings.naming, "USER_TYPES", {r.user_type: r.name for r in roles})


def test_trap1_admin_option_survives_drift_and_catalog_changes(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = deployed
    d.up()
    groups = {d.role(r.name) for r in ROLES}
    with d.connect() as conn:
        assert admin_memberships(conn, d.owner) == dict.fromkeys(groups, True)
        conn.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT 3").format(sql.Identifier(d.owner)))  # drift
    up, _ = d.up(refresh=True)
    assert up.summary.result == "succeeded"
    with d.connect() as conn:
        assert admin_memberships(conn, d.owner) == dict.fromkeys(groups, True), "after up --refresh"

    auditors = catalog_roles.Role(
        "auditors", "auditor", "operational (READ)", {"operational": catalog_roles.Access.READ}
    )
    _with_roles(monkeypatch, (*ROLES, auditors))
    d.up()
    with d.connect() as conn:
        assert admin_memberships(conn, d.owner) == dict.fromkeys(groups | {d.role("auditors")}, True), "role added"

    fewer = tuple(r for r in ROLES if r.name != "monitoring_users")
    _with_roles(monkeypatch, fewer)
    d.up()
    remaining = {d.role(r.name) for r in fewer}
    with d.connect() as conn:
        assert admin_memberships(conn, d.owner) == dict.fromkeys(remaining, True), "role removed"
    admin, user = d.prefix + "u_admin", d.prefix + "u_analyst"
    grant_user(d, admin, "pw", "admin")
    with d.connect() as conn:
        create_login(conn, user, "pw")
    with d.connect(admin, "pw") as conn:
        assert "granted" in conn.execute("SELECT grant_user_permissions(%s, 'analyst')", (user,)).fetchone()[0]
    assert d.is_member(user, "analytics_users")


# ------------------------------------------------------------------------------ trap 2


def _renamed_program() -> None:
    """__main__'s program with the component renamed AND re-parented, with the alias."""
    config = current_config()
    settings = load_settings(config)
    password = pulumi.Config("postgresql").get_secret("password")
    wrapper = pulumi.ComponentResource("consolidation:index:Environment", "environment")
    outputs = build_stack(
        settings,
        password,
        plain_password=config.get("postgresql:password"),
        component_name="mlb-consolidation",
        opts=pulumi.ResourceOptions(
            parent=wrapper,
            aliases=[pulumi.Alias(name="consolidation", parent=pulumi.ROOT_STACK_RESOURCE)],
        ),
    )
    for name, value in outputs.items():
        pulumi.export(name, value)


def _renamed_without_alias() -> None:
    config = current_config()
    settings = load_settings(config)
    password = pulumi.Config("postgresql").get_secret("password")
    outputs = build_stack(settings, password, plain_password=config.get("postgresql:password"), component_name="mlb")
    for name, value in outputs.items():
        pulumi.export(name, value)


def test_trap2_rename_and_reparent_with_aliases_revokes_nothing(deployed: Deployed) -> None:
    d = deployed
    d.set_phase(2)
    d.up()
    create_owner_tables(d)
    reader = d.prefix + "u_reader"
    grant_user(d, reader, "pw", "analyst")
    table = sql.Identifier("analytics", "e2e_probe")
    with d.connect(reader, "pw") as conn:
        assert can(conn, sql.SQL("SELECT * FROM {}").format(table))

    d.stack.workspace.program = _renamed_program
    up, _ = d.up()
    assert up.summary.result == "succeeded"
    changed = changes(up.summary.resource_changes)
    assert changed == {"create": 1}, f"only the new parent component is created: {changed}"
    with d.connect(reader, "pw") as conn:
        assert can(conn, sql.SQL("SELECT * FROM {}").format(table)), "privileges intact after the rename"
    assert changes(d.stack.preview(**_quiet()).change_summary) == {}

    # The same refactor without aliases: every resource gets a new URN; the engine would
    # create the "new" ones (the provider cannot: the roles exist) and delete the old ones.
    d.stack.workspace.program = _renamed_without_alias
    with pytest.raises(auto.errors.CommandError) as info:
        d.up()
    assert "already exists" in str(info.value), "without aliases the new URNs collide with the live roles"
    with d.connect(reader, "pw") as conn:
        assert can(conn, sql.SQL("SELECT * FROM {}").format(table))
    d.stack.workspace.program = _renamed_program  # so the clean-up destroys what is deployed


# ------------------------------------------------------------------------------ trap 3


def test_trap3_role_prefix_change_refused_in_preview(deployed: Deployed) -> None:
    d = deployed
    d.up()
    create_owner_tables(d)
    user = d.prefix + "u_live"
    grant_user(d, user, "pw", "analyst")
    d.stack.set_config("consolidation:rolePrefix", auto.ConfigValue("other_"))
    with pytest.raises(auto.errors.CommandError) as info:
        d.stack.preview(**_quiet())
    text = str(info.value)
    assert f"deployed with '{d.prefix}'" in text and "Traceback" not in text
    with d.connect(user, "pw") as conn:
        assert can(conn, sql.SQL("SELECT * FROM {}").format(sql.Identifier("analytics", "e2e_probe")))
    d.stack.set_config("consolidation:rolePrefix", auto.ConfigValue(d.prefix))
    assert changes(d.stack.preview(**_quiet()).change_summary) == {}


# ------------------------------------------------------------------------------ trap 4


def test_trap4_admin_created_table_gets_matrix_after_up_refresh(deployed: Deployed) -> None:
    d = deployed
    d.set_phase(2)  # system_administrators have CREATE from phase 2 on
    d.up()
    admin, reader, app = d.prefix + "u_admin", d.prefix + "u_reader", d.prefix + "u_app"
    grant_user(d, admin, "pw", "admin")
    grant_user(d, reader, "pw", "analyst")
    grant_user(d, app, "pw", "app")
    table = sql.Identifier("analytics", "made_by_admin")
    with d.connect(admin, "pw") as conn:
        conn.execute(sql.SQL("CREATE TABLE {} (id int)").format(table))
        conn.execute(sql.SQL("INSERT INTO {} VALUES (1)").format(table))
    with d.connect(reader, "pw") as conn:
        assert not can(conn, sql.SQL("SELECT * FROM {}").format(table)), "no default privileges for the admin"
    up, _ = d.up(refresh=True)  # the documented step
    assert up.summary.result == "succeeded"
    with d.connect(reader, "pw") as conn:
        assert can(conn, sql.SQL("SELECT * FROM {}").format(table))
        assert not can(conn, sql.SQL("INSERT INTO {} VALUES (2)").format(table))
    with d.connect(app, "pw") as conn:
        assert can(conn, sql.SQL("INSERT INTO {} VALUES (2)").format(table))
    assert changes(d.stack.preview(**_quiet()).change_summary) == {}


# ------------------------------------------------------------------------------ trap 5


def test_trap5_destroy_with_data_is_refused_before_anything_is_revoked(engine: Engine) -> None:
    prefix = unique("d") + "_"
    with stack_on(engine, prefix, protect=True) as d:
        d.up()
        create_owner_tables(d)
        reader = d.prefix + "u_reader"
        grant_user(d, reader, "pw", "analyst")

        def acls(conn: psycopg.Connection) -> list[tuple]:
            return conn.execute(
                "SELECT n.nspname, n.nspacl::text, c.relname, c.relacl::text FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = 'e2e_probe' ORDER BY 1"
            ).fetchall()

        with d.connect() as conn:
            before = acls(conn)
        with pytest.raises(auto.errors.CommandError) as info:
            d.destroy()
        assert "protect" in str(info.value)
        with d.connect() as conn:
            assert acls(conn) == before, "nothing was revoked"
        with d.connect(reader, "pw") as conn:
            assert can(conn, sql.SQL("SELECT * FROM {}").format(sql.Identifier("analytics", "e2e_probe")))


# ------------------------------------------------------------------------------ trap 6


def test_trap6_existing_schema_refused_unless_adopted(deployed: Deployed) -> None:
    d = deployed
    with d.connect() as conn:
        conn.execute("CREATE SCHEMA raw_data")
        conn.execute("CREATE TABLE raw_data.mine (x int)")
        conn.execute("INSERT INTO raw_data.mine VALUES (42)")
    with pytest.raises(auto.errors.CommandError) as info:
        d.stack.preview(**_quiet())
    text = str(info.value)
    assert "schema raw_data already exists" in text and "adoptExistingSchemas" in text
    assert "Traceback" not in text
    d.stack.set_config("consolidation:adoptExistingSchemas", auto.ConfigValue('["raw_data"]'))
    up, _ = d.up()
    assert up.summary.result == "succeeded"
    with d.connect() as conn:
        owner = conn.execute("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'raw_data'")
        assert owner.fetchone() == (d.owner,)
        assert conn.execute("SELECT x FROM raw_data.mine").fetchall() == [(42,)]
