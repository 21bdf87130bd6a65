"""Where the stack's database is, and the ONE way to turn that into libpq parameters.

Everything that connects from the stack's settings goes through `libpq_params`: the stack's
preview reads (components/peek.py), the dynamic resources (components/sql_function.py,
components/owner_role.py), the explicit provider (components/database.py maps the same
parameters to its argument names) and data_copy's `--stack` (data_copy/core/stack_source.py, as a
conninfo string made by psycopg's make_conninfo, which quotes every value: a password with
spaces, quotes or @ survives).
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from psycopg.conninfo import make_conninfo

DEFAULT_PORT = 5432
DEFAULT_USERNAME = "postgres"
# What the provider's Go driver (lib/pq) accepts; it has no "prefer" or "allow".
SSL_MODES: tuple[str, ...] = ("disable", "require", "verify-ca", "verify-full")
DEFAULT_SSLMODE = "require"


@dataclass(frozen=True)
class Connection:
    """Where the provider, the stack's reads and data_copy connect. No password."""

    host: str
    port: int
    database: str
    username: str
    sslmode: str

    def as_output(self) -> dict[str, Any]:
        """The `connection` stack output (its keys are the postgresql:* config keys)."""
        return asdict(self)

    @classmethod
    def from_output(cls, value: Mapping[str, Any]) -> "Connection":
        """The inverse of as_output (extra keys, such as a password, are ignored)."""
        return cls(
            host=str(value["host"]),
            port=int(value["port"]),
            database=str(value["database"]),
            username=str(value["username"]),
            sslmode=str(value["sslmode"]),
        )


def libpq_params(connection: Connection, password: str | None = None, **extra: str | int | None) -> dict[str, Any]:
    """libpq keywords (host, port, dbname, user, sslmode, password) plus `extra` ones
    (connect_timeout, application_name, options, ...). An empty password and None extras
    are left out: libpq then looks in PGPASSWORD and ~/.pgpass as usual."""
    params: dict[str, Any] = {
        "host": connection.host,
        "port": connection.port,
        "dbname": connection.database,
        "user": connection.username,
        "sslmode": connection.sslmode,
    }
    if password:
        params["password"] = password
    params.update({k: v for k, v in extra.items() if v is not None})
    return params


def conninfo(connection: Connection, password: str | None = None, **extra: str | int | None) -> str:
    """The same parameters as one libpq connection string (every value quoted by psycopg)."""
    return make_conninfo(**libpq_params(connection, password, **extra))
