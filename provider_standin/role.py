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

# (input, keyword when true, keyword when false): CREATE ROLE's order (:243-258)
_CREATE_FLAGS = (
    ("superuser", "SUPERUSER", "NOSUPERUSER"),
    ("createDatabase", "CREATEDB", "NOCREATEDB"),
    ("createRole", "CREATEROLE", "NOCREATEROLE"),
    ("inherit", "INHERIT", "NOINHERIT"),
    ("login", "LOGIN", "NOLOGIN"),
    ("bypassRowLevelSecurity", "BYPASSRLS", "NOBYPASSRLS"),
    ("replication", "REPLICATION", "NOREPLICATION"),
)
_FLAGS = {key: (yes, no) for key, yes, no in _CREATE_FLAGS}
# Update's order (:687-725); "connectionLimit" and "validUntil" are not flags
_UPDATE_ORDER = (
    "bypassRowLevelSecurity",
    "connectionLimit",
    "createDatabase",
    "createRole",
    "inherit",
    "login",
    "replication",
    "superuser",
    "validUntil",
)
# (input, the setting as written, as named in errors, value kind): after the search_path (:1072-1145)
_SETTINGS = (
    ("statementTimeout", "statement_timeout", "statement_timeout", int),
    (
        "idleInTransactionSessionTimeout",
        "idle_in_transaction_session_timeout",
        "idle_in_transaction_session_timeout",
        int,
    ),
    ("assumeRole", "ROLE", "role", str),
)


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


def _valid_until(props: dict[str, Any]) -> sql.Composable:
    until = str(props.get("validUntil") or "infinity")
    return sql.Literal("infinity" if until.lower() == "infinity" else until)


def _create_options(props: dict[str, Any]) -> list[sql.Composable]:
    """Password first, VALID UNTIL, CONNECTION LIMIT, then the flags (:207-336)."""
    out: list[sql.Composable] = []
    password = str(props.get("password") or "")
    if password.upper() == "NULL":
        out.append(sql.SQL("PASSWORD NULL"))
    elif password:
        enc = "ENCRYPTED" if props.get("encryptedPassword", True) else "UNENCRYPTED"
        out.append(sql.SQL("{} PASSWORD {}").format(sql.SQL(enc), sql.Literal(password)))
    out.append(sql.SQL("VALID UNTIL {}").format(_valid_until(props)))
    out.append(sql.SQL("CONNECTION LIMIT {}").format(sql.Literal(int(props.get("connectionLimit", -1)))))
    out += [sql.SQL(yes if props.get(key) else no) for key, yes, no in _CREATE_FLAGS]
    return out


def _grant_roles(s: Session, name: str, roles: list[str]) -> None:
    for role in sorted_set(roles):
        s.run(
            sql.SQL("GRANT {} TO {}").format(_ident(role), _ident(name)),
            context=f"could not grant role {role} to {name}",
        )


def _search_path(s: Session, name: str, paths: list[str]) -> None:
    value = sql.SQL(", ").join(sql.Identifier(p) for p in paths) if paths else sql.SQL("DEFAULT")
    shown = ", ".join(f'"{p}"' for p in paths) if paths else "DEFAULT"
    s.run(
        sql.SQL("ALTER ROLE {} SET search_path TO {}").format(_ident(name), value),
        context=f"could not set search_path {shown} for {name}",
    )


def _settings(s: Session, name: str, olds: dict[str, Any], news: dict[str, Any]) -> None:
    """statement_timeout, idle_in_transaction_session_timeout and `role`, each when it
    changed: SET to the new value, or RESET when that is 0 / empty (:1072-1145)."""
    for key, setting, label, kind in _SETTINGS:
        new, old = FIELDS.normalised(key, news.get(key)), FIELDS.normalised(key, olds.get(key))
        if new == old:
            continue
        if new:
            value = sql.Literal(int(new)) if kind is int else _ident(str(new))
            s.run(
                sql.SQL("ALTER ROLE {} SET {} TO {}").format(_ident(name), sql.SQL(setting), value),
                context=f"could not set {label} {new} for {name}",
            )
        else:
            s.run(
                sql.SQL("ALTER ROLE {} RESET {}").format(_ident(name), sql.SQL(setting)),
                context=f"could not reset {label} for {name}",
            )


def _read_back(s: Session, name: str, props: dict[str, Any], after: str) -> dict[str, Any]:
    state = read(s, name, props)
    if state is None:
        raise ProviderError(f"role {name} not found after {after}")
    return state


def create(s: Session, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name = str(props["name"])
    with s.transaction():
        s.run(
            sql.SQL("CREATE ROLE {} WITH {}").format(_ident(name), sql.SQL(" ").join(_create_options(props))),
            context=f"error creating role {name}",
        )
        _grant_roles(s, name, props.get("roles") or [])
        _search_path(s, name, props.get("searchPaths") or [])
        _settings(s, name, {}, props)
    return name, _read_back(s, name, props, "creation")


def _config_value(config: list[str], prefix: str) -> str | None:
    return next((c.split("=", 1)[1] for c in config if c.startswith(prefix) and "=" in c), None)


def read(s: Session, rid: str, props: dict[str, Any]) -> dict[str, Any] | None:
    """Exists, then ReadImpl, no transaction (:425-546); `roles` = ALL live memberships."""
    name = str(props.get("name") or rid)
    if s.one("SELECT rolname FROM pg_catalog.pg_roles WHERE rolname=%s", (name,)) is None:
        return None
    row = s.one(
        "SELECT ARRAY(SELECT pg_get_userbyid(roleid) FROM pg_catalog.pg_auth_members members"
        " WHERE member = pg_roles.oid), rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb,"
        " rolcanlogin, rolconnlimit, COALESCE(rolvaliduntil::TEXT, 'infinity'), rolconfig,"
        " rolreplication, rolbypassrls FROM pg_catalog.pg_roles WHERE rolname=%s",
        (name,),
        "error reading ROLE",
    )
    if row is None:
        return None
    roles, rolname, rsuper, inherit, createrole, createdb, login, connlimit, until, config, repl, bypass = row
    config = list(config or [])
    search = _config_value(config, "search_path=")
    timeout = _config_value(config, "statement_timeout=") or "0"
    idle = _config_value(config, "idle_in_transaction_session_timeout=") or "0"
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
        "searchPaths": [p.strip('"') for p in search.split(", ")] if search else [],
        "assumeRole": _config_value(config, "role") or "",
        "statementTimeout": float(int(timeout)) if timeout.lstrip("-").isdigit() else 0.0,
        "idleInTransactionSessionTimeout": float(int(idle)) if idle.lstrip("-").isdigit() else 0.0,
    }
    if props.get("password"):
        state["password"] = props["password"]
    return state


def _changed(olds: dict[str, Any], news: dict[str, Any], key: str) -> bool:
    return FIELDS.normalised(key, news.get(key)) != FIELDS.normalised(key, olds.get(key))


def _attribute(s: Session, name: str, key: str, news: dict[str, Any]) -> None:
    """One changed attribute, in upstream's form: `CONNECTION LIMIT n` and `VALID UNTIL
    '…'` without WITH (:846, 981), the flags with it (`WITH [NO]LOGIN`, :922)."""
    role = _ident(name)
    if key == "connectionLimit":
        limit = sql.Literal(int(news.get("connectionLimit", -1)))
        s.run(
            sql.SQL("ALTER ROLE {} CONNECTION LIMIT {}").format(role, limit),
            context="error updating role CONNECTION LIMIT",
        )
    elif key == "validUntil":
        if news.get("validUntil"):  # an empty value is left as it is (:973-975)
            statement = sql.SQL("ALTER ROLE {} VALID UNTIL {}").format(role, _valid_until(news))
            s.run(statement, context="error updating role VALID UNTIL")
    else:
        yes, no = _FLAGS[key]
        word = yes if news.get(key) else no
        s.run(sql.SQL("ALTER ROLE {} WITH {}").format(role, sql.SQL(word)), context=f"error updating role {yes}")


def update(s: Session, rid: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
    """:671-757: LOCK(old name); rename; password (when it or the name changed); each
    changed attribute in upstream's order; every live membership revoked and the declared
    ones granted again (without ADMIN OPTION); search_path; the settings; COMMIT; Read."""
    old_name = str(olds.get("name") or rid)
    name = str(news["name"])
    with s.transaction():
        s.lock_role(old_name)
        if name != old_name:
            s.run(
                sql.SQL("ALTER ROLE {} RENAME TO {}").format(_ident(old_name), _ident(name)),
                context="error updating role NAME",
            )
        password = str(news.get("password") or "")
        if password and (name != old_name or _changed(olds, news, "password")):
            s.run(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(_ident(name), sql.Literal(password)),
                context="error updating role password",
            )
        for key in _UPDATE_ORDER:
            if _changed(olds, news, key):
                _attribute(s, name, key, news)
        live = s.run(
            "SELECT pg_get_userbyid(roleid) FROM pg_catalog.pg_auth_members members"
            " JOIN pg_catalog.pg_roles ON members.member = pg_roles.oid WHERE rolname = %s",
            (name,),
            f"could not get roles list for role {name}",
        )
        for (member_of,) in live:
            s.run(
                sql.SQL("REVOKE {} FROM {}").format(_ident(str(member_of)), _ident(name)),
                context=f"could not revoke role {member_of} from {name}",
            )
        _grant_roles(s, name, news.get("roles") or [])
        _search_path(s, name, news.get("searchPaths") or [])
        _settings(s, name, olds, news)
    return _read_back(s, name, news, "update")


def delete(s: Session, rid: str, props: dict[str, Any], provider_user: str) -> None:
    """:382-423: LOCK(n); REASSIGN OWNED + DROP OWNED (unless skip_reassign_owned); DROP
    ROLE (unless skip_drop_role)."""
    name = str(props.get("name") or rid)
    with s.transaction(commit_context="error committing schema"):  # sic, role.go:417
        s.lock_role(name)
        if not props.get("skipReassignOwned"):
            with s.roles_granted([name]):
                s.run(
                    sql.SQL("REASSIGN OWNED BY {} TO {}").format(_ident(name), _ident(provider_user)),
                    context=f"could not reassign owned by role {name} to {provider_user}",
                )
                s.run(sql.SQL("DROP OWNED BY {}").format(_ident(name)), context=f"could not drop owned by role {name}")
        if not props.get("skipDropRole"):
            s.run(sql.SQL("DROP ROLE {}").format(_ident(name)), context=f"could not delete role {name}")
