"""Start, reuse, stop and remove a local PostgreSQL cluster (initdb + pg_ctl)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pgbin

SUPERUSER = "postgres"
"""The cluster's superuser role."""

SERVER_OS_USER = "postgres"
"""The OS user that runs the server when we are root (PostgreSQL refuses to run as root)."""

LOOPBACK = "127.0.0.1"

_SETTINGS_FILE = "pgcluster.conf"
_SUN_PATH_MAX = 107  # sockaddr_un.sun_path is 108 bytes including the NUL
_SOCKET_NAME_LEN = len("/.s.PGSQL.65535")


class ClusterError(RuntimeError):
    """A cluster could not be found, created, started or stopped; the message says why."""


@dataclass(frozen=True)
class ServerSettings:
    """Server settings written to ``<datadir>/pgcluster.conf`` at every start.

    The defaults suit bulk copies on a small machine. ``fsync=False`` (which also turns off
    synchronous_commit and full_page_writes) is for throwaway test clusters only: a crash
    can corrupt such a cluster.
    """

    fsync: bool = True
    shared_buffers: str = "256MB"
    work_mem: str = "32MB"
    maintenance_work_mem: str = "256MB"
    max_wal_size: str = "2GB"
    max_connections: int = 100
    # logical: data_copy's change capture (a logical replication slot, test_decoding)
    wal_level: str = "logical"
    max_replication_slots: int = 64  # one slot per database data_copy runs on
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def for_tests(cls) -> ServerSettings:
        """Fast and unsafe: no fsync; smaller shared buffers. pg_stat_statements is
        preloaded, so that `refs` can be tested on the statements it saw."""
        return cls(fsync=False, shared_buffers="128MB", extra={"shared_preload_libraries": "pg_stat_statements"})

    def as_dict(self) -> dict[str, str]:
        values = {
            "shared_buffers": self.shared_buffers,
            "work_mem": self.work_mem,
            "maintenance_work_mem": self.maintenance_work_mem,
            "max_wal_size": self.max_wal_size,
            "max_connections": str(self.max_connections),
            "checkpoint_timeout": "15min",
            "fsync": "on" if self.fsync else "off",
            "wal_level": self.wal_level,
            "max_replication_slots": str(self.max_replication_slots),
        }
        if not self.fsync:
            values["synchronous_commit"] = "off"
            values["full_page_writes"] = "off"
        values.update(self.extra)
        return values


def find_bindir() -> Path:
    """The directory holding initdb/pg_ctl/postgres.

    Order (pgbin's, shared with data_copy's pg_dump lookup): ``$PGCLUSTER_BINDIR``,
    ``pg_config --bindir``, the newest ``/usr/lib/postgresql/<major>/bin``.
    """
    found = pgbin.find_bindir(pgbin.SERVER_TOOLS)
    if found is not None:
        return found
    raise ClusterError(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found via $PGCLUSTER_BINDIR, "
        "pg_config --bindir or /usr/lib/postgresql/*/bin; run `make postgres` "
        "(toolchain/ensure-postgres.sh) to install them"
    )


def _is_root() -> bool:
    return os.geteuid() == 0


def _server_ids() -> tuple[int, int] | None:
    """uid/gid to give the server's files to, or None when we run the server ourselves."""
    if not _is_root():
        return None
    try:
        entry = pwd.getpwnam(SERVER_OS_USER)
    except KeyError as exc:
        raise ClusterError(
            f"running as root but there is no {SERVER_OS_USER!r} OS user to run the server as; "
            "install the postgresql package (make postgres) or run as a normal user"
        ) from exc
    return entry.pw_uid, entry.pw_gid


def _give_to_server(path: Path) -> None:
    ids = _server_ids()
    if ids is not None:
        os.chown(path, *ids)


def _server_cmd(args: Sequence[str]) -> list[str]:
    if _is_root():
        return ["runuser", "-u", SERVER_OS_USER, "--", *args]
    return list(args)


def _run_server_cmd(args: Sequence[str], *, what: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a server-side tool (initdb, pg_ctl) as the server's OS user."""
    proc = subprocess.run(
        _server_cmd(args),
        capture_output=True,
        text=True,
        cwd="/",  # the server user may not be allowed into our working directory
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise ClusterError(f"{what} failed (exit {proc.returncode}): {detail}")
    return proc


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _conf_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sibling(datadir: Path, suffix: str) -> Path:
    return datadir.with_name(datadir.name + suffix)


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Serialise starts of one datadir across processes."""
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class Cluster:
    """A running local PostgreSQL cluster. Create one with :meth:`Cluster.start`."""

    datadir: Path
    bindir: Path
    port: int
    password: str = field(repr=False)
    socket_dir: Path
    log_file: Path
    host: str = LOOPBACK
    user: str = SUPERUSER
    reused: bool = False
    """True when :meth:`start` found the server already running and attached to it."""

    # ----------------------------------------------------------------- lifecycle

    @classmethod
    def start(
        cls,
        datadir: Path,
        port: int | None = None,
        *,
        settings: ServerSettings | None = None,
        bindir: Path | None = None,
        timeout: int = 60,
    ) -> Cluster:
        """Start the cluster in ``datadir`` (initdb first if it is empty or absent).

        If a server is already running on ``datadir`` it is reused as it is (its port and
        settings win over the arguments). ``port=None`` picks a free loopback port.
        """
        datadir = Path(datadir).absolute()
        bindir = bindir or find_bindir()
        settings = settings or ServerSettings()
        datadir.parent.mkdir(parents=True, exist_ok=True)
        with _locked(_sibling(datadir, ".lock")):
            running = _running_server(datadir, bindir)
            if running is not None:
                run_port, run_socket_dir = running
                return cls(
                    datadir=datadir,
                    bindir=bindir,
                    port=run_port,
                    password=_read_password(datadir),
                    socket_dir=run_socket_dir,
                    log_file=_sibling(datadir, ".log"),
                    reused=True,
                )
            if not (datadir / "PG_VERSION").is_file():
                _initdb(datadir, bindir, no_sync=not settings.fsync)
            password = _read_password(datadir)
            socket_dir = _make_socket_dir(datadir)
            log_file = _sibling(datadir, ".log")
            log_file.touch(exist_ok=True)
            _give_to_server(log_file)
            attempts = 1 if port is not None else 3
            for attempt in range(attempts):
                chosen = port if port is not None else _free_port()
                _write_settings(datadir, chosen, socket_dir, settings)
                try:
                    _pg_ctl_start(datadir, bindir, log_file, timeout)
                except ClusterError:
                    if attempt + 1 == attempts:
                        raise
                    continue  # most likely lost a race for the port: try another
                return cls(
                    datadir=datadir,
                    bindir=bindir,
                    port=chosen,
                    password=password,
                    socket_dir=socket_dir,
                    log_file=log_file,
                )
        raise AssertionError("unreachable")

    @classmethod
    @contextlib.contextmanager
    def throwaway(cls, *, settings: ServerSettings | None = None, prefix: str = "pgcluster-") -> Iterator[Cluster]:
        """A new cluster in a fresh temporary directory, stopped and removed on exit."""
        base = Path(tempfile.mkdtemp(prefix=prefix))
        _give_to_server(base)
        cluster: Cluster | None = None
        try:
            cluster = cls.start(base / "data", settings=settings or ServerSettings.for_tests())
            yield cluster
        finally:
            if cluster is not None:
                cluster.stop()
            shutil.rmtree(base, ignore_errors=True)

    def is_running(self) -> bool:
        return _running_server(self.datadir, self.bindir) is not None

    def stop(self, mode: str = "fast", timeout: int = 60) -> None:
        """Stop the server (no error if it is not running)."""
        if _running_server(self.datadir, self.bindir) is None:
            return
        _run_server_cmd(
            [
                str(self.bindir / "pg_ctl"),
                "stop",
                "-D",
                str(self.datadir),
                "-m",
                mode,
                "-w",
                "-t",
                str(timeout),
                "-s",
            ],
            what=f"pg_ctl stop -D {self.datadir}",
        )
        if self.socket_dir.name.startswith("pgsock-"):  # a fallback dir from _make_socket_dir
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    def destroy(self) -> None:
        """Stop the server and delete the data directory and its sibling files."""
        self.stop(mode="immediate")
        shutil.rmtree(self.datadir, ignore_errors=True)
        shutil.rmtree(self.socket_dir, ignore_errors=True)
        for suffix in (".password", ".log", ".lock"):
            _sibling(self.datadir, suffix).unlink(missing_ok=True)

    # ---------------------------------------------------------------- connecting

    def dsn(self, dbname: str = "postgres") -> str:
        """A libpq/psycopg connection URL over TCP with the superuser's password."""
        return (
            f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(dbname, safe='')}"
        )

    def params(self, dbname: str = "postgres") -> dict[str, str | int]:
        """Connection parameters: host, port, user, password, dbname."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "dbname": dbname,
        }

    def create_database(self, name: str, *, owner: str | None = None) -> str:
        """CREATE DATABASE ``name`` (from template0, UTF8) and return its dsn."""
        import psycopg
        from psycopg import sql

        query = sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(name))
        if owner is not None:
            query = sql.SQL("{} OWNER {}").format(query, sql.Identifier(owner))
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(query)
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE IF EXISTS ``name`` WITH (FORCE), after dropping its replication
        slots (a database with a logical slot cannot be dropped)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                " WHERE database = %s AND NOT active",
                (name,),
            )
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


start = Cluster.start
"""Module-level alias: ``pgcluster.start(datadir, port=None, ...)``."""


# --------------------------------------------------------------------- internals


def _read_password(datadir: Path) -> str:
    path = _sibling(datadir, ".password")
    try:
        return path.read_text().strip()
    except FileNotFoundError as exc:
        raise ClusterError(
            f"{path} is missing: the superuser password of the cluster in {datadir} is unknown; "
            f"stop that server and remove {datadir} to start afresh"
        ) from exc


def _running_server(datadir: Path, bindir: Path) -> tuple[int, Path] | None:
    """(port, socket dir) of the server running on ``datadir``, or None."""
    pidfile = datadir / "postmaster.pid"
    if not pidfile.is_file():
        return None
    status = _run_server_cmd([str(bindir / "pg_ctl"), "status", "-D", str(datadir)], what="pg_ctl status", check=False)
    if status.returncode != 0:
        return None  # stale pid file; pg_ctl start copes with it
    try:
        lines = pidfile.read_text().splitlines()
        port = int(lines[3])
        socket_dir = Path(lines[4].split(",")[0].strip())
    except (OSError, IndexError, ValueError) as exc:
        raise ClusterError(f"cannot read port/socket dir from {pidfile}: {exc}") from exc
    return port, socket_dir


def _initdb(datadir: Path, bindir: Path, *, no_sync: bool) -> None:
    if datadir.exists() and any(datadir.iterdir()):
        raise ClusterError(
            f"{datadir} is neither empty nor a PostgreSQL data directory (no PG_VERSION); "
            "give an empty or absent directory"
        )
    datadir.mkdir(mode=0o700, parents=True, exist_ok=True)
    datadir.chmod(0o700)
    _give_to_server(datadir)
    if _is_root():
        probe = _run_server_cmd(["test", "-w", str(datadir)], what="access check", check=False)
        if probe.returncode != 0:
            raise ClusterError(
                f"the {SERVER_OS_USER!r} OS user cannot write {datadir}: every parent directory "
                "must be searchable by it (o+x); choose a data directory elsewhere"
            )
    pwfile = _sibling(datadir, ".password")
    if not pwfile.is_file():
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(24) + "\n")
    _give_to_server(pwfile)  # initdb reads it as the server user
    args = [
        str(bindir / "initdb"),
        "-D",
        str(datadir),
        "-U",
        SUPERUSER,
        f"--pwfile={pwfile}",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--encoding=UTF8",
        "--no-locale",
    ]
    if no_sync:
        args.append("--no-sync")
    _run_server_cmd(args, what=f"initdb -D {datadir}")
    with open(datadir / "postgresql.conf", "a") as conf:
        conf.write("\n# pgcluster rewrites this file at every start.\n")
        conf.write(f"include_if_exists = '{_SETTINGS_FILE}'\n")


def _make_socket_dir(datadir: Path) -> Path:
    preferred = _sibling(datadir, ".sock")
    if len(str(preferred)) + _SOCKET_NAME_LEN <= _SUN_PATH_MAX:
        preferred.mkdir(mode=0o700, exist_ok=True)
        socket_dir = preferred
    else:  # path too long for a unix socket: a short private one under the temp dir
        socket_dir = Path(tempfile.mkdtemp(prefix="pgsock-"))
    socket_dir.chmod(0o700)
    _give_to_server(socket_dir)
    return socket_dir


_SETTING_NAME = re.compile(r"^[a-z_][a-z0-9_.]*$")


def _write_settings(datadir: Path, port: int, socket_dir: Path, settings: ServerSettings) -> None:
    values = {
        "listen_addresses": LOOPBACK,
        "port": str(port),
        "unix_socket_directories": str(socket_dir),
        "unix_socket_permissions": "0700",
        **settings.as_dict(),
    }
    lines = []
    for name, value in values.items():
        if not _SETTING_NAME.match(name):
            raise ClusterError(f"invalid server setting name {name!r}")
        lines.append(f"{name} = {_conf_quote(value)}")
    path = datadir / _SETTINGS_FILE
    path.write_text("# Managed by pgcluster; rewritten at every start.\n" + "\n".join(lines) + "\n")
    _give_to_server(path)


def _pg_ctl_start(datadir: Path, bindir: Path, log_file: Path, timeout: int) -> None:
    proc = _run_server_cmd(
        [
            str(bindir / "pg_ctl"),
            "start",
            "-D",
            str(datadir),
            "-l",
            str(log_file),
            "-w",
            "-t",
            str(timeout),
            "-s",
        ],
        what=f"pg_ctl start -D {datadir}",
        check=False,
    )
    if proc.returncode != 0:
        tail = ""
        with contextlib.suppress(OSError):
            tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-15:])
        raise ClusterError(
            f"pg_ctl start -D {datadir} failed (exit {proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip()}\n--- {log_file} (last lines) ---\n{tail}"
        )
