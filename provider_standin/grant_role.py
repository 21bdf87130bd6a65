"""postgresql.GrantRole (upstream postgresql/resource_postgresql_grant_role.go). No Update."""

from typing import Any

from psycopg import sql

from provider_standin.pg import Session
from provider_standin.values import Fields

TOKEN = "postgresql:index/grantRole:GrantRole"

FIELDS = Fields(
    defaults={"withAdminOption": False},
    force_new=("role", "grantRole", "withAdminOption"),  # every field
)


def grant_role_id(props: dict[str, Any]) -> str:
    return f"{props['role']}_{props['grantRole']}_{str(bool(props.get('withAdminOption'))).lower()}"


def create(s: Session, props: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """No lock: REVOKE, then GRANT (WITH ADMIN OPTION when asked), one transaction."""
    role, granted = sql.Identifier(str(props["role"])), sql.Identifier(str(props["grantRole"]))
    with s.transaction():
        s.run(
            sql.SQL("REVOKE {} FROM {}").format(granted, role),
            context="could not execute revoke query",
        )
        admin = sql.SQL(" WITH ADMIN OPTION") if props.get("withAdminOption") else sql.SQL("")
        s.run(
            sql.SQL("GRANT {} TO {}{}").format(granted, role, admin),
            context="could not execute grant query",
        )
    return grant_role_id(props), read(s, grant_role_id(props), props)


def read(s: Session, rid: str, props: dict[str, Any]) -> dict[str, Any] | None:
    """No transaction; the first matching row, none: removed from state."""
    row = s.one(
        "SELECT pg_get_userbyid(member) AS role, pg_get_userbyid(roleid) AS grant_role, admin_option"
        " FROM pg_auth_members WHERE pg_get_userbyid(member) = %s AND pg_get_userbyid(roleid) = %s",
        (str(props["role"]), str(props["grantRole"])),
        "error reading grant role",
    )
    if row is None:
        return None
    return {"role": str(row[0]), "grantRole": str(row[1]), "withAdminOption": bool(row[2])}


def delete(s: Session, props: dict[str, Any]) -> None:
    with s.transaction():
        s.run(
            sql.SQL("REVOKE {} FROM {}").format(
                sql.Identifier(str(props["grantRole"])), sql.Identifier(str(props["role"]))
            ),
            context="could not execute revoke query",
        )
