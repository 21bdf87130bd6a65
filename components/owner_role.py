"""OwnerRole: the owner role and its memberships WITH ADMIN OPTION, managed one way only.

Why not postgresql.Role + postgresql.GrantRole (spec trap 1): the provider's Role Update
revokes EVERY live membership of the role, whatever changed, and grants the declared
`roles` again without ADMIN OPTION; its Read reports every live membership in `roles`, and
GrantRole's ForceNew `with_admin_option` then replaces it create-before-delete, whose Delete
revokes the membership entirely. Any update of the owner role (an attribute, a drift
repaired by `up --refresh`, a catalog role added or removed) would take away the ADMIN
OPTION grant_user_permissions needs. So this small dynamic resource owns the role and its
memberships, with explicit SQL, in one transaction each:

    create  CREATE ROLE <owner> NOLOGIN; GRANT <group> TO <owner> WITH ADMIN OPTION (each)
    update  GRANT ... WITH ADMIN OPTION for groups added or drifted; REVOKE only the groups
            no longer declared; never touches the others
    read    the role and, per declared group, whether the membership has ADMIN OPTION
    delete  as the provider's Role Delete: REASSIGN OWNED BY <owner> TO CURRENT_USER,
            DROP OWNED BY <owner>, DROP ROLE <owner>

Nothing else in the stack declares a membership of the owner role.
"""

from collections.abc import Mapping
from typing import Any

import psycopg
import pulumi
from psycopg import sql
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from components.connected import CONNECTION, IN_SYNC, LOCK_TIMEOUT, ConnectedResource, connect, inputs


def _connect(connection: Mapping[str, Any]) -> psycopg.Connection:
    return connect(connection, "consolidation-owner-role")


def _admin_memberships(conn: psycopg.Connection, name: str) -> dict[str, bool]:
    rows = conn.execute(
        "SELECT pg_catalog.pg_get_userbyid(m.roleid), m.admin_option FROM pg_catalog.pg_auth_members m"
        " WHERE m.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %s)",
        (name,),
    ).fetchall()
    return {str(r[0]): bool(r[1]) for r in rows}


def _grant_admin(conn: psycopg.Connection, name: str, groups: list[str]) -> None:
    for group in groups:
        conn.execute(sql.SQL("GRANT {} TO {} WITH ADMIN OPTION").format(sql.Identifier(group), sql.Identifier(name)))


class OwnerRoleProvider(ResourceProvider):
    """Dynamic provider: see the module docstring."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        name, groups = str(props["name"]), list(props["groups"])
        with _connect(props[CONNECTION]) as conn, conn.transaction():
            conn.execute(LOCK_TIMEOUT)
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))
            _grant_admin(conn, name, groups)
        return CreateResult(id_=name, outs={**inputs(props), IN_SYNC: True})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        name, groups = str(news["name"]), list(news["groups"])
        with _connect(news[CONNECTION]) as conn, conn.transaction():
            conn.execute(LOCK_TIMEOUT)
            live = _admin_memberships(conn, name)
            _grant_admin(conn, name, [g for g in groups if not live.get(g)])
            for group in olds.get("groups") or []:
                if group not in groups and group in live:
                    conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(group), sql.Identifier(name)))
        return UpdateResult(outs={**inputs(news), IN_SYNC: True})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        name = sql.Identifier(str(props["name"]))
        with _connect(props[CONNECTION]) as conn, conn.transaction():
            exists = conn.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", (props["name"],)).fetchone()
            if exists is None:
                return
            conn.execute(sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(name))
            conn.execute(sql.SQL("DROP OWNED BY {}").format(name))
            conn.execute(sql.SQL("DROP ROLE {}").format(name))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        name = str(props.get("name") or id_)
        with _connect(props[CONNECTION]) as conn:
            exists = conn.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", (name,)).fetchone()
            live = _admin_memberships(conn, name) if exists else {}
            conn.rollback()
        if exists is None:
            return ReadResult(None, {})
        missing = [g for g in props.get("groups") or [] if not live.get(g)]
        if missing:
            pulumi.log.warn(f"role {name} lacks membership WITH ADMIN OPTION in: {', '.join(missing)}")
        return ReadResult(id_, {**inputs(props), IN_SYNC: not missing})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = ["name"] if olds.get("name") != news.get("name") else []
        changed = sorted(olds.get("groups") or []) != sorted(news.get("groups") or [])
        return DiffResult(
            changes=bool(replaces or changed or olds.get(IN_SYNC) is False),
            replaces=replaces,
            delete_before_replace=True,
        )


class OwnerRole(ConnectedResource, module="consolidation", name="OwnerRole"):
    """The NOLOGIN owner role, member of every group role WITH ADMIN OPTION."""

    name: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        name: str,
        groups: pulumi.Input[list[str]],
        connection: pulumi.Input[Mapping[str, Any]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(OwnerRoleProvider(), resource_name, {"name": name, "groups": groups}, connection, opts)
