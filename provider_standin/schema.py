"""postgresql.Schema (upstream postgresql/resource_postgresql_schema.go)."""

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


def schema_id(database: str, name: str) -> str:
    return f"{database}.{name}"


def create(s: Session, props: dict[str, Any], database: str) -> tuple[str, dict[str, Any]]:
    name = str(props["name"])
    with s.transaction():
        db_owner = s.one(
            "SELECT rolname FROM pg_database JOIN pg_roles ON datdba = pg_roles.oid WHERE datname = %s",
            (database,),
        )
        current, _ = s.superuser_check()
        owner = str(props.get("owner") or current)
        with s.roles_granted([owner, str(db_owner[0]) if db_owner else ""]):
            exists = s.one("SELECT TRUE FROM pg_catalog.pg_namespace WHERE nspname = %s", (name,))
            if exists is None:
                maybe = sql.SQL("IF NOT EXISTS ") if props.get("ifNotExists", True) else sql.SQL("")
                s.run(
                    sql.SQL("CREATE SCHEMA {}{} AUTHORIZATION {}").format(
                        maybe, sql.Identifier(name), sql.Identifier(owner)
                    ),
                    context=f"error creating schema {name}",
                )
            else:
                # An existing schema is adopted silently, whatever if_not_exists says.
                s.run(
                    sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.Identifier(name), sql.Identifier(owner)),
                    context=f"error updating schema owner for {name}",
                )
    state = read(s, schema_id(database, name), {**props, "database": database})
    if state is None:
        raise ProviderError(f"schema {name} not found after creation")
    return schema_id(database, name), state


def read(s: Session, rid: str, props: dict[str, Any]) -> dict[str, Any] | None:
    database, _, fallback = rid.partition(".")
    name = str(props.get("name") or fallback)
    with s.transaction(rollback=True):
        row = s.one(
            "SELECT pg_catalog.pg_get_userbyid(n.nspowner), COALESCE(n.nspacl, '{}'::aclitem[])::TEXT[]"
            " FROM pg_catalog.pg_namespace n WHERE n.nspname = %s",
            (name,),
        )
    if row is None:
        return None
    return {
        "name": name,
        "owner": str(row[0]),
        "database": str(props.get("database") or database),
        "ifNotExists": bool(props.get("ifNotExists", True)),
        "dropCascade": bool(props.get("dropCascade", False)),
        "policies": [],
    }


def update(s: Session, rid: str, olds: dict[str, Any], news: dict[str, Any], database: str) -> dict[str, Any]:
    old_name, name = str(olds["name"]), str(news["name"])
    with s.transaction():
        if old_name != name:
            s.run(
                sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(old_name), sql.Identifier(name)),
                context=f"error updating schema name {old_name} to {name}",
            )
        owner = news.get("owner")
        if owner and owner != olds.get("owner"):
            with s.roles_granted([str(owner)]):
                s.run(
                    sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.Identifier(name), sql.Identifier(str(owner))),
                    context=f"error updating schema owner for {name}",
                )
    state = read(s, schema_id(database, name), {**news, "database": database})
    if state is None:
        raise ProviderError(f"schema {name} not found after update")
    return state


def delete(s: Session, rid: str, props: dict[str, Any]) -> None:
    name = str(props.get("name") or rid.partition(".")[2])
    with s.transaction():
        if s.one("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,)) is None:
            return
        with s.roles_granted([str(props.get("owner") or "")]):
            mode = sql.SQL("CASCADE" if props.get("dropCascade") else "RESTRICT")
            s.run(
                sql.SQL("DROP SCHEMA {} {}").format(sql.Identifier(name), mode),
                context=f"error deleting schema {name}",
            )
