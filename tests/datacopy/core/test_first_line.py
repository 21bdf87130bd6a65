"""errors.first_line takes a server error's primary message (psycopg's diag), not the first
line of str(), which for some errors is not the message at all."""

import psycopg
import pytest

from data_copy.errors import first_line


def test_a_server_error_is_its_primary_message(fresh_dsn: str) -> None:
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.UndefinedTable) as caught:
            conn.execute("SELECT 1\nFROM nowhere_at_all")
    error = caught.value
    assert first_line(error) == 'relation "nowhere_at_all" does not exist'
    assert first_line(error) == error.diag.message_primary
    assert len(str(error).splitlines()) > 1  # str() also holds the statement's position


def test_a_connection_error_has_no_server_message_and_keeps_its_text() -> None:
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect("host=127.0.0.1 port=1 dbname=x connect_timeout=5")
    error = caught.value
    assert error.diag.message_primary is None
    assert first_line(error) == str(error).strip().splitlines()[0].strip()
    assert "port 1 failed" in first_line(error)
