"""postgresql.DefaultPrivileges (upstream postgresql/resource_postgresql_default_privileges.go)."""

from typing import Any

from psycopg import sql

from provider_standin import privileges
from provider_standin.pg import ProviderError, Session
from provider_standin.values import Fields, sorted_set

TOKEN = "postgresql:index/defaultPrivileges:DefaultPrivileges"

FIELDS = Fields(
    defaults={"withGrantOption": False},
    force_new=("role", "database", "owner", "schema", "objectType", "withGrantOption"),
    sets=("privileges",),
    optional_zero={"schema": ""},
)

# the ValidateFunc's list, in its order; the pg_default_acl object type of each
OBJECT_TYPES = ("table", "sequence", "function", "routine", "type", "schema")
_OBJTYPE = {"table": "r", "sequence": "S", "function": "f", "routine": "f", "type": "T", "schema": "n"}
_PLURAL = {t: t.upper() + "S" for t in OBJECT_TYPES}


def default_privileges_id(props: dict[str, Any]) -> str:
    """role_database_schema_owner_objecttype, `noschema` without a schema (:362-373)."""
    schema = str(props.get("schema") or "") or "noschema"
    return "_".join([str(props["role"]), str(props["database"]), schema, str(props["owner"]), str(props["objectType"])])


def _prefix(props: dict[str, Any]) -> sql.Composable:
    owner = sql.Identifier(str(props["owner"]))
    schema = props.get("schema") or ""
    if schema:
        return sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {}").format(owner, sql.Identifier(schema))
    return sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {}").format(owner)


def _revoke(props: dict[str, Any]) -> sql.Composable:
    return sql.SQL("{} REVOKE ALL ON {} FROM {}").format(
        _prefix(props), sql.SQL(_PLURAL[str(props["objectType"])]), privileges.grantee(str(props["role"]))
    )


def _validate(s: Session, props: dict[str, Any]) -> None:
    """Create's checks, before any statement (:117-143)."""
    kind = str(props["objectType"])
    if props.get("schema") and kind == "schema":
        raise ProviderError("cannot specify `schema` when `object_type` is `schema`")
    if props.get("withGrantOption") and str(props["role"]).lower() == "public":
        raise ProviderError("with_grant_option cannot be true for role 'public'")
    privileges.validate(kind, props.get("privileges") or [], s.server_version())


def apply(s: Session, props: dict[str, Any]) -> dict[str, Any] | None:
    """Create and Update: the checks; REVOKE ALL, then GRANT the list when it is not
    empty, in one transaction; then the Read in a new one (None: gone from state)."""
    _validate(s, props)
    owner, declared = str(props["owner"]), sorted_set(props.get("privileges"))
    with s.transaction(commit_context=""):
        s.lock_role(owner)
        with s.roles_granted([owner]):
            s.run(_revoke(props), context="could not revoke default privileges")
            if declared:
                option = sql.SQL(" WITH GRANT OPTION") if props.get("withGrantOption") else sql.SQL("")
                s.run(
                    sql.SQL("{} GRANT {} ON {} TO {}{}").format(
                        _prefix(props),
                        privileges.privilege_list(declared),
                        sql.SQL(_PLURAL[str(props["objectType"])]),
                        privileges.grantee(str(props["role"])),
                        option,
                    ),
                    context="could not alter default privileges",
                )
    return _read_default_privileges(s, props)


def delete(s: Session, props: dict[str, Any]) -> None:
    owner = str(props["owner"])
    with s.transaction(commit_context=""):
        s.lock_role(owner)
        with s.roles_granted([owner]):
            s.run(_revoke(props), context="could not revoke default privileges")


def _state(props: dict[str, Any], found: list[str]) -> dict[str, Any]:
    return {
        "role": str(props["role"]),
        "database": str(props["database"]),
        "owner": str(props["owner"]),
        "schema": str(props.get("schema") or ""),
        "objectType": str(props["objectType"]),
        "privileges": found,
        "withGrantOption": bool(props.get("withGrantOption", False)),
    }


def read(s: Session, rid: str, props: dict[str, Any]) -> dict[str, Any] | None:
    """Read: gone from state when the database (asked on the provider's own), the role or
    the schema is missing (:80-114); otherwise the default privileges."""
    schema = str(props.get("schema") or "")
    if not s.role_db_schema_exist(str(props["database"]), str(props["role"]), schema or None):
        return None
    return _read_default_privileges(s, props)


def _read_default_privileges(s: Session, props: dict[str, Any]) -> dict[str, Any] | None:
    """readRoleDefaultPrivileges (:227-294), in a transaction rolled back: LOCK(owner),
    the grantee's oid, then its privileges from pg_default_acl for this owner, object type
    and schema (or none). Nothing found for a non-empty declaration: gone from state."""
    role, owner, kind = str(props["role"]), str(props["owner"]), str(props["objectType"])
    schema = str(props.get("schema") or "")
    declared = sorted_set(props.get("privileges"))
    on = s.on(str(props["database"]))
    with on.transaction(rollback=True):
        on.lock_role(owner)
        role_oid = on.role_oid(role)
        base = (
            "SELECT array_agg(prtype) FROM (SELECT defaclnamespace, (aclexplode(defaclacl)).* FROM pg_default_acl"
            " WHERE defaclobjtype = %s) AS t (namespace, grantor_oid, grantee_oid, prtype, grantable)"
        )
        if schema:
            query = base + (
                " JOIN pg_namespace ON pg_namespace.oid = namespace"
                " WHERE grantee_oid = %s AND nspname = %s AND pg_get_userbyid(grantor_oid) = %s"
            )
            row = on.one(query, (_OBJTYPE[kind], role_oid, schema, owner), "could not read default privileges")
        else:
            query = base + " WHERE grantee_oid = %s AND namespace = 0 AND pg_get_userbyid(grantor_oid) = %s"
            row = on.one(query, (_OBJTYPE[kind], role_oid, owner), "could not read default privileges")
    found = sorted_set(row[0] if row and row[0] else [])
    if not found and declared:
        return None
    return _state(props, declared if privileges.equal(found, declared, kind, s.server_version()) else found)
