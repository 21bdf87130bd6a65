"""The guide's two permission functions, generated from the catalog. Pure: no I/O.

    SELECT grant_user_permissions('scraper_service', 'collector');
    SELECT * FROM check_user_permissions('scraper_service');

Both live in catalog.UNQUALIFIED_SCHEMA (public) so the guide's unqualified calls work.

grant_user_permissions(username text, user_type text) RETURNS text
    SECURITY DEFINER, owned by the owner role (which holds every group role WITH ADMIN
    OPTION, so it may grant them), fixed search_path = pg_catalog, pg_temp. Refuses an
    unknown type, a role that does not exist, and the roles this project manages (with a
    clear error each); quotes names with format('%I'), so any name, e.g.
    'x; DROP SCHEMA analytics', is a name and never SQL. EXECUTE: only the catalog's
    PERMISSION_ADMIN_ROLES (and the owner).

check_user_permissions(username text) RETURNS TABLE(...)
    One row per consolidated schema: what the user can do there through its roles.
    can_usage / can_create come from the schema's ACL; the table privileges are those every
    table of the schema gets (the owner role's default privileges for the schema), and need
    USAGE to be usable. via_roles lists the group roles giving the user access to the schema.
    SECURITY INVOKER: it reads only catalog information every role may read
    (has_schema_privilege, pg_has_role, pg_default_acl), so EXECUTE stays granted to PUBLIC
    and anyone who hits "permission denied" can run it, as the guide's troubleshooting says.
"""

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from catalog import SCHEMA_NAMES, UNQUALIFIED_SCHEMA
from stack_settings import RoleNames

FIXED_SEARCH_PATH: tuple[str, ...] = ("pg_catalog", "pg_temp")
GRANT_FUNCTION = "grant_user_permissions"
CHECK_FUNCTION = "check_user_permissions"
CHECK_COLUMNS: tuple[tuple[str, str], ...] = (
    ("schema_name", "text"),
    ("can_usage", "boolean"),
    ("can_create", "boolean"),
    ("can_select", "boolean"),
    ("can_insert", "boolean"),
    ("can_update", "boolean"),
    ("can_delete", "boolean"),
    ("can_truncate", "boolean"),
    ("via_roles", "text[]"),
)


@dataclass(frozen=True)
class FunctionSpec:
    """Everything about one SQL function that the database must match."""

    schema: str
    name: str
    args: tuple[tuple[str, str], ...]  # (name, type)
    returns: str
    body: str
    owner: str
    security_definer: bool
    volatility: str  # VOLATILE | STABLE | IMMUTABLE
    execute_roles: tuple[str, ...]  # roles granted EXECUTE besides the owner
    public_execute: bool  # whether PUBLIC keeps EXECUTE
    search_path: tuple[str, ...] = FIXED_SEARCH_PATH
    language: str = "plpgsql"

    @property
    def identity(self) -> str:
        """schema.name(argtypes), as regprocedure prints it for our plain names and types."""
        return f"{self.schema}.{self.name}({', '.join(t for _, t in self.args)})"

    def signature(self) -> sql.Composed:
        args = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in self.args)
        return sql.SQL("{}.{}({})").format(sql.Identifier(self.schema), sql.Identifier(self.name), args)

    def identity_sql(self) -> sql.Composed:
        types = sql.SQL(", ").join(sql.SQL(t) for _, t in self.args)
        return sql.SQL("{}.{}({})").format(sql.Identifier(self.schema), sql.Identifier(self.name), types)

    def create_statement(self) -> sql.Composed:
        """CREATE OR REPLACE FUNCTION ... (types and keywords are our constants, not input)."""
        return sql.SQL(
            "CREATE OR REPLACE FUNCTION {signature} RETURNS {returns} LANGUAGE {language} "
            "{volatility} {security} SET search_path = {search_path} AS {body}"
        ).format(
            signature=self.signature(),
            returns=sql.SQL(self.returns),
            language=sql.Identifier(self.language),
            volatility=sql.SQL(self.volatility),
            security=sql.SQL("SECURITY DEFINER" if self.security_definer else "SECURITY INVOKER"),
            search_path=sql.SQL(", ").join(sql.Identifier(s) for s in self.search_path),
            body=sql.Literal(self.body),
        )

    def to_props(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "name": self.name,
            "args": [list(a) for a in self.args],
            "returns": self.returns,
            "body": self.body,
            "owner": self.owner,
            "securityDefiner": self.security_definer,
            "volatility": self.volatility,
            "executeRoles": list(self.execute_roles),
            "publicExecute": self.public_execute,
            "searchPath": list(self.search_path),
            "language": self.language,
        }

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> "FunctionSpec":
        return cls(
            schema=props["schema"],
            name=props["name"],
            args=tuple((str(a[0]), str(a[1])) for a in props["args"]),
            returns=props["returns"],
            body=props["body"],
            owner=props["owner"],
            security_definer=bool(props["securityDefiner"]),
            volatility=props["volatility"],
            execute_roles=tuple(props["executeRoles"]),
            public_execute=bool(props["publicExecute"]),
            search_path=tuple(props["searchPath"]),
            language=props["language"],
        )


def _lit(value: str) -> str:
    return sql.Literal(value).as_string()


def _text_array(values: list[str] | tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join(_lit(v) for v in values) + "]::text[]"


def grant_function(names: RoleNames) -> FunctionSpec:
    user_types = names.user_types()
    cases = "\n".join(f"        WHEN {_lit(user_type)} THEN {_lit(role)}" for user_type, role in user_types.items())
    known_types = ", ".join(user_types)
    managed = _text_array(list(names.all().values()))
    body = f"""
DECLARE
    target_role text;
BEGIN
    target_role := CASE user_type
{cases}
    END;
    IF target_role IS NULL THEN
        RAISE EXCEPTION 'grant_user_permissions: unknown user type %', quote_nullable(user_type)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = {_lit("use one of: " + known_types)};
    END IF;
    IF username IS NULL OR NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_roles AS r WHERE r.rolname = username
    ) THEN
        RAISE EXCEPTION 'grant_user_permissions: role % does not exist', quote_nullable(username)
            USING ERRCODE = 'undefined_object',
                  HINT = 'create the login role first, e.g. CREATE ROLE ... LOGIN';
    END IF;
    IF username = ANY ({managed}) OR username LIKE 'pg\\_%' THEN
        RAISE EXCEPTION 'grant_user_permissions: % is a role managed by this project or by '
            'PostgreSQL; grant user types to login users only', quote_ident(username)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format('GRANT %I TO %I', target_role, username);
    RETURN format('granted %s (%s) to %s', target_role, user_type, quote_ident(username));
END
"""
    return FunctionSpec(
        schema=UNQUALIFIED_SCHEMA,
        name=GRANT_FUNCTION,
        args=(("username", "text"), ("user_type", "text")),
        returns="text",
        body=body,
        owner=names.owner,
        security_definer=True,
        volatility="VOLATILE",
        execute_roles=names.permission_admins(),
        public_execute=False,
    )


def check_function(names: RoleNames) -> FunctionSpec:
    schemas = ",\n            ".join(f"({_lit(s)}, {i})" for i, s in enumerate(SCHEMA_NAMES, start=1))
    groups = _text_array(list(names.groups().values()))
    columns = ", ".join(f"{n} {t}" for n, t in CHECK_COLUMNS)
    body = f"""
DECLARE
    is_super boolean;
BEGIN
    SELECT r.rolsuper INTO is_super FROM pg_catalog.pg_roles AS r WHERE r.rolname = username;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'check_user_permissions: role % does not exist', quote_nullable(username)
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN QUERY
    WITH target(nspname, ord) AS (
        VALUES
            {schemas}
    ),
    present AS (
        SELECT t.nspname, t.ord, n.oid AS nspoid
        FROM target AS t
        JOIN pg_catalog.pg_namespace AS n ON n.nspname = t.nspname
    ),
    table_acl AS (
        SELECT p.nspname, a.grantee, a.privilege_type
        FROM present AS p
        JOIN pg_catalog.pg_default_acl AS d
          ON d.defaclnamespace = p.nspoid
         AND d.defaclrole = {_lit(names.owner)}::pg_catalog.regrole
         AND d.defaclobjtype = 'r'
        CROSS JOIN LATERAL pg_catalog.aclexplode(d.defaclacl) AS a
    ),
    held AS (
        SELECT DISTINCT ta.nspname, ta.privilege_type
        FROM table_acl AS ta
        WHERE ta.grantee = 0
           OR pg_catalog.pg_has_role(username, ta.grantee, 'USAGE')
    ),
    usable AS (
        SELECT p.nspname, p.ord,
               is_super OR pg_catalog.has_schema_privilege(username, p.nspoid, 'USAGE') AS u,
               is_super OR pg_catalog.has_schema_privilege(username, p.nspoid, 'CREATE') AS c
        FROM present AS p
    )
    SELECT us.nspname::text,
           us.u,
           us.c,
           us.u AND (is_super OR EXISTS (SELECT 1 FROM held AS h
                     WHERE h.nspname = us.nspname AND h.privilege_type = 'SELECT')),
           us.u AND (is_super OR EXISTS (SELECT 1 FROM held AS h
                     WHERE h.nspname = us.nspname AND h.privilege_type = 'INSERT')),
           us.u AND (is_super OR EXISTS (SELECT 1 FROM held AS h
                     WHERE h.nspname = us.nspname AND h.privilege_type = 'UPDATE')),
           us.u AND (is_super OR EXISTS (SELECT 1 FROM held AS h
                     WHERE h.nspname = us.nspname AND h.privilege_type = 'DELETE')),
           us.u AND (is_super OR EXISTS (SELECT 1 FROM held AS h
                     WHERE h.nspname = us.nspname AND h.privilege_type = 'TRUNCATE')),
           ARRAY(
               SELECT g.rolname::text
               FROM pg_catalog.unnest({groups}) AS g(rolname)
               WHERE pg_catalog.to_regrole(g.rolname) IS NOT NULL
                 AND pg_catalog.pg_has_role(username, g.rolname, 'MEMBER')
                 AND pg_catalog.has_schema_privilege(g.rolname, us.nspname, 'USAGE')
               ORDER BY g.rolname
           )
    FROM usable AS us
    ORDER BY us.ord;
END
"""
    return FunctionSpec(
        schema=UNQUALIFIED_SCHEMA,
        name=CHECK_FUNCTION,
        args=(("username", "text"),),
        returns=f"TABLE({columns})",
        body=body,
        owner=names.owner,
        security_definer=False,
        volatility="STABLE",
        execute_roles=(),
        public_execute=True,
    )
