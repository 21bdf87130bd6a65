"""SqlFunction: a PostgreSQL function with owner, fixed search_path and EXECUTE ACL.

Why not postgresql.Function: pulumi-postgresql 3.18.2 (terraform-provider-postgresql)
can say SECURITY DEFINER, language, volatility, args and body, but not the function's
OWNER nor a SET search_path clause, and its update is a CREATE OR REPLACE that would drop
a search_path set afterwards. A SECURITY DEFINER function owned by the connecting
superuser with the caller's search_path is the classic privilege-escalation hole, so this
small Pulumi dynamic resource does it with explicit SQL instead, in ONE transaction:

    CREATE OR REPLACE FUNCTION ... SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    ALTER FUNCTION ... OWNER TO <owner role>
    REVOKE ALL ON FUNCTION ... FROM PUBLIC and every other grantee
    GRANT EXECUTE ON FUNCTION ... TO <roles>        (and to PUBLIC when asked)

so no moment exists where the function runs as the superuser or is executable by PUBLIC.
`refresh` reads the function back (body, owner, security, search_path, volatility,
result type, EXECUTE grantees) and reports any difference, which the next `up` repairs.

The connection comes in as an input (the same host/port/user/database/sslmode as the
explicit postgresql provider, the password as a secret) and is kept as a secret output so
`destroy` and `refresh` can connect too.
"""

from collections.abc import Mapping
from typing import Any

import psycopg
import pulumi
from psycopg import sql
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from components.connected import CONNECTION, IN_SYNC, LOCK_TIMEOUT, ConnectedResource, connect, inputs
from components.permission_sql import FunctionSpec

# Changing any of these needs DROP + CREATE (a new identity or a new result type).
_REPLACE_KEYS = ("schema", "name", "args", "returns", "language")


def _connect(connection: Mapping[str, Any]) -> psycopg.Connection:
    return connect(connection, "consolidation-sql-function")


def apply_function(conn: psycopg.Connection, spec: FunctionSpec) -> None:
    """Create or replace the function and set owner, search_path and EXECUTE, atomically."""
    identity = spec.identity_sql()
    with conn.transaction():
        conn.execute(LOCK_TIMEOUT)
        conn.execute(spec.create_statement())
        conn.execute(sql.SQL("ALTER FUNCTION {} OWNER TO {}").format(identity, sql.Identifier(spec.owner)))
        grantees = conn.execute(
            "SELECT DISTINCT a.grantee = 0, pg_catalog.pg_get_userbyid(a.grantee)"
            " FROM pg_catalog.pg_proc AS p, pg_catalog.aclexplode(p.proacl) AS a"
            " WHERE p.oid = pg_catalog.to_regprocedure(%s) AND a.grantee <> p.proowner",
            (spec.identity,),
        ).fetchall()
        revoke_from: list[sql.Composable] = [sql.SQL("PUBLIC")]
        revoke_from += [sql.Identifier(name) for is_public, name in grantees if not is_public]
        conn.execute(sql.SQL("REVOKE ALL ON FUNCTION {} FROM {}").format(identity, sql.SQL(", ").join(revoke_from)))
        grant_to: list[sql.Composable] = [sql.Identifier(r) for r in spec.execute_roles]
        if spec.public_execute:
            grant_to.append(sql.SQL("PUBLIC"))
        if grant_to:
            conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(identity, sql.SQL(", ").join(grant_to)))


def drop_function(conn: psycopg.Connection, spec: FunctionSpec) -> None:
    with conn.transaction():
        conn.execute(LOCK_TIMEOUT)
        conn.execute(sql.SQL("DROP FUNCTION IF EXISTS {}").format(spec.identity_sql()))


_VOLATILITY = {"v": "VOLATILE", "s": "STABLE", "i": "IMMUTABLE"}


def observe_function(conn: psycopg.Connection, spec: FunctionSpec) -> list[str] | None:
    """None when the function does not exist, else how it differs from `spec` ([] = same)."""
    row = conn.execute(
        "SELECT p.prosrc, pg_catalog.pg_get_userbyid(p.proowner), p.prosecdef, p.provolatile,"
        " COALESCE(p.proconfig, '{}'), pg_catalog.pg_get_function_result(p.oid),"
        " ARRAY(SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC'"
        "        ELSE pg_catalog.pg_get_userbyid(a.grantee) END"
        "       FROM pg_catalog.aclexplode(COALESCE(p.proacl,"
        "            pg_catalog.acldefault('f', p.proowner))) AS a"
        "       WHERE a.grantee <> p.proowner AND a.privilege_type = 'EXECUTE'"
        "       ORDER BY 1)"
        " FROM pg_catalog.pg_proc AS p WHERE p.oid = pg_catalog.to_regprocedure(%s)",
        (spec.identity,),
    ).fetchone()
    conn.rollback()
    if row is None:
        return None
    body, owner, secdef, volatile, config, result, grantees = row
    wanted_grantees = sorted({*spec.execute_roles, *(["PUBLIC"] if spec.public_execute else [])})
    wanted_config = [f"search_path={', '.join(spec.search_path)}"]
    differences = []
    if body != spec.body:
        differences.append("body")
    if owner != spec.owner:
        differences.append(f"owner is {owner}, not {spec.owner}")
    if bool(secdef) != spec.security_definer:
        differences.append("SECURITY DEFINER" if spec.security_definer else "SECURITY INVOKER")
    if _VOLATILITY.get(volatile) != spec.volatility:
        differences.append(f"volatility {_VOLATILITY.get(volatile)}")
    if [c.replace(" ", "") for c in config] != [c.replace(" ", "") for c in wanted_config]:
        differences.append(f"config {config}")
    if result.replace(" ", "").lower() != spec.returns.replace(" ", "").lower():
        differences.append(f"returns {result}")
    if sorted(grantees) != wanted_grantees:
        differences.append(f"EXECUTE granted to {grantees}, not {wanted_grantees}")
    return differences


class SqlFunctionProvider(ResourceProvider):
    """Dynamic provider: see the module docstring."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = FunctionSpec.from_props(props)
        with _connect(props[CONNECTION]) as conn:
            apply_function(conn, spec)
        return CreateResult(id_=spec.identity, outs={**inputs(props), IN_SYNC: True})

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        spec = FunctionSpec.from_props(news)
        with _connect(news[CONNECTION]) as conn:
            apply_function(conn, spec)
        return UpdateResult(outs={**inputs(news), IN_SYNC: True})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        spec = FunctionSpec.from_props(props)
        with _connect(props[CONNECTION]) as conn:
            drop_function(conn, spec)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        spec = FunctionSpec.from_props(props)
        with _connect(props[CONNECTION]) as conn:
            differences = observe_function(conn, spec)
        if differences is None:
            return ReadResult(None, {})
        if differences:
            pulumi.log.warn(f"{spec.identity} differs from the stack: {'; '.join(differences)}")
        return ReadResult(id_, {**inputs(props), IN_SYNC: not differences})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in _REPLACE_KEYS if olds.get(k) != news.get(k)]
        changed = [k for k in inputs(news) if olds.get(k) != news.get(k)]
        drifted = olds.get(IN_SYNC) is False
        return DiffResult(
            changes=bool(changed or drifted),
            replaces=replaces,
            delete_before_replace=True,
        )


class SqlFunction(ConnectedResource, module="consolidation", name="SqlFunction"):
    """A PostgreSQL function managed with explicit SQL (see the module docstring)."""

    def __init__(
        self,
        name: str,
        spec: FunctionSpec,
        connection: pulumi.Input[Mapping[str, Any]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(SqlFunctionProvider(), name, spec.to_props(), connection, opts)
