"""postgresql.DefaultPrivileges (upstream postgresql/resource_postgresql_default_privileges.go)."""

from typing import Any

from psycopg import sql

from provider_standin.pg import ProviderError, Session, grantee, privilege_list
from provider_standin.values import Fields, sorted_set

TOKEN = "postgresql:index/defaultPrivileges:DefaultPrivileges"

FIELDS = Fields(
    defaults={"withGrantOption": False},
    force_new=("role", "database", "owner", "schema", "objectType", "withGrantOption"),
    sets=("privileges",),
    optional_zero={"schema": ""},
)

_PLURAL = {"table": "TABLES", "sequence": "SEQUENCES", "function": "FUNCTIONS", "type": "TYPES", "schema": "SCHEMAS"}
_OBJTYPE = {"table": "r", "sequence": "S", "function": "f", "type": "T", "schema": "n"}


def default_privileges_id(props: dict[str, Any]) -> str:
    return "_".join(str(props.get(k) or "") for k in ("role", "database", "schema", "owner", "objectType"))


def _prefix(props: dict[str, Any]) -> sql.Composable:
    owner = sql.Identifier(str(props["owner"]))
    schema = props.get("schema") or ""
    if schema:
        return sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {}").format(owner, sql.Identifier(schema))
    return sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {}").format(owner)


def _kind(props: dict[str, Any]) -> str:
    kind = str(props.get("objectType"))
    if kind not in _PLURAL:
        raise ProviderError(f"invalid object_type {kind!r}: expected one of {sorted(_PLURAL)}")
    return kind


def _revoke(props: dict[str, Any]) -> sql.Composable:
    return sql.SQL("{} REVOKE ALL ON {} FROM {}").format(
        _prefix(props), sql.SQL(_PLURAL[_kind(props)]), grantee(str(props["role"]))
    )


def apply(s: Session, props: dict[str, Any]) -> dict[str, Any]:
    """Create and Update: REVOKE ALL, then GRANT the list when it is not empty."""
    owner, role = str(props["owner"]), str(props["role"])
    privileges = sorted_set(props.get("privileges"))
    with s.transaction():
        s.lock_role(owner)
        with s.roles_granted([owner]):
            s.run(_revoke(props), context=f"could not revoke default privileges from {role}")
            if privileges:
                option = sql.SQL(" WITH GRANT OPTION") if props.get("withGrantOption") else sql.SQL("")
                s.run(
                    sql.SQL("{} GRANT {} ON {} TO {}{}").format(
                        _prefix(props),
                        privilege_list(privileges),
                        sql.SQL(_PLURAL[_kind(props)]),
                        grantee(role),
                        option,
                    ),
                    context=f"could not alter default privileges for {role}",
                )
    state = read(s, default_privileges_id(props), props)
    return state if state is not None else _state(props, privileges)


def delete(s: Session, props: dict[str, Any]) -> None:
    owner = str(props["owner"])
    with s.transaction():
        s.lock_role(owner)
        with s.roles_granted([owner]):
            s.run(_revoke(props), context=f"could not revoke default privileges from {props['role']}")


def _state(props: dict[str, Any], privileges: list[str]) -> dict[str, Any]:
    return {
        "role": str(props["role"]),
        "database": str(props["database"]),
        "owner": str(props["owner"]),
        "schema": str(props.get("schema") or ""),
        "objectType": str(props["objectType"]),
        "privileges": privileges,
        "withGrantOption": bool(props.get("withGrantOption", False)),
    }


def read(s: Session, rid: str, props: dict[str, Any]) -> dict[str, Any] | None:
    database, role, owner = str(props["database"]), str(props["role"]), str(props["owner"])
    schema = str(props.get("schema") or "")
    declared = sorted_set(props.get("privileges"))
    with s.read_scope(database, role, schema or None) as found:
        if not found:
            return None
        s.lock_role(owner)
        role_oid = s.role_oid(role)
        base = (
            "SELECT array_agg(prtype) FROM (SELECT defaclnamespace, (aclexplode(defaclacl)).* FROM pg_default_acl"
            " WHERE defaclobjtype = %s) AS t (namespace, grantor_oid, grantee_oid, prtype, grantable)"
        )
        if schema:
            query = base + (
                " JOIN pg_namespace ON pg_namespace.oid = namespace WHERE grantee_oid = %s"
                " AND (nspname = %s OR namespace = 0) AND pg_get_userbyid(grantor_oid) = %s"
            )
            row = s.one(query, (_OBJTYPE[_kind(props)], role_oid, schema, owner))
        else:
            query = base + " WHERE grantee_oid = %s AND namespace = 0 AND pg_get_userbyid(grantor_oid) = %s"
            row = s.one(query, (_OBJTYPE[_kind(props)], role_oid, owner))
    actual = sorted_set(row[0] if row and row[0] else [])
    if not actual and declared:
        return None  # nothing found for a non-empty declaration: removed from state
    return _state(props, actual if set(actual) != set(declared) else declared)
