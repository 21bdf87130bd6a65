"""Helpers for the stack e2e tests (no tests here): the real project through the Automation API.

The project directory is the repository root (Pulumi.yaml, the stack config files); the
program is components.stack.program, what __main__.py runs, as an Automation API inline
program (so the Python language host is not needed); every test gets its own file backend, its own stack name, its own
database on the shared throwaway cluster and its own rolePrefix, so tests never collide
(roles are cluster-wide). `pulumi stack rm` at the end also removes the stack's
Pulumi.<stack>.yaml from the repository root.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from pulumi import automation as auto

from bench.engine import connection_config
from catalog import OWNER_ROLE, ROLES, SCHEMA_NAMES
from components.stack import PROJECT_NAME as PROJECT
from components.stack import program
from pgcluster import Cluster

REPO_ROOT = Path(__file__).resolve().parents[2]
ENGINE = ("pulumi", "pulumi-resource-postgresql")
FUNCTIONS = ("grant_user_permissions", "check_user_permissions")


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Engine:
    """Where one test's stacks go: a database on the test cluster, the engine's environment
    (file backend, toolchain on PATH) and its CLI (tests/e2e/conftest.py: ``engine``)."""

    cluster: Cluster
    dsn: str
    env: dict[str, str]
    command: auto.PulumiCommand

    @property
    def database(self) -> str:
        return self.dsn.rsplit("/", 1)[1]

    def provider(self, name: str, **extra: Any) -> Any:
        """A pulumi-postgresql Provider resource for this database, as the superuser
        (sslmode disable: the test server has no TLS); `extra` adds or overrides arguments."""
        import pulumi_postgresql as postgresql

        c = self.cluster
        args: dict[str, Any] = {
            "host": c.host,
            "port": c.port,
            "username": c.user,
            "password": c.password,
            "database": self.database,
            "sslmode": "disable",
            "superuser": True,
        }
        return postgresql.Provider(name, **{**args, **extra})


@dataclass
class Deployed:
    """One stack of this project on one database of the test cluster."""

    stack: auto.Stack
    cluster: Cluster
    database: str
    prefix: str

    @property
    def owner(self) -> str:
        return self.prefix + OWNER_ROLE

    def role(self, logical: str) -> str:
        return self.prefix + logical

    def dsn(self) -> str:
        return self.cluster.dsn(self.database)

    def connect(self, user: str | None = None, password: str | None = None) -> psycopg.Connection:
        params = self.cluster.params(self.database)
        if user is not None:
            params = {**params, "user": user, "password": password or ""}
        return psycopg.connect(**params, autocommit=True)  # type: ignore[arg-type]

    def is_member(self, user: str, logical: str) -> bool:
        """pg_has_role(user, <prefix><logical>, 'MEMBER')."""
        with self.connect() as conn:
            row = conn.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", (user, self.role(logical))).fetchone()
        assert row is not None
        return bool(row[0])

    def set_phase(self, phase: int) -> None:
        self.stack.set_config("consolidation:phase", auto.ConfigValue(str(phase)))

    def up(self, **kwargs: Any) -> tuple[auto.UpResult, float]:
        start = time.monotonic()
        result = self.stack.up(on_output=lambda _line: None, **kwargs)
        return result, time.monotonic() - start

    def destroy(self) -> tuple[auto.DestroyResult, float]:
        start = time.monotonic()
        result = self.stack.destroy(on_output=lambda _line: None)
        return result, time.monotonic() - start


DYNAMIC_PROVIDER = "pulumi-resource-pulumi-python"


def require_dynamic_provider(env: dict[str, str]) -> None:
    """The permission functions are a Pulumi dynamic resource: the engine runs them through
    the Python SDK's `pulumi-resource-pulumi-python` script, which must be on PATH."""
    if shutil.which(DYNAMIC_PROVIDER, path=env.get("PATH")) is None:
        pytest.fail(
            f"{DYNAMIC_PROVIDER} is not on the engine's PATH; the toolchain must install it "
            "next to pulumi-language-python-exec (it ships in the sdk/v3 module at "
            "python/dist/, like the exec shim)"
        )


def create_stack(engine: Engine, prefix: str, phase: int = 1, protect: bool = False) -> Deployed:
    """A stack of the project; its schemas are NOT protected unless `protect` (so the
    tests' own clean-up can destroy it; the protection itself is tested with protect=True)."""
    require_dynamic_provider(engine.env)
    name = unique("e2e")
    stack = auto.create_stack(
        stack_name=name,
        project_name=PROJECT,
        program=program,
        opts=auto.LocalWorkspaceOptions(work_dir=str(REPO_ROOT), env_vars=engine.env, pulumi_command=engine.command),
    )
    stack.set_all_config(
        {
            "consolidation:phase": auto.ConfigValue(str(phase)),
            "consolidation:rolePrefix": auto.ConfigValue(prefix),
            **connection_config(engine.cluster, engine.database),
            "consolidation:protect": auto.ConfigValue("true" if protect else "false"),
        }
    )
    return Deployed(stack=stack, cluster=engine.cluster, database=engine.database, prefix=prefix)


def remove_stack(deployed: Deployed) -> None:
    """Destroy what is left (best effort) and remove the stack and its config file."""
    name = deployed.stack.name
    try:
        unprotect_all(deployed.stack)
        deployed.stack.destroy(on_output=lambda _line: None)
    finally:
        deployed.stack.workspace.remove_stack(name, force=True)
        (REPO_ROOT / f"Pulumi.{name}.yaml").unlink(missing_ok=True)


@contextmanager
def stack_on(engine: Engine, prefix: str, phase: int = 1, protect: bool = False) -> Iterator[Deployed]:
    """create_stack(...), then (whatever happens) drop the test's objects, the stack and its
    LOGIN roles."""
    deployed = create_stack(engine, prefix, phase, protect)
    try:
        yield deployed
    finally:
        drop_test_objects(deployed)
        remove_stack(deployed)
        drop_login_roles(engine.cluster, prefix)


def unprotect_all(stack: auto.Stack) -> None:
    """`pulumi state unprotect --all`: the documented step before a deliberate destroy."""
    stack._run_pulumi_cmd_sync(["state", "unprotect", "--all", "--yes"])


def changes(summary: dict[str, int] | None) -> dict[str, int]:
    """The resource changes of an operation, without the unchanged ones."""
    return {k: v for k, v in (summary or {}).items() if k != "same" and v}


# ------------------------------------------------------------------ database inspection


def managed_roles(conn: psycopg.Connection, prefix: str) -> dict[str, dict[str, Any]]:
    """Our roles (the 8 groups + the owner) that exist: name -> attributes."""
    names = [prefix + r.name for r in ROLES] + [prefix + OWNER_ROLE]
    rows = conn.execute(
        "SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolinherit"
        " FROM pg_catalog.pg_roles WHERE rolname = ANY(%s)",
        (names,),
    ).fetchall()
    return {r[0]: {"login": r[1], "super": r[2], "createrole": r[3], "inherit": r[4]} for r in rows}


def admin_memberships(conn: psycopg.Connection, member: str) -> dict[str, bool]:
    """The roles `member` is a member of -> whether WITH ADMIN OPTION."""
    rows = conn.execute(
        "SELECT pg_get_userbyid(roleid), admin_option FROM pg_auth_members WHERE member = %s::regrole",
        (member,),
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def new_schemas(conn: psycopg.Connection) -> dict[str, str]:
    """The consolidated schemas that exist: name -> owner."""
    rows = conn.execute(
        "SELECT nspname, pg_catalog.pg_get_userbyid(nspowner) FROM pg_catalog.pg_namespace WHERE nspname = ANY(%s)",
        (list(SCHEMA_NAMES),),
    ).fetchall()
    return dict(rows)  # type: ignore[arg-type]


def functions(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    rows = conn.execute(
        "SELECT p.proname, pg_catalog.pg_get_userbyid(p.proowner), p.prosecdef, p.proconfig,"
        " p.proacl::text[] FROM pg_catalog.pg_proc p"
        " JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'public' AND p.proname = ANY(%s)",
        (list(FUNCTIONS),),
    ).fetchall()
    return {r[0]: {"owner": r[1], "security_definer": r[2], "config": r[3], "acl": r[4]} for r in rows}


def public_privileges_on_new_schemas(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(schema, privilege) pairs PUBLIC holds on the consolidated schemas (must be none)."""
    rows = conn.execute(
        "SELECT n.nspname, a.privilege_type FROM pg_catalog.pg_namespace n,"
        " pg_catalog.aclexplode(COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a"
        " WHERE n.nspname = ANY(%s) AND a.grantee = 0",
        (list(SCHEMA_NAMES),),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


# ------------------------------------------------------------- test objects and users

TEST_TABLE = "e2e_probe"
TEST_SEQUENCE = "e2e_probe_seq"


def create_owner_tables(deployed: Deployed, table: str = TEST_TABLE) -> None:
    """As data_copy does: SET ROLE <owner>, then create a table (+ a sequence) per schema."""
    with deployed.connect() as conn, conn.transaction():
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(deployed.owner)))
        for schema in SCHEMA_NAMES:
            conn.execute(
                sql.SQL("CREATE TABLE {} (id bigint PRIMARY KEY, v text)").format(sql.Identifier(schema, table))
            )
            conn.execute(sql.SQL("INSERT INTO {} VALUES (1, 'one')").format(sql.Identifier(schema, table)))
            conn.execute(sql.SQL("CREATE SEQUENCE {}").format(sql.Identifier(schema, f"{table}_seq")))


def drop_test_objects(deployed: Deployed) -> None:
    """Drop the tables, sequences and functions the tests created in the new schemas, so
    destroy (RESTRICT) can work."""
    try:
        with deployed.connect() as conn:
            rows = conn.execute(
                "SELECT n.nspname, c.relname, c.relkind FROM pg_catalog.pg_class c"
                " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'S')"
                " ORDER BY c.relkind DESC",
                (list(SCHEMA_NAMES),),
            ).fetchall()
            for schema, name, kind in rows:
                what = sql.SQL("TABLE" if kind == "r" else "SEQUENCE")
                conn.execute(sql.SQL("DROP {} IF EXISTS {} CASCADE").format(what, sql.Identifier(schema, name)))
            functions = conn.execute(
                "SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p"
                " JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY(%s)",
                (list(SCHEMA_NAMES),),
            ).fetchall()
            for (signature,) in functions:  # regprocedure prints a quoted, qualified signature
                conn.execute(sql.SQL("DROP FUNCTION IF EXISTS {} CASCADE").format(sql.SQL(signature)))
    except psycopg.OperationalError:
        pass


def create_login(conn: psycopg.Connection, name: str, password: str) -> None:
    conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)))


def grant_user(deployed: Deployed, user: str, password: str, user_type: str) -> None:
    """A LOGIN user given its group role by grant_user_permissions (called by the superuser)."""
    with deployed.connect() as conn:
        create_login(conn, user, password)
        conn.execute("SELECT grant_user_permissions(%s, %s)", (user, user_type))


def can(conn: psycopg.Connection, statement: sql.Composable) -> bool:
    """Run `statement` in a transaction that is always rolled back; True unless permission denied."""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True


def drop_login_roles(cluster: Cluster, prefix: str) -> None:
    """Drop the LOGIN roles a test created (all named <prefix>u_...); they are cluster-wide."""
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT rolname FROM pg_catalog.pg_roles WHERE rolname LIKE %s",
            (prefix.replace("_", r"\_") + r"u\_%",),
        ).fetchall()
        for (name,) in rows:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
