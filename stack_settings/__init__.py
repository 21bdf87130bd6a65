"""The project's settings, shared by the stack (components/) and data_copy: the one parser
of the stack's config (config.py), where the database is and the one way to connect to it
(connection.py), and the actual role names behind the optional rolePrefix (naming.py).

Pure: no Pulumi import, no I/O (psycopg is used only to build connection strings).
Arrows: components -> stack_settings -> catalog; data_copy -> stack_settings -> catalog.
"""

from stack_settings.config import (
    DEFAULT_BACKUP_DIR,
    DEFAULT_LEGACY_TIMEZONE,
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_STATEMENT_TIMEOUT,
    PHASES,
    ConfigError,
    DataCopySettings,
    StackSettings,
    parse_settings,
)
from stack_settings.connection import DEFAULT_SSLMODE, Connection, conninfo, libpq_params
from stack_settings.naming import RoleNames

__all__ = [
    "DEFAULT_BACKUP_DIR",
    "DEFAULT_LEGACY_TIMEZONE",
    "DEFAULT_LOCK_TIMEOUT",
    "DEFAULT_SSLMODE",
    "DEFAULT_STATEMENT_TIMEOUT",
    "PHASES",
    "ConfigError",
    "Connection",
    "DataCopySettings",
    "RoleNames",
    "StackSettings",
    "conninfo",
    "libpq_params",
    "parse_settings",
]
