"""Actual role names: the catalog's logical names behind the stack's optional rolePrefix.

Roles are cluster-wide, so two stacks on one cluster need distinct role names; the prefix
does that. Schemas are per database and are never prefixed.
"""

import re
from dataclasses import dataclass

from catalog import OWNER_ROLE, PERMISSION_ADMIN_ROLES, ROLES, USER_TYPES

# PostgreSQL truncates identifiers to NAMEDATALEN - 1 = 63 bytes; a truncated role name
# would silently differ from the one we export, so a prefix that makes any name longer
# is refused instead.
MAX_IDENTIFIER_LENGTH = 63
LOGICAL_ROLE_NAMES: tuple[str, ...] = (OWNER_ROLE, *(r.name for r in ROLES))
MAX_PREFIX_LENGTH = MAX_IDENTIFIER_LENGTH - max(len(n) for n in LOGICAL_ROLE_NAMES)

_PREFIX_PATTERN = re.compile(r"[a-z_][a-z0-9_]*")
_RESERVED_ROLE_PREFIX = "pg_"  # role names starting with pg_ are reserved by PostgreSQL


def prefix_problem(prefix: str) -> str | None:
    """Why `prefix` cannot be a role-name prefix, or None when it can."""
    if prefix == "":
        return None
    if not _PREFIX_PATTERN.fullmatch(prefix):
        return f"{prefix!r} is not a lower-case identifier prefix (a-z or _ first, then a-z, 0-9, _)"
    if len(prefix) > MAX_PREFIX_LENGTH:
        return (
            f"{prefix!r} is {len(prefix)} characters; at most {MAX_PREFIX_LENGTH} keep every "
            f"role name within PostgreSQL's {MAX_IDENTIFIER_LENGTH}"
        )
    if any((prefix + n).startswith(_RESERVED_ROLE_PREFIX) for n in LOGICAL_ROLE_NAMES):
        return f"{prefix!r} would make role names start with {_RESERVED_ROLE_PREFIX!r} (reserved)"
    return None


@dataclass(frozen=True)
class RoleNames:
    """Logical (catalog) role name -> actual role name in the cluster."""

    prefix: str = ""

    def __post_init__(self) -> None:
        problem = prefix_problem(self.prefix)
        if problem:
            raise ValueError(problem)

    def actual(self, logical: str) -> str:
        if logical not in LOGICAL_ROLE_NAMES:
            raise KeyError(f"{logical!r} is not a role of the catalog")
        return self.prefix + logical

    @property
    def owner(self) -> str:
        return self.actual(OWNER_ROLE)

    def groups(self) -> dict[str, str]:
        """The eight group roles, in catalog order."""
        return {r.name: self.actual(r.name) for r in ROLES}

    def all(self) -> dict[str, str]:
        """The group roles and the owner role."""
        return {**self.groups(), OWNER_ROLE: self.owner}

    def user_types(self) -> dict[str, str]:
        """grant_user_permissions' user type -> actual group role."""
        return {user_type: self.actual(role) for user_type, role in USER_TYPES.items()}

    def permission_admins(self) -> tuple[str, ...]:
        return tuple(self.actual(r) for r in PERMISSION_ADMIN_ROLES)
