"""The eight group roles of the guide's "Roles and Access Patterns", and what each may do.

The guide states access per role as READ / WRITE / INSERT+SELECT / FULL / BROAD per schema.
This module turns those words into concrete PostgreSQL privileges, once; the Pulumi
components, the permission functions and the tests all derive from ACCESS_LEVELS and ROLES.
"""

from dataclasses import dataclass, field
from enum import Enum

from catalog.schemas import SCHEMA_NAMES


class Access(Enum):
    """How the guide words a role's access to one schema."""

    READ = "READ"  # "READ", "READ ONLY"
    COLLECT = "INSERT, SELECT"  # data_collectors on raw_data
    WRITE = "WRITE"  # read + insert/update/delete rows
    BROAD = "BROAD ACCESS"  # the main application: WRITE everywhere, no TRUNCATE/DDL
    FULL = "FULL ACCESS"  # administrators: everything, including TRUNCATE and CREATE


@dataclass(frozen=True)
class Privileges:
    schema: tuple[str, ...]
    table: tuple[str, ...]
    sequence: tuple[str, ...]
    function: tuple[str, ...]


_ROW_WRITE = ("SELECT", "INSERT", "UPDATE", "DELETE")

ACCESS_LEVELS: dict[Access, Privileges] = {
    Access.READ: Privileges(("USAGE",), ("SELECT",), ("SELECT",), ("EXECUTE",)),
    Access.COLLECT: Privileges(("USAGE",), ("SELECT", "INSERT"), ("SELECT", "USAGE"), ("EXECUTE",)),
    Access.WRITE: Privileges(("USAGE",), _ROW_WRITE, ("SELECT", "UPDATE", "USAGE"), ("EXECUTE",)),
    Access.BROAD: Privileges(("USAGE",), _ROW_WRITE, ("SELECT", "UPDATE", "USAGE"), ("EXECUTE",)),
    Access.FULL: Privileges(
        ("CREATE", "USAGE"),
        ("DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"),
        ("SELECT", "UPDATE", "USAGE"),
        ("EXECUTE",),
    ),
}

ALL = SCHEMA_NAMES


@dataclass(frozen=True)
class Role:
    name: str
    user_type: str  # the word accepted by grant_user_permissions(user, type)
    description: str
    access: dict[str, Access] = field(default_factory=dict)  # schema -> access


def _each(schemas: tuple[str, ...], access: Access) -> dict[str, Access]:
    return {s: access for s in schemas}


ROLES: tuple[Role, ...] = (
    Role(
        "data_collectors",
        "collector",
        "raw_data (INSERT, SELECT)",
        {"raw_data": Access.COLLECT},
    ),
    Role(
        "betting_processors",
        "processor",
        "raw_data (READ) + core_betting (WRITE)",
        {"raw_data": Access.READ, "core_betting": Access.WRITE},
    ),
    Role(
        "analytics_processors",
        "analytics_processor",
        "core_betting (READ) + analytics (WRITE)",
        {"core_betting": Access.READ, "analytics": Access.WRITE},
    ),
    Role(
        "strategy_processors",
        "strategy",
        "ALL (READ) + analytics/operational (WRITE)",
        {**_each(ALL, Access.READ), "analytics": Access.WRITE, "operational": Access.WRITE},
    ),
    Role(
        "analytics_users",
        "analyst",
        "core_betting + analytics (READ ONLY)",
        {"core_betting": Access.READ, "analytics": Access.READ},
    ),
    Role(
        "monitoring_users",
        "monitor",
        "operational (READ ONLY)",
        {"operational": Access.READ},
    ),
    Role(
        "system_administrators",
        "admin",
        "ALL (FULL ACCESS)",
        _each(ALL, Access.FULL),
    ),
    Role(
        "mlb_betting_app",
        "app",
        "ALL (BROAD ACCESS for main application)",
        _each(ALL, Access.BROAD),
    ),
)

# Owns the four schemas and every table in them (NOLOGIN). Tables are created by data_copy
# under SET ROLE to it, so the default privileges declared for this owner apply to them.
OWNER_ROLE = "consolidation_owner"

# Roles that may run grant_user_permissions (EXECUTE is revoked from PUBLIC).
PERMISSION_ADMIN_ROLES: tuple[str, ...] = ("system_administrators",)

USER_TYPES: dict[str, str] = {r.user_type: r.name for r in ROLES}


# Phase 1: the consolidated tables are our derived copy, written only by data_copy (as the
# owner role); every group role gets only the guide's READ access to the schemas it may use.
# Their write privileges (INSERT/UPDATE/DELETE/TRUNCATE, sequence USAGE/UPDATE, CREATE ...)
# start with phase 2, when the new tables become the application's system of record.
WRITE_FROM_PHASE = 2


def privileges(role: Role, schema: str, phase: int = WRITE_FROM_PHASE) -> Privileges | None:
    """What `role` may do in `schema` in `phase`, or None when it has no access there."""
    access = role.access.get(schema)
    if access is None:
        return None
    return ACCESS_LEVELS[access if phase >= WRITE_FROM_PHASE else Access.READ]
