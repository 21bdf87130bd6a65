"""postgresql.Role (upstream postgresql/resource_postgresql_role.go)."""

from typing import Any

from psycopg import sql

from provider_standin.pg import ProviderError, Session
from provider_standin.values import Fields, sorted_set

TOKEN = "postgresql:index/role:Role"

FIELDS = Fields(
    defaults={
        "encryptedPassword": True,
        "validUntil": "infinity",
        "connectionLimit": -1.0,
        "superuser": False,
        "createDatabase": False,
        "createRole": False,
        "inherit": True,
        "login": False,
        "replication": False,
        "bypassRowLevelSecurity": False,
        "skipDropRole": False,
        "skipReassignOwned": False,
    },
    force_new=(),  # a rename is an in-place ALTER ROLE ... RENAME
    sets=("roles",),
    optional_zero={
        "roles": [],
        "searchPaths": [],
        "statementTimeout": 0.0,
        "idleInTransactionSessionTimeout": 0.0,
        "assumeRole": "",
        "password": "",
    },
    secrets=("password",),
)

# (input, keyword when true, keyword when false), in the order CREATE ROLE writes them.
_BOOL_ATTRS = (
    ("superuser", "SUPERUSER", "NOSUPERUSER"),
    ("createDatabase", "CREATEDB", "NOCREATEDB"),
    ("createRole", "CREATEROLE", "NOCREATEROLE"),
    ("inherit", "INHERIT", "NOINHERIT"),
    ("login", "LOGIN", "NOLOGIN"),
    ("bypassRowLevelSecurity", "BYPASSRLS", "NOBYPASSRLS"),
    ("replication", "REPLICATION", "NOREPLICATION"),
)


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


def _attr_clauses(props: dict[str, Any], only: set[str] | None = None) -> list[sql.Composable]:
    out: list[sql.Composable] = []

    def wanted(key: str) -> bool:
        return only is None or key in only

    if wanted("validUntil"):
        until = str(props.get("validUntil") or "infinity")
        out.append(sql.SQL("VALID UNTIL {}").format(sql.Literal("infinity" if until.lower() == "infinity" else until)))
    if wanted("connectionLimit"):
        out.append(sql.SQL("CONNECTION LIMIT {}").format(sql.Literal(int(props.get("connectionLimit", -1)))))
    for key, yes, no in _BOOL_ATTRS:
        if wanted(key):
            out.append(sql.SQL(yes if props.get(key) else no))
    if wanted("password") and props.get("password"):
        password = str(props["password"])
        if password.upper() == "NULL":
            out.append(sql.SQL("PASSWORD NULL"))
        else:
            enc = "ENCRYPTED" if props.get("encryptedPassword", True) else "UNENCRYPTED"
            out.append(sql.SQL("{} PASSWORD {}").format(sql.SQL(enc), sql.Literal(password)))
    return out


def _grant_roles(s: Session, name: str, roles: list[str]) -> None:
    for role in sorted_set(roles):
        s.run(
            sql.SQL("GRANT {} TO {}").format(_ident(role), _ident(name)),
            context=f"could not grant role {role} to {name}",
        )


def _search_path(s: Session, name: str, paths: list[str]) -> None:
    if paths:
        value = sql.SQL(", ").join(sql.Identifier(p) for p in paths)
        s.run(sql.SQL("ALTER ROLE {} SET search_path TO {}").format(_ident(name), value))
    else:
        s.run(sql.SQL("ALTER ROLE {} SET search_path TO DEFAULT").format(_ident(name)))


def _memberships_and_search_path(s: Session, name: str, props: dict[str, Any]) -> None:
    """The declared memberships (without admin option), then the search_path (or DEFAULT)."""
    _grant_roles(s, name, props.get("roles") or [])
    _search_path(s, name, props.get("searchPaths") or [])


def _read_back(s: Session, name: str, props: dict[str, Any], after: str) -> dict[str, Any]:
    state = read(s, name, props)
    if state is None:
        raise ProviderError(f"role {name} not found after {after}")
    return state


def create(s: Session, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name = str(props["name"])
    with s.transaction():
        s.run(
            sql.SQL("CREATE ROLE {} WITH {}").format(_ident(name), sql.SQL(" ").join(_attr_clauses(props))),
            context=f"error creating role {name}",
        )
        _memberships_and_search_path(s, name, props)
    return name, _read_back(s, name, props, "creation")


def read(s: Session, rid: str, props: dict[str, Any]) -> dict[str, Any] | None:
    """No transaction; `roles` = ALL live memberships (however they were granted)."""
    name = str(props.get("name") or rid)
    if s.one("SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = %s", (name,)) is None:
        return None
    row = s.one(
        "SELECT ARRAY(SELECT pg_get_userbyid(roleid) FROM pg_catalog.pg_auth_members members"
        " WHERE member = pg_roles.oid), rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb,"
        " rolcanlogin, rolconnlimit, COALESCE(rolvaliduntil::TEXT, 'infinity'), rolconfig,"
        " rolreplication, rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = %s",
        (name,),
    )
    if row is None:
        return None
    roles, rolname, rsuper, inherit, createrole, createdb, login, connlimit, until, config, repl, bypass = row
    config = list(config or [])
    search = next((c.split("=", 1)[1] for c in config if c.startswith("search_path=")), None)
    timeout = next((c.split("=", 1)[1] for c in config if c.startswith("statement_timeout=")), "0")
    idle = next((c.split("=", 1)[1] for c in config if c.startswith("idle_in_transaction_session_timeout=")), "0")
    assume = next((c.split("=", 1)[1] for c in config if c.startswith("role=")), "")
    state: dict[str, Any] = {
        "name": rolname,
        "connectionLimit": float(connlimit),
        "createDatabase": bool(createdb),
        "createRole": bool(createrole),
        "encryptedPassword": True,
        "inherit": bool(inherit),
        "login": bool(login),
        "skipDropRole": bool(props.get("skipDropRole", False)),
        "skipReassignOwned": bool(props.get("skipReassignOwned", False)),
        "superuser": bool(rsuper),
        "validUntil": until,
        "replication": bool(repl),
        "bypassRowLevelSecurity": bool(bypass),
        "roles": sorted_set(roles),
        "searchPaths": [p.strip().strip('"') for p in search.split(", ")] if search else [],
        "assumeRole": assume,
        "statementTimeout": float(int(timeout)) if timeout.isdigit() else 0.0,
        "idleInTransactionSessionTimeout": float(int(idle)) if idle.isdigit() else 0.0,
    }
    if props.get("password"):
        state["password"] = props["password"]
    return state


def update(s: Session, rid: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
    old_name = str(olds.get("name") or rid)
    name = str(news["name"])
    changed = {k for k in news if FIELDS.normalised(k, news.get(k)) != FIELDS.normalised(k, olds.get(k))}
    with s.transaction():
        s.lock_role(old_name)
        if name != old_name:
            s.run(
                sql.SQL("ALTER ROLE {} RENAME TO {}").format(_ident(old_name), _ident(name)),
                context=f"error updating role name from {old_name} to {name}",
            )
        for clause in _attr_clauses(news, only=changed):
            s.run(sql.SQL("ALTER ROLE {} WITH {}").format(_ident(name), clause), context=f"error updating role {name}")
        live = s.run(
            "SELECT pg_get_userbyid(roleid) FROM pg_catalog.pg_auth_members"
            " WHERE member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %s)",
            (name,),
        )
        # Every live membership is revoked, whatever changed, then the declared ones granted
        # again WITHOUT admin option.
        for (member_of,) in live:
            s.run(
                sql.SQL("REVOKE {} FROM {}").format(_ident(str(member_of)), _ident(name)),
                context=f"could not revoke role {member_of} from {name}",
            )
        _memberships_and_search_path(s, name, news)
    return _read_back(s, name, news, "update")


def delete(s: Session, rid: str, props: dict[str, Any], provider_user: str) -> None:
    name = str(props.get("name") or rid)
    with s.transaction():
        s.lock_role(name)
        if not props.get("skipReassignOwned"):
            with s.roles_granted([name]):
                s.run(
                    sql.SQL("REASSIGN OWNED BY {} TO {}").format(_ident(name), _ident(provider_user)),
                    context=f"could not reassign owned by role {name} to {provider_user}",
                )
                s.run(
                    sql.SQL("DROP OWNED BY {}").format(_ident(name)),
                    context=f"could not drop owned by role {name}",
                )
        if not props.get("skipDropRole"):
            s.run(sql.SQL("DROP ROLE {}").format(_ident(name)), context=f"could not delete role {name}")
