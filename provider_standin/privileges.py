"""Privilege lists as upstream checks, compares and writes them (postgresql/helpers.go).

- allowed: the privileges each object type takes (`allowedPrivileges`), MAINTAIN added for
  tables on PostgreSQL 17 and later;
- validate: each declared privilege must be one of them, exactly (case-sensitive), checked
  before any statement (`validatePrivileges`);
- equal: what a Read found equals the declaration, `["ALL"]` counting as the object type's
  full set (`resourcePrivilegesEqual`);
- the list is written joined by "," and the grantee quoted, `public` too (`"public"` is
  PostgreSQL's PUBLIC).
"""

from collections.abc import Iterable, Sequence

from psycopg import sql

from provider_standin.pg import ProviderError

ALLOWED: dict[str, tuple[str, ...]] = {
    "database": ("ALL", "CREATE", "CONNECT", "TEMPORARY"),
    "table": ("ALL", "SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"),
    "sequence": ("ALL", "USAGE", "SELECT", "UPDATE"),
    "schema": ("ALL", "CREATE", "USAGE"),
    "function": ("ALL", "EXECUTE"),
    "procedure": ("ALL", "EXECUTE"),
    "routine": ("ALL", "EXECUTE"),
    "type": ("ALL", "USAGE"),
    "foreign_data_wrapper": ("ALL", "USAGE"),
    "foreign_server": ("ALL", "USAGE"),
    "column": ("ALL", "SELECT", "INSERT", "UPDATE", "REFERENCES"),
}
MAINTAIN_SINCE = 170000  # featureMaintainPrivilege: PostgreSQL >= 17


def allowed(object_type: str, server_version: int) -> tuple[str, ...] | None:
    base = ALLOWED.get(object_type)
    if base is not None and object_type == "table" and server_version >= MAINTAIN_SINCE:
        return (*base, "MAINTAIN")
    return base


def validate(object_type: str, privileges: Iterable[str], server_version: int) -> None:
    permitted = allowed(object_type, server_version)
    if permitted is None:
        raise ProviderError(f"unknown object type {object_type}")
    for privilege in privileges:
        if privilege not in permitted:
            raise ProviderError(f"{privilege} is not an allowed privilege for object type {object_type}")


def equal(granted: Iterable[str], wanted: Iterable[str], object_type: str, server_version: int) -> bool:
    granted_set, wanted_set = set(granted), set(wanted)
    if granted_set == wanted_set:
        return True
    if "ALL" not in wanted_set:
        return False
    implicit = {p for p in allowed(object_type, server_version) or () if p != "ALL"}
    return granted_set == implicit


def privilege_list(privileges: Sequence[str]) -> sql.Composable:
    """The validated privileges, joined by "," (each is one of ALLOWED's keywords)."""
    known = {p for ps in ALLOWED.values() for p in ps} | {"MAINTAIN"}
    bad = [p for p in privileges if p not in known]
    if bad:  # validate() runs first; this keeps anything else out of the SQL text
        raise ProviderError(f"{bad[0]} is not an allowed privilege")
    return sql.SQL(",").join(sql.SQL(p) for p in privileges)


def grantee(role: str) -> sql.Composable:
    """pq.QuoteIdentifier(role): `public` is written "public", which PostgreSQL reads as PUBLIC."""
    return sql.Identifier(role)
