"""postgresql.Grant (upstream postgresql/resource_postgresql_grant.go).

Only what this project uses is implemented: object types schema, table, sequence,
function, procedure and routine, without `objects` / `columns` (refused with one line,
after upstream's own checks).
"""

from typing import Any

from psycopg import sql

from provider_standin import privileges
from provider_standin.pg import ProviderError, Session
from provider_standin.values import Fields, sorted_set

TOKEN = "postgresql:index/grant:Grant"

FIELDS = Fields(
    defaults={"withGrantOption": False},
    force_new=("role", "database", "schema", "objectType", "objects", "columns", "withGrantOption"),
    sets=("privileges", "objects", "columns"),
    optional_zero={"objects": [], "columns": [], "schema": ""},
)

# allowedObjectTypes, in upstream's order (its ValidateFunc's message lists them so)
OBJECT_TYPES = (
    "database",
    "function",
    "procedure",
    "routine",
    "schema",
    "sequence",
    "table",
    "foreign_data_wrapper",
    "foreign_server",
    "column",
)
_NO_SCHEMA = ("database", "foreign_data_wrapper", "foreign_server")
_PLURAL = {"table": "TABLES", "sequence": "SEQUENCES", "function": "FUNCTIONS", "procedure": "PROCEDURES"}
_PLURAL["routine"] = "ROUTINES"
_RELKIND = {"table": "r", "sequence": "S"}


def grant_id(props: dict[str, Any]) -> str:
    parts = [str(props["role"]), str(props["database"])]
    if props["objectType"] not in _NO_SCHEMA:
        parts.append(str(props.get("schema") or ""))
    parts.append(str(props["objectType"]))
    parts += sorted_set(props.get("objects")) + sorted_set(props.get("columns"))
    return "_".join(parts)


def _validate(s: Session, props: dict[str, Any]) -> None:
    """Create/Update's checks, before any statement (grant.go:144-169), then the stand-in's
    own limits."""
    kind = str(props.get("objectType"))
    objects, columns = props.get("objects") or [], props.get("columns") or []
    declared = props.get("privileges") or []
    if not props.get("schema") and kind not in _NO_SCHEMA:
        raise ProviderError("parameter 'schema' is mandatory for postgresql_grant resource")
    if objects and kind in ("database", "schema"):
        raise ProviderError("cannot specify `objects` when `object_type` is `database` or `schema`")
    if columns and kind != "column":
        raise ProviderError("cannot specify `columns` when `object_type` is not `column`")
    if kind == "column" and not columns:
        raise ProviderError("must specify `columns` when `object_type` is `column`")
    if kind == "column" and len(declared) != 1:
        raise ProviderError("must specify exactly 1 `privileges` when `object_type` is `column`")
    if kind == "column" and len(objects) != 1:
        raise ProviderError("must specify exactly 1 table in the `objects` field when `object_type` is `column`")
    if kind in ("foreign_data_wrapper", "foreign_server") and len(objects) != 1:
        raise ProviderError(
            "one element must be specified in `objects` when `object_type` is `foreign_data_wrapper`"
            " or `foreign_server`"
        )
    privileges.validate(kind, declared, s.server_version())
    if kind not in ("schema", *_PLURAL) or objects:
        raise ProviderError(
            f"Grant with object_type {kind!r}{' and objects' if objects else ''} is not implemented by the stand-in"
            " (schema, table, sequence, function, procedure, routine without objects)"
        )


def _revoke(props: dict[str, Any]) -> sql.Composable:
    role, schema, kind = str(props["role"]), sql.Identifier(str(props["schema"])), props["objectType"]
    if kind == "schema":
        return sql.SQL("REVOKE ALL PRIVILEGES ON SCHEMA {} FROM {}").format(schema, privileges.grantee(role))
    return sql.SQL("REVOKE ALL PRIVILEGES ON ALL {} IN SCHEMA {} FROM {}").format(
        sql.SQL(_PLURAL[kind]), schema, privileges.grantee(role)
    )


def _grant(props: dict[str, Any]) -> sql.Composable | None:
    declared = sorted_set(props.get("privileges"))
    if not declared:
        return None
    role, schema, kind = str(props["role"]), sql.Identifier(str(props["schema"])), props["objectType"]
    option = sql.SQL(" WITH GRANT OPTION") if props.get("withGrantOption") else sql.SQL("")
    listed, to = privileges.privilege_list(declared), privileges.grantee(role)
    if kind == "schema":
        return sql.SQL("GRANT {} ON SCHEMA {} TO {}{}").format(listed, schema, to, option)
    return sql.SQL("GRANT {} ON ALL {} IN SCHEMA {} TO {}{}").format(listed, sql.SQL(_PLURAL[kind]), schema, to, option)


def _owners(s: Session, props: dict[str, Any]) -> list[str]:
    """getRolesToGrant: the owners of the schema's tables (not for schema grants) and of
    the schema; pg_database_owner (the owner of `public` since PostgreSQL 15) resolved to
    the database's owner (resolveOwners)."""
    schema = str(props["schema"])
    owners: list[str] = []
    if props["objectType"] != "schema":
        rows = s.run(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = %s",
            (schema,),
            f"error while looking for owners of tables in schema '{schema}'",
        )
        owners += [str(r[0]) for r in rows]
    row = s.one(
        "SELECT rolname FROM pg_namespace JOIN pg_roles ON nspowner = pg_roles.oid WHERE nspname = %s",
        (schema,),
        f"error while looking for the owner of schema '{schema}'",
    )
    if row is None:
        raise ProviderError(f"could not find schema '{schema}' while looking for owner")
    if str(row[0]) not in owners:
        owners.append(str(row[0]))
    resolved = []
    for owner in owners:
        if owner == "pg_database_owner":
            found = s.one(
                "SELECT rolname FROM pg_database JOIN pg_roles ON datdba = pg_roles.oid"
                " WHERE datname = current_database()"
            )
            owner = str(found[0]) if found else owner
        resolved.append(owner)
    return resolved


def _revoke_all(s: Session, props: dict[str, Any], then_grant: bool) -> None:
    """One transaction: LOCK(role), the owners, REVOKE ALL (its error wrapped), then for
    Create/Update the GRANT of the declared list (its error not wrapped, grant.go:702-705)."""
    with s.transaction():
        s.lock_role(str(props["role"]))
        with s.roles_granted(_owners(s, props)):
            s.run(_revoke(props), context="could not execute revoke query")
            statement = _grant(props) if then_grant else None
            if statement is not None:
                s.run(statement)


def apply(s: Session, props: dict[str, Any]) -> dict[str, Any]:
    """Create and Update: the checks, REVOKE ALL + GRANT in one transaction, then the Read
    in a new one."""
    _validate(s, props)
    _revoke_all(s, props, then_grant=True)
    return _read_privileges(s, props)


def delete(s: Session, props: dict[str, Any]) -> None:
    """Delete: REVOKE ALL, in the same transaction as apply's."""
    _revoke_all(s, props, then_grant=False)


def read(s: Session, rid: str, props: dict[str, Any]) -> dict[str, Any] | None:
    """Read: gone from state when the database (asked on the provider's own), the role or
    the schema is missing (grant.go:107-129, 733-778); otherwise the privileges."""
    database, role, schema = (str(props[k]) for k in ("database", "role", "schema"))
    if not s.role_db_schema_exist(database, role, schema or None):
        return None
    return _read_privileges(s, props)


def _read_privileges(s: Session, props: dict[str, Any]) -> dict[str, Any]:
    """readRolePrivileges in a transaction rolled back: the first object whose privileges
    differ from the declaration (["ALL"]: the type's full set) becomes `privileges`."""
    database, role, schema, kind = (str(props[k]) for k in ("database", "role", "schema", "objectType"))
    declared = sorted_set(props.get("privileges"))
    seen = declared
    on = s.on(database)
    with on.transaction(rollback=True):
        role_oid = on.role_oid(role)
        if kind == "schema":
            row = on.one(
                "SELECT array_agg(privilege_type) FROM (SELECT (aclexplode(nspacl)).* FROM pg_namespace"
                " WHERE nspname=%s) as privileges WHERE grantee = %s",
                (schema, role_oid),
                f"could not read privileges for schema {schema}",
            )
            objects = [(schema, row[0] if row and row[0] else [])]
        elif kind in ("function", "procedure", "routine"):
            # overloads share a name: grouped by proname, their ACLs joined by name (grant.go:459-474)
            objects = on.run(
                "SELECT pg_proc.proname, array_remove(array_agg(privilege_type), NULL) FROM pg_proc"
                " JOIN pg_namespace ON pg_namespace.oid = pg_proc.pronamespace LEFT JOIN (select acls.* from"
                " (SELECT proname, pronamespace, (aclexplode(proacl)).* FROM pg_proc) acls WHERE grantee = %s) privs"
                " USING (proname, pronamespace) WHERE nspname = %s GROUP BY pg_proc.proname",
                (role_oid, schema),
            )
        else:
            objects = on.run(
                "SELECT pg_class.relname, array_remove(array_agg(privilege_type), NULL) FROM pg_class"
                " JOIN pg_namespace ON pg_namespace.oid = pg_class.relnamespace LEFT JOIN (SELECT acls.* FROM"
                " (SELECT relname, relnamespace, relkind, (aclexplode(relacl)).* FROM pg_class c) as acls"
                " WHERE grantee=%s) privs USING (relname, relnamespace, relkind)"
                " WHERE nspname = %s AND relkind = %s GROUP BY pg_class.relname",
                (role_oid, schema, _RELKIND[kind]),
            )
        for _name, found in objects:
            if not privileges.equal(found or [], declared, kind, s.server_version()):
                seen = sorted_set(found)
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
