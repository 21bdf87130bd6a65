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
# The sslmodes the stack accepts. The provider's driver (lib/pq 1.12) and libpq also take
# "prefer" and "allow"; we refuse them on purpose: prefer goes on without TLS when TLS
# fails, allow starts without it, and neither says so, so the stack's password and data
# could cross the network in clear unnoticed. "disable" says it out loud.
SSL_MODES: tuple[str, ...] = ("disable", "require", "verify-ca", "verify-full")
SILENT_FALLBACK_SSL_MODES: tuple[str, ...] = ("prefer", "allow")
DEFAULT_SSLMODE = "require"


def sslmode_problem(raw: str) -> str | None:
    """Why `raw` is not an sslmode the stack accepts, or None ("" is the default)."""
    if raw in ("", *SSL_MODES):
        return None
    if raw in SILENT_FALLBACK_SSL_MODES:
        return (
            f"{raw!r} is refused on purpose: prefer and allow connect without TLS, silently, whenever TLS is "
            "not there (use require, the default, verify-ca or verify-full; or disable to go without TLS knowingly)"
        )
    return f"{raw!r} is not one of {', '.join(SSL_MODES)}"


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
