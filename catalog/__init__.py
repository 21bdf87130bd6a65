"""THE single source of truth: pure data, no I/O beyond reading its own packaged files.

Everything else (Pulumi components, data_copy, the registry, tests) derives from here.
"""

from catalog.registry import REGISTRY, RegistryEntry, table_registry
from catalog.roles import (
    ACCESS_LEVELS,
    OWNER_ROLE,
    PERMISSION_ADMIN_ROLES,
    ROLES,
    USER_TYPES,
    Access,
    Privileges,
    Role,
    privileges,
)
from catalog.schemas import (
    LEGACY_SCHEMAS,
    MIGRATION_LOG_TABLE,
    NEVER_DROPPED_SCHEMAS,
    SCHEMA_NAMES,
    SCHEMAS,
    UNQUALIFIED_SCHEMA,
    Schema,
)

__all__ = [
    "ACCESS_LEVELS",
    "REGISTRY",
    "RegistryEntry",
    "table_registry",
    "LEGACY_SCHEMAS",
    "MIGRATION_LOG_TABLE",
    "NEVER_DROPPED_SCHEMAS",
    "OWNER_ROLE",
    "PERMISSION_ADMIN_ROLES",
    "ROLES",
    "SCHEMAS",
    "SCHEMA_NAMES",
    "UNQUALIFIED_SCHEMA",
    "USER_TYPES",
    "Access",
    "Privileges",
    "Role",
    "Schema",
    "privileges",
]
