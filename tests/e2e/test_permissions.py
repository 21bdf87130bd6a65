"""The guide's permission model, tried for real: phase 1 (READ only), then phase 2 (the guide).

Issue 9: in phase 1 the consolidated tables are our derived copy, so every group role may
only READ the schemas the guide gives it access to; the guide's write access starts with
phase 2. Two independent probes: LOGIN users given their role by grant_user_permissions,
and SET ROLE to each of the 8 group roles (and to a role with no group: what PUBLIC gets)
on tables, sequences and functions of each schema.

The expected outcome of every attempt comes from the GUIDE table below, written in the
guide's own words ("Roles and Access Patterns") and interpreted here, independently of
catalog/roles.py: a mistake in the catalog makes these tests fail.

For each of the 8 group roles a LOGIN user is created and given the role with
grant_user_permissions() called by a system_administrators member, as the guide says.
It then logs in and tries SELECT, INSERT, UPDATE, DELETE, TRUNCATE on a table of each
schema, CREATE in each schema and nextval() on a sequence of each schema. Every attempt
runs in a transaction that is rolled back. The tables were created AFTER `up` by the
owner role (as data_copy does), so they hold privileges only through the default
privileges; a second round revokes everything from the tables and lets `up --refresh`
put it back through the Grant resources.

The permission functions: unknown type, unknown user, injection-looking and quoted /
upper-case names, non-admins and PUBLIC cannot execute grant_user_permissions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import errors, sql
from pulumi import automation as auto
from test_stack_support import (
    ENGINE,
    TEST_TABLE,
    Deployed,
    Engine,
    can,
    changes,
    create_login,
    create_owner_tables,
    stack_on,
    unique,
)

from pgcluster import Cluster

pytestmark = pytest.mark.e2e

SCHEMAS = ("raw_data", "core_betting", "analytics", "operational")
ALL = SCHEMAS

# The guide, verbatim:
#   data_collectors     → raw_data (INSERT, SELECT)
#   betting_processors  → raw_data (READ) + core_betting (WRITE)
#   analytics_processors → core_betting (READ) + analytics (WRITE)
#   strategy_processors → ALL (READ) + analytics/operational (WRITE)
#   analytics_users     → core_betting + analytics (READ ONLY)
#   monitoring_users    → operational (READ ONLY)
#   system_administrators → ALL (FULL ACCESS)
#   mlb_betting_app     → ALL (BROAD ACCESS for main application)
GUIDE: dict[str, dict[str, str]] = {
    "data_collectors": {"raw_data": "INSERT, SELECT"},
    "betting_processors": {"raw_data": "READ", "core_betting": "WRITE"},
    "analytics_processors": {"core_betting": "READ", "analytics": "WRITE"},
    "strategy_processors": {
        "raw_data": "READ",
        "core_betting": "READ",
        "analytics": "WRITE",
        "operational": "WRITE",
    },
    "analytics_users": {"core_betting": "READ ONLY", "analytics": "READ ONLY"},
    "monitoring_users": {"operational": "READ ONLY"},
    "system_administrators": {s: "FULL ACCESS" for s in ALL},
    "mlb_betting_app": {s: "BROAD ACCESS" for s in ALL},
}
# The guide's user types (Permission Usage Examples use 'collector' and 'analyst').
USER_TYPE = {
    "data_collectors": "collector",
    "betting_processors": "processor",
    "analytics_processors": "analytics_processor",
    "strategy_processors": "strategy",
    "analytics_users": "analyst",
    "monitoring_users": "monitor",
    "system_administrators": "admin",
    "mlb_betting_app": "app",
}

OPERATIONS = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "CREATE", "NEXTVAL")
# What each of the guide's words allows. READ never takes sequence values; writing rows
# (collecting included) does; only FULL ACCESS may TRUNCATE or create objects; the main
# application's BROAD ACCESS is row access everywhere, without TRUNCATE or DDL.
WORDS: dict[str, set[str]] = {
    "READ": {"SELECT"},
    "READ ONLY": {"SELECT"},
    "INSERT, SELECT": {"SELECT", "INSERT", "NEXTVAL"},
    "WRITE": {"SELECT", "INSERT", "UPDATE", "DELETE", "NEXTVAL"},
    "BROAD ACCESS": {"SELECT", "INSERT", "UPDATE", "DELETE", "NEXTVAL"},
    "FULL ACCESS": set(OPERATIONS),
}


def expected(role: str, schema: str, phase: int = 2) -> set[str]:
    words = GUIDE[role].get(schema)
    if not words:
        return set()
    return WORDS[words] if phase >= 2 else {"SELECT"}  # phase 1: READ wherever the guide gives access


def _statement(op: str, schema: str, user: str) -> sql.Composable:
    table = sql.Identifier(schema, TEST_TABLE)
    return {
        "SELECT": sql.SQL("SELECT count(*) FROM {}").format(table),
        "INSERT": sql.SQL("INSERT INTO {} VALUES (2, 'two')").format(table),
        "UPDATE": sql.SQL("UPDATE {} SET v = 'uno' WHERE id = 1").format(table),
        "DELETE": sql.SQL("DELETE FROM {} WHERE id = 1").format(table),
        "TRUNCATE": sql.SQL("TRUNCATE {}").format(table),
        "CREATE": sql.SQL("CREATE TABLE {} (i int)").format(
            sql.Identifier(schema, f"made_by_{abs(hash(user)) % 10**8}")
        ),
        "NEXTVAL": sql.SQL("SELECT nextval({})").format(sql.Literal(f"{schema}.{TEST_TABLE}_seq")),
    }[op]


def allowed(conn: psycopg.Connection, op: str, schema: str, user: str) -> bool:
    """Try `op` in a transaction that is always rolled back; True unless permission denied."""
    return can(conn, _statement(op, schema, user))


@pytest.fixture(scope="module")
def deployed(
    toolchain,
    engine_env_factory: Callable[[Path], dict[str, str]],
    pulumi_command: auto.PulumiCommand,
    pg_cluster: Cluster,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployed]:
    toolchain.require(*ENGINE)
    database = unique("perm_")
    dsn = pg_cluster.create_database(database)
    env = engine_env_factory(tmp_path_factory.mktemp("backend"))
    prefix = unique("m") + "_"
    try:
        with stack_on(Engine(pg_cluster, dsn, env, pulumi_command), prefix) as d:
            up, _ = d.up()
            assert up.summary.result == "succeeded"
            create_owner_tables(d)
            create_owner_functions(d)
            yield d
    finally:
        pg_cluster.drop_database(database)


@pytest.fixture(scope="module")
def users(deployed: Deployed) -> dict[str, tuple[str, str]]:
    return make_users(deployed)


@pytest.fixture(scope="module")
def deployed2(deployed: Deployed, users: dict[str, tuple[str, str]]) -> Deployed:
    """The same stack after `phase: 2` + `up` (every test using it runs after the phase-1 ones)."""
    deployed.set_phase(2)
    up, _ = deployed.up()
    assert up.summary.result == "succeeded"
    return deployed


FUNCTION = "e2e_fn"


def create_owner_functions(deployed: Deployed) -> None:
    """As the owner role, a function per schema (EXECUTE comes from the default privileges)."""
    with deployed.connect() as conn, conn.transaction():
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(deployed.owner)))
        for schema in SCHEMAS:
            conn.execute(
                sql.SQL("CREATE FUNCTION {}() RETURNS int LANGUAGE sql AS 'SELECT 1'").format(
                    sql.Identifier(schema, FUNCTION)
                )
            )


PROBES = (*OPERATIONS, "SEQ_SELECT", "EXECUTE")


def _probe_statement(op: str, schema: str) -> sql.Composable:
    if op == "SEQ_SELECT":
        return sql.SQL("SELECT last_value FROM {}").format(sql.Identifier(schema, f"{TEST_TABLE}_seq"))
    if op == "EXECUTE":
        return sql.SQL("SELECT {}()").format(sql.Identifier(schema, FUNCTION))
    return _statement(op, schema, "set_role_probe")


def probe_expected(role: str | None, schema: str, phase: int) -> set[str]:
    """SET ROLE probe: the login-user expectation plus reading sequences and executing functions."""
    if role is None:  # a role in no group: what PUBLIC gets
        return set()
    want = expected(role, schema, phase)
    return want | {"SEQ_SELECT", "EXECUTE"} if want else set()


def set_role_probe(deployed: Deployed, phase: int) -> list[str]:
    """Every group role (and a role in none) x every schema x every probe, by SET ROLE."""
    nobody = deployed.prefix + "u_probe_nobody"
    with deployed.connect() as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (nobody,)).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(nobody)))
    mismatches = []
    with deployed.connect() as conn:
        for role in (*GUIDE, None):
            target = deployed.role(role) if role else nobody
            for schema in SCHEMAS:
                want = probe_expected(role, schema, phase)
                for op in PROBES:
                    try:
                        with conn.transaction(force_rollback=True):
                            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(target)))
                            conn.execute(_probe_statement(op, schema))
                        got = True
                    except errors.InsufficientPrivilege:
                        got = False
                    if got != (op in want):
                        mismatches.append(f"phase {phase}: SET ROLE {role or 'PUBLIC'}: {op} on {schema} {got=}")
    return mismatches


def test_phase1_set_role_probe_read_only(deployed: Deployed) -> None:
    assert set_role_probe(deployed, 1) == []


def test_phase1_matrix_read_only(deployed: Deployed, users: dict[str, tuple[str, str]]) -> None:
    assert _matrix(deployed, users, phase=1) == []


def make_users(deployed: Deployed) -> dict[str, tuple[str, str]]:
    """Group role -> (login user, password), each granted by an admin via the function."""
    admin, admin_pw = deployed.prefix + "u_admin", "admin-pw"
    with deployed.connect() as conn:
        create_login(conn, admin, admin_pw)
        # the first administrator is made by the superuser (nobody else can yet)
        conn.execute("SELECT grant_user_permissions(%s, 'admin')", (admin,))
        made = {}
        for role in GUIDE:
            name, password = deployed.prefix + f"u_{role}", f"pw-{role}"
            create_login(conn, name, password)
            made[role] = (name, password)
    with deployed.connect(admin, admin_pw) as conn:
        for role, (name, _) in made.items():
            conn.execute("SELECT grant_user_permissions(%s, %s)", (name, USER_TYPE[role]))
    return made


def _matrix(deployed: Deployed, users: dict[str, tuple[str, str]], phase: int = 2) -> list[str]:
    mismatches = []
    for role, (name, password) in users.items():
        with deployed.connect(name, password) as conn:
            for schema in SCHEMAS:
                want = expected(role, schema, phase)
                for op in OPERATIONS:
                    got = allowed(conn, op, schema, name)
                    if got != (op in want):
                        mismatches.append(
                            f"{role} {op} on {schema}: {'allowed' if got else 'denied'}, "
                            f"the guide says {GUIDE[role].get(schema, 'no access')}"
                        )
    return mismatches


def test_phase2_set_role_probe_the_guide(deployed2: Deployed) -> None:
    assert set_role_probe(deployed2, 2) == []


def test_matrix_on_tables_created_after_up(deployed2: Deployed, users: dict[str, tuple[str, str]]) -> None:
    """Default privileges: tables made by the owner role after `up` follow the guide."""
    assert _matrix(deployed2, users) == []


def test_check_user_permissions_reports_the_guide(deployed2: Deployed, users: dict[str, tuple[str, str]]) -> None:
    deployed = deployed2
    with deployed.connect() as conn:
        for role, (name, _) in users.items():
            rows = conn.execute("SELECT * FROM check_user_permissions(%s)", (name,)).fetchall()
            assert [r[0] for r in rows] == list(SCHEMAS)
            for schema, usage, create, sel, ins, upd, dele, trunc, via in rows:
                want = expected(role, schema)
                got = {
                    op
                    for op, flag in (
                        ("SELECT", sel),
                        ("INSERT", ins),
                        ("UPDATE", upd),
                        ("DELETE", dele),
                        ("TRUNCATE", trunc),
                        ("CREATE", create),
                    )
                    if flag
                }
                assert got == want - {"NEXTVAL"}, f"{role} on {schema}: {got}"
                assert usage == bool(want), f"{role} USAGE on {schema}"
                assert via == ([deployed.role(role)] if want else []), f"{role} via on {schema}"


def test_matrix_after_grants_are_reapplied(deployed2: Deployed, users: dict[str, tuple[str, str]]) -> None:
    """Tables that lost their privileges get them back from the Grant resources (up --refresh)."""
    deployed = deployed2
    with deployed.connect() as conn:
        for schema in SCHEMAS:
            for role in GUIDE:
                conn.execute(
                    sql.SQL("REVOKE ALL ON {}, {} FROM {}").format(
                        sql.Identifier(schema, TEST_TABLE),
                        sql.Identifier(schema, f"{TEST_TABLE}_seq"),
                        sql.Identifier(deployed.role(role)),
                    )
                )
    assert _matrix(deployed, users) != [], "the revoke should have taken the privileges"
    up, _ = deployed.up(refresh=True)
    assert up.summary.result == "succeeded"
    assert changes(up.summary.resource_changes).get("update", 0) > 0
    assert _matrix(deployed, users) == []
    preview = deployed.stack.preview(on_output=lambda _line: None)
    assert changes(preview.change_summary) == {}


# ----------------------------------------------------------------- permission functions


def _admin(deployed: Deployed, users: dict[str, tuple[str, str]]) -> psycopg.Connection:
    name, password = users["system_administrators"]
    return deployed.connect(name, password)


def test_unknown_type_is_refused(deployed: Deployed, users: dict[str, tuple[str, str]]) -> None:
    name, _ = users["analytics_users"]
    with _admin(deployed, users) as conn, pytest.raises(errors.InvalidParameterValue) as info:
        conn.execute("SELECT grant_user_permissions(%s, 'superuser')", (name,))
    assert "unknown user type 'superuser'" in str(info.value)
    assert "collector" in (info.value.diag.message_hint or "")


def test_unknown_user_is_refused(deployed: Deployed, users: dict[str, tuple[str, str]]) -> None:
    with _admin(deployed, users) as conn, pytest.raises(errors.UndefinedObject) as info:
        conn.execute("SELECT grant_user_permissions('nobody_by_that_name', 'analyst')")
    assert "role 'nobody_by_that_name' does not exist" in str(info.value)


@pytest.mark.parametrize(
    "suffix",
    ["x; DROP SCHEMA analytics", 'Quote"d', "UPPER Case", "x'); DROP SCHEMA raw_data; --"],
)
def test_names_are_names_not_sql(deployed: Deployed, users: dict[str, tuple[str, str]], suffix: str) -> None:
    name = deployed.prefix + "u_" + suffix
    with deployed.connect() as conn:
        create_login(conn, name, "pw")
    with _admin(deployed, users) as conn:
        message = conn.execute("SELECT grant_user_permissions(%s, 'analyst')", (name,)).fetchone()
        assert message is not None and "granted" in message[0]
        rows = conn.execute("SELECT * FROM check_user_permissions(%s)", (name,)).fetchall()
        assert {r[0]: r[1] for r in rows} == {
            "raw_data": False,
            "core_betting": True,
            "analytics": True,
            "operational": False,
        }
        member = conn.execute(
            "SELECT pg_has_role(%s, %s, 'MEMBER')", (name, deployed.role("analytics_users"))
        ).fetchone()
        assert member == (True,)
    with deployed.connect() as conn:
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace").fetchall()}
        assert set(SCHEMAS) <= schemas, "nothing was dropped"


def test_managed_roles_cannot_be_targets(deployed: Deployed, users: dict[str, tuple[str, str]]) -> None:
    with _admin(deployed, users) as conn, pytest.raises(errors.InvalidParameterValue):
        conn.execute("SELECT grant_user_permissions(%s, 'admin')", (deployed.role("analytics_users"),))


@pytest.mark.parametrize("role", [r for r in GUIDE if r != "system_administrators"])
def test_non_admins_cannot_execute(deployed: Deployed, users: dict[str, tuple[str, str]], role: str) -> None:
    name, password = users[role]
    with deployed.connect(name, password) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute("SELECT grant_user_permissions(%s, 'admin')", (name,))
    assert not deployed.is_member(name, "system_administrators")


def test_public_cannot_execute_grant(deployed: Deployed) -> None:
    name = deployed.prefix + "u_nobody"
    with deployed.connect() as conn:
        create_login(conn, name, "pw")
        assert conn.execute(
            "SELECT has_function_privilege(%s, 'public.grant_user_permissions(text, text)',"
            " 'EXECUTE'), has_function_privilege('public',"
            " 'public.grant_user_permissions(text, text)', 'EXECUTE')",
            (name,),
        ).fetchone() == (False, False)
    with deployed.connect(name, "pw") as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute("SELECT grant_user_permissions(%s, 'admin')", (name,))
    with deployed.connect(name, "pw") as conn:
        rows = conn.execute("SELECT * FROM check_user_permissions(%s)", (name,)).fetchall()
        assert [r[1] for r in rows] == [False] * 4, "no group role, no access"


def test_caller_search_path_cannot_hijack(deployed: Deployed, users: dict[str, tuple[str, str]]) -> None:
    """An admin with a hostile search_path still gets the catalog's behaviour."""
    target = deployed.prefix + "u_searchpath"
    with deployed.connect() as conn:
        create_login(conn, target, "pw")
    with _admin(deployed, users) as conn:
        conn.execute("CREATE TEMP TABLE pg_roles (rolname name)")  # shadows only if unqualified
        conn.execute("SET search_path = pg_temp, public")
        conn.execute("SELECT public.grant_user_permissions(%s, 'monitor')", (target,))
    assert deployed.is_member(target, "monitoring_users")


def test_callable_unqualified_as_in_the_guide(deployed: Deployed) -> None:
    name = deployed.prefix + "u_scraper_service"
    with deployed.connect() as conn:
        create_login(conn, name, "pw")
        conn.execute("SELECT grant_user_permissions(%s, 'collector')", (name,))
        rows = conn.execute("SELECT * FROM check_user_permissions(%s)", (name,)).fetchall()
    assert rows[0][:6] == ("raw_data", True, False, True, True, False)


@pytest.fixture(scope="module", autouse=True)
def _engine_first(require_engine: Callable[..., None]) -> None:
    require_engine(*ENGINE)
