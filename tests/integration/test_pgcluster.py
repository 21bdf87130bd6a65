"""pgcluster: a real local PostgreSQL cluster (initdb + pg_ctl), started, reused, stopped."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pgcluster import Cluster, ClusterError, ServerSettings, find_bindir

pytestmark = pytest.mark.integration


@pytest.fixture
def server_dir() -> Iterator[Path]:
    """A temp dir the server's OS user can reach (pytest's tmp_path is root-only when root)."""
    base = Path(tempfile.mkdtemp(prefix="pgcluster-test-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def test_find_bindir_has_server_tools() -> None:
    bindir = find_bindir()
    for tool in ("initdb", "pg_ctl", "postgres", "pg_dump", "pg_restore"):
        assert (bindir / tool).is_file(), tool


def test_session_cluster_is_loopback_only_with_password(pg_cluster: Cluster) -> None:
    assert pg_cluster.host == "127.0.0.1"
    assert pg_cluster.dsn().startswith(f"postgresql://postgres:{pg_cluster.password}@127.0.0.1:")
    with psycopg.connect(pg_cluster.dsn()) as conn:
        settings = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('listen_addresses', 'port', 'fsync', 'password_encryption')"
            ).fetchall()
        )
    assert settings["listen_addresses"] == "127.0.0.1"
    assert int(settings["port"]) == pg_cluster.port
    assert settings["fsync"] == "off"  # the test cluster trades safety for speed
    assert settings["password_encryption"] == "scram-sha-256"
    wrong = pg_cluster.dsn().replace(pg_cluster.password, "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong).close()


def test_fresh_dsn_is_a_new_empty_database(fresh_dsn: str, pg_cluster: Cluster) -> None:
    with psycopg.connect(fresh_dsn) as conn:
        name = conn.execute("SELECT current_database()").fetchone()
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()
    assert name is not None and name[0].startswith("t_")
    assert tables == (0,)
    assert fresh_dsn == pg_cluster.dsn(name[0])


def test_create_database_quotes_identifiers(pg_cluster: Cluster) -> None:
    odd = 'we"ird name'
    dsn = pg_cluster.create_database(odd)
    try:
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (odd,)
    finally:
        pg_cluster.drop_database(odd)


def test_start_reuse_stop_restart_keeps_data_and_password(server_dir: Path) -> None:
    datadir = server_dir / "data"
    first = Cluster.start(datadir, settings=ServerSettings.for_tests())
    try:
        assert not first.reused
        with psycopg.connect(first.dsn(), autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)")
        again = Cluster.start(datadir)
        assert again.reused
        assert (again.port, again.password) == (first.port, first.password)
        first.stop()
        assert not first.is_running()
        first.stop()  # stopping a stopped cluster is fine
        restarted = Cluster.start(datadir)
        assert not restarted.reused
        assert restarted.password == first.password
        with psycopg.connect(restarted.dsn()) as conn:
            assert conn.execute("SELECT v FROM kept").fetchone() == (7,)
        restarted.stop()
    finally:
        first.destroy()
    assert not datadir.exists()


def test_explicit_port_is_used(server_dir: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    cluster = Cluster.start(server_dir / "data", port, settings=ServerSettings.for_tests())
    try:
        assert cluster.port == port
        with psycopg.connect(cluster.dsn()) as conn:
            assert conn.execute("SHOW port").fetchone() == (str(port),)
    finally:
        cluster.destroy()


def test_refuses_a_non_empty_non_postgres_dir(server_dir: Path) -> None:
    datadir = server_dir / "data"
    datadir.mkdir()
    (datadir / "something").write_text("not a cluster")
    with pytest.raises(ClusterError, match="neither empty nor a PostgreSQL data directory"):
        Cluster.start(datadir)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the server to another OS user")
def test_unreachable_datadir_is_explained(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.mkdir(mode=0o700)
    with pytest.raises(ClusterError, match="must be searchable"):
        Cluster.start(blocked / "data")
