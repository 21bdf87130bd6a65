"""postgresql.Grant (upstream postgresql/resource_postgresql_grant.go).

Only what this project uses is implemented: object_type schema, table, sequence and
function, without `objects` / `columns` (an object list is refused with one line).
"""

from typing import Any

from psycopg import sql

from provider_standin.pg import ProviderError, Session, grantee, privilege_list
from provider_standin.values import Fields, sorted_set

TOKEN = "postgresql:index/grant:Grant"

FIELDS = Fields(
    defaults={"withGrantOption": False},
    force_new=("role", "database", "schema", "objectType", "objects", "columns", "withGrantOption"),
    sets=("privileges", "objects", "columns"),
    optional_zero={"objects": [], "columns": [], "schema": ""},
)

_PLURAL = {"table": "TABLES", "sequence": "SEQUENCES", "function": "FUNCTIONS"}
_RELKIND = {"table": "r", "sequence": "S"}


def grant_id(props: dict[str, Any]) -> str:
    parts = [str(props["role"]), str(props["database"])]
    if props["objectType"] not in ("database", "foreign_data_wrapper", "foreign_server"):
        parts.append(str(props.get("schema") or ""))
    parts.append(str(props["objectType"]))
    parts += sorted_set(props.get("objects")) + sorted_set(props.get("columns"))
    return "_".join(parts)


def _check_supported(props: dict[str, Any]) -> None:
    kind = props.get("objectType")
    if kind not in ("schema", *_PLURAL):
        raise ProviderError(
            f"object_type {kind!r} is not implemented by the stand-in (schema, table, sequence, function)"
        )
    if props.get("objects") or props.get("columns"):
        raise ProviderError("grants with `objects` or `columns` are not implemented by the stand-in")


def _revoke(props: dict[str, Any]) -> sql.Composable:
    role, schema, kind = str(props["role"]), sql.Identifier(str(props["schema"])), props["objectType"]
    if kind == "schema":
        return sql.SQL("REVOKE ALL PRIVILEGES ON SCHEMA {} FROM {}").format(schema, grantee(role))
    return sql.SQL("REVOKE ALL PRIVILEGES ON ALL {} IN SCHEMA {} FROM {}").format(
        sql.SQL(_PLURAL[kind]), schema, grantee(role)
    )


def _grant(props: dict[str, Any]) -> sql.Composable | None:
    privileges = sorted_set(props.get("privileges"))
    if not privileges:
        return None
    role, schema, kind = str(props["role"]), sql.Identifier(str(props["schema"])), props["objectType"]
    option = sql.SQL(" WITH GRANT OPTION") if props.get("withGrantOption") else sql.SQL("")
    if kind == "schema":
        return sql.SQL("GRANT {} ON SCHEMA {} TO {}{}").format(
            privilege_list(privileges), schema, grantee(role), option
        )
    return sql.SQL("GRANT {} ON ALL {} IN SCHEMA {} TO {}{}").format(
        privilege_list(privileges), sql.SQL(_PLURAL[kind]), schema, grantee(role), option
    )


def _owner_lookups(s: Session, props: dict[str, Any]) -> list[str]:
    schema = str(props["schema"])
    owners: list[str] = []
    if props["objectType"] != "schema":
        owners += [
            str(r[0]) for r in s.run("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = %s", (schema,))
        ]
    row = s.one(
        "SELECT rolname FROM pg_namespace JOIN pg_roles ON nspowner = pg_roles.oid WHERE nspname = %s", (schema,)
    )
    if row:
        owners.append(str(row[0]))
    return owners


def _revoke_all(s: Session, props: dict[str, Any], then_grant: bool) -> None:
    """One transaction: LOCK(role), the owner lookups, REVOKE ALL, then (Create, Update) the
    GRANT of the declared list (the owners granted to a non-superuser around both)."""
    _check_supported(props)
    role = str(props["role"])
    with s.transaction():
        s.lock_role(role)
        owners = _owner_lookups(s, props)
        with s.roles_granted(owners):
            s.run(_revoke(props), context=f"could not revoke privileges from {role}")
            statement = _grant(props) if then_grant else None
            if statement is not None:
                s.run(statement, context=f"could not execute grant query for {role}")


def apply(s: Session, props: dict[str, Any]) -> dict[str, Any]:
    """Create and Update: REVOKE ALL, then GRANT the declared list, in one transaction."""
    _revoke_all(s, props, then_grant=True)
    state = read(s, grant_id(props), props)
    if state is None:
        raise ProviderError(f"grant {grant_id(props)} not found after it was applied")
    return state


def delete(s: Session, props: dict[str, Any]) -> None:
    """Delete: REVOKE ALL, in the same transaction as apply's."""
    _revoke_all(s, props, then_grant=False)


def read(s: Session, rid: str, props: dict[str, Any]) -> dict[str, Any] | None:
    database, role, schema, kind = (str(props[k]) for k in ("database", "role", "schema", "objectType"))
    declared = sorted_set(props.get("privileges"))
    with s.read_scope(database, role, schema) as found:
        if not found:
            return None
        role_oid = s.role_oid(role)
        seen = declared
        if kind == "schema":
            row = s.one(
                "SELECT array_agg(privilege_type) FROM (SELECT (aclexplode(nspacl)).* FROM pg_namespace"
                " WHERE nspname = %s) AS privs WHERE grantee = %s",
                (schema, role_oid),
            )
            actual = sorted_set(row[0] if row and row[0] else [])
            if set(actual) != set(declared):
                seen = actual
        else:
            if kind == "function":
                rows = s.run(
                    "SELECT p.proname, array_remove(array_agg(a.privilege_type), NULL) FROM pg_proc p"
                    " JOIN pg_namespace n ON n.oid = p.pronamespace"
                    " LEFT JOIN LATERAL (SELECT (aclexplode(p.proacl)).*) a ON a.grantee = %s"
                    " WHERE n.nspname = %s GROUP BY p.oid, p.proname ORDER BY p.oid",
                    (role_oid, schema),
                )
            else:
                rows = s.run(
                    "SELECT c.relname, array_remove(array_agg(a.privilege_type), NULL) FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " LEFT JOIN LATERAL (SELECT (aclexplode(c.relacl)).*) a ON a.grantee = %s"
                    " WHERE n.nspname = %s AND c.relkind = %s GROUP BY c.oid, c.relname ORDER BY c.oid",
                    (role_oid, schema, _RELKIND[kind]),
                )
            for _name, privileges in rows:
                actual = sorted_set(privileges)
                if set(actual) != set(declared):
                    seen = actual  # the first object that differs becomes `privileges` (drift)
                    break
    return {
        "role": role,
        "database": database,
        "schema": schema,
        "objectType": kind,
        "privileges": seen,
        "objects": sorted_set(props.get("objects")),
        "columns": sorted_set(props.get("columns")),
        "withGrantOption": bool(props.get("withGrantOption", False)),
    }
