"""postgresql.Schema (upstream postgresql/resource_postgresql_schema.go).

Replaced (a change of `database`) delete-before-create: see bridge.py.
"""

from typing import Any

from psycopg import sql

from provider_standin.pg import ProviderError, Session
from provider_standin.values import Fields

TOKEN = "postgresql:index/schema:Schema"

FIELDS = Fields(
    defaults={"ifNotExists": True, "dropCascade": False},
    force_new=("database",),
    optional_zero={"policies": []},
)
COMMITTING = "error committing schema"


def schema_id(database: str, name: str) -> str:
    return f"{database}.{name}"


def create(s: Session, props: dict[str, Any], database: str) -> tuple[str, dict[str, Any]]:
    """The database owner; CREATE SCHEMA, or ALTER SCHEMA ... OWNER TO for one that exists
    (adopted silently, whatever if_not_exists says); then the Read (:119-229)."""
    name = str(props["name"])
    with s.transaction(commit_context=COMMITTING):
        row = s.one(
            "SELECT rolname FROM pg_database JOIN pg_roles ON datdba = pg_roles.oid WHERE datname = %s",
            (database,),
            f"error while looking for the owner of database '{database}'",
        )
        if row is None:
            raise ProviderError(f"could not find database '{database}' while looking for owner")
        db_owner, owner = str(row[0]), str(props.get("owner") or "")
        with s.roles_granted([db_owner] + ([owner] if owner and owner != db_owner else [])):
            exists = s.one("SELECT TRUE FROM pg_catalog.pg_namespace WHERE nspname = %s", (name,))
            if exists is None:
                maybe = sql.SQL("IF NOT EXISTS ") if props.get("ifNotExists", True) else sql.SQL("")
                authorization = sql.SQL(" AUTHORIZATION {}").format(sql.Identifier(owner)) if owner else sql.SQL("")
                s.run(
                    sql.SQL("CREATE SCHEMA {}{}{}").format(maybe, sql.Identifier(name), authorization),
                    context=f"error creating schema {name}",
                )
            elif owner:
                s.run(
                    sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.Identifier(name), sql.Identifier(owner)),
                    context="error updating schema OWNER",
                )
    state = read(s, schema_id(database, name), {**props, "database": database})
    if state is None:
        raise ProviderError(f"schema {name} not found after creation")
    return schema_id(database, name), state


def refresh(s: Session, rid: str, props: dict[str, Any]) -> dict[str, Any] | None:
    """The engine's Read: Exists first, as the SDK runs it on a refresh (:278-305): the
    database, asked on the provider's own, then the schema; either missing: gone."""
    database, name = _database_and_name(rid, props)
    if not s.database_exists(database):
        return None
    on = s.on(database)
    with on.transaction(rollback=True):
        found = on.one(
            "SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE n.nspname=%s", (name,), "error reading schema"
        )
    return read(s, rid, props) if found else None


def _database_and_name(rid: str, props: dict[str, Any]) -> tuple[str, str]:
    database, _, fallback = rid.partition(".")
    return str(props.get("database") or database), str(props.get("name") or fallback)


def read(s: Session, rid: str, props: dict[str, Any]) -> dict[str, Any] | None:
    """ReadImpl (:311-364): owner and ACL in a transaction rolled back; absent: gone."""
    database, name = _database_and_name(rid, props)
    on = s.on(database)
    with on.transaction(rollback=True):
        row = on.one(
            "SELECT pg_catalog.pg_get_userbyid(n.nspowner), COALESCE(n.nspacl, '{}'::aclitem[])::TEXT[]"
            " FROM pg_catalog.pg_namespace n WHERE n.nspname=%s",
            (name,),
            "error reading schema",
        )
    if row is None:
        return None
    return {
        "name": name,
        "owner": str(row[0]),
        "database": database,
        "ifNotExists": bool(props.get("ifNotExists", True)),
        "dropCascade": bool(props.get("dropCascade", False)),
        "policies": [],
    }


def update(s: Session, rid: str, olds: dict[str, Any], news: dict[str, Any], database: str) -> dict[str, Any]:
    old_name, name = str(olds["name"]), str(news["name"])
    with s.transaction(commit_context=COMMITTING):
        if old_name != name:
            s.run(
                sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(old_name), sql.Identifier(name)),
                context="error updating schema NAME",
            )
        owner = news.get("owner")
        if owner and owner != olds.get("owner"):
            s.run(
                sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.Identifier(name), sql.Identifier(str(owner))),
                context="error updating schema OWNER",
            )
    state = read(s, schema_id(database, name), {**news, "database": database})
    if state is None:
        raise ProviderError(f"schema {name} not found after update")
    return state


def delete(s: Session, rid: str, props: dict[str, Any]) -> None:
    """:231-276: absent, nothing to do; else DROP SCHEMA ... RESTRICT (CASCADE with
    drop_cascade), the owner granted to a non-superuser around it."""
    name = str(props.get("name") or rid.partition(".")[2])
    with s.transaction(commit_context=COMMITTING) as txn:
        if s.one("SELECT 1 FROM pg_namespace WHERE nspname=%s", (name,), "could not check if schema exists") is None:
            txn.rollback = True
            return
        with s.roles_granted([str(props.get("owner") or "")]):
            mode = sql.SQL("CASCADE" if props.get("dropCascade") else "RESTRICT")
            s.run(
                sql.SQL("DROP SCHEMA {} {}").format(sql.Identifier(name), mode),
                context="error deleting schema",
            )
