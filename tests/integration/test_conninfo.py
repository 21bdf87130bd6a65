"""The one way the project connects from the stack's settings (stack_settings.conninfo,
built by psycopg's make_conninfo): a password with spaces, quotes, @, : and / survives a
real scram-sha-256 login, through every path that uses it (data_copy's --stack DSN, the
stack's read-only peek, the dynamic resources' connection input)."""

from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from components import connected, peek
from stack_settings import Connection, conninfo, libpq_params

HOSTILE = "p w@d:/?#'\"\\ x=y"  # space, @, :, /, ?, #, both quotes, backslash, =


@pytest.fixture
def hostile_login(fresh_dsn: str) -> Iterator[Connection]:
    """A login role with the HOSTILE password on the test database (TCP asks for it)."""
    url = urlsplit(fresh_dsn)
    role = f"conninfo_{url.path.lstrip('/')[-8:]}"
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(HOSTILE)))
    yield Connection(url.hostname or "", url.port or 5432, url.path.lstrip("/"), role, "disable")
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_the_dsn_carries_every_setting_and_the_password_unchanged(hostile_login: Connection) -> None:
    dsn = conninfo(hostile_login, HOSTILE, application_name="x y")
    assert conninfo_to_dict(dsn) == {
        "host": hostile_login.host,
        "port": str(hostile_login.port),
        "dbname": hostile_login.database,
        "user": hostile_login.username,
        "sslmode": "disable",
        "password": HOSTILE,
        "application_name": "x y",
    }
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (
            hostile_login.username,
            hostile_login.database,
        )


def test_a_wrong_password_is_refused(hostile_login: Connection) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(conninfo(hostile_login, HOSTILE + "!"), connect_timeout=5).close()


def test_no_password_leaves_it_to_libpq(hostile_login: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "password" not in libpq_params(hostile_login, None)
    assert "password" not in libpq_params(hostile_login, "")
    monkeypatch.setenv("PGPASSWORD", HOSTILE)
    with psycopg.connect(conninfo(hostile_login)) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (hostile_login.username,)


def test_the_stack_paths_log_in_with_the_same_password(hostile_login: Connection) -> None:
    with peek.read_only(hostile_login, HOSTILE, "conninfo-test") as conn:
        assert conn.execute("SELECT current_user, current_setting('default_transaction_read_only')").fetchone() == (
            hostile_login.username,
            "on",
        )
    as_input = {**hostile_login.as_output(), "password": HOSTILE}  # what SqlFunction / OwnerRole get
    with connected.connect(as_input, "conninfo-test") as conn:
        assert conn.execute("SELECT current_user, current_setting('application_name')").fetchone() == (
            hostile_login.username,
            "conninfo-test",
        )
