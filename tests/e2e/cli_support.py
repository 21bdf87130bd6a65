"""Helpers for the CLI e2e tests (no tests here): the project run as its owners run it.

An `Owner` works in a throwaway copy of this checkout (as a fresh clone: the tracked files, no
.state, no stack config files; .venv links to this checkout's), in a shell set up by the README
walkthrough's step 0 lines, with the test cluster's server line in place of the demo's. Every
command is run by bash as written, through the Pulumi CLI and whichever language host and
provider bootstrap.sh picks (real or stand-in). PULUMI_HOME is private to the test, so
`pulumi login` never touches the machine's own Pulumi login.
"""

from __future__ import annotations

import os
import shlex
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from catalog import OWNER_ROLE, ROLES, SCHEMA_NAMES, privileges
from demo import walkthrough
from pgcluster import Cluster

REPO_ROOT = Path(__file__).resolve().parents[2]
# stack + provider + 5 components + 8 group roles + owner role + 4 schemas + per (role, schema)
# pair 4 grants and 3 default privileges + the PUBLIC revoke + 2 permission functions
RESOURCES = (
    (
        1
        + 1
        + 5
        + len(ROLES)
        + 1
        + len(SCHEMA_NAMES)
        + 7 * sum(1 for r in ROLES for s in SCHEMA_NAMES if privileges(r, s))
    )
    + 1
    + 2
)
_LEFT_OUT = {".git", ".state", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache"}


def _ignore(directory: str, names: list[str]) -> set[str]:
    left = {n for n in names if n in _LEFT_OUT or (n.startswith("Pulumi.") and n != "Pulumi.yaml")}
    if Path(directory).resolve() == REPO_ROOT / "bench":
        left |= {"work"} & set(names)
    return left


def project_copy(dest: Path) -> Path:
    """This checkout as a fresh clone would have it, at `dest` (its .venv links to ours)."""
    shutil.copytree(REPO_ROOT, dest, ignore=_ignore, symlinks=True)
    (dest / ".venv").symlink_to((REPO_ROOT / ".venv").resolve())
    return dest


def server_line(cluster: Cluster, database: str) -> str:
    """The walkthrough's server line, for the test's cluster."""
    values = {"PGHOST": cluster.host, "PGPORT": str(cluster.port), "PGUSER": cluster.user, "PGDATABASE": database}
    return (
        "export "
        + " ".join(f"{k}={shlex.quote(v)}" for k, v in values.items())
        + (f" PGPASSWORD={shlex.quote(cluster.password)}")
    )


@dataclass
class Done:
    command: str
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def output(self) -> str:
        return self.stdout + self.stderr

    def tail(self) -> str:
        return f"$ {self.command}\nexit {self.returncode}\n{self.stdout[-3000:]}\n{self.stderr[-3000:]}"


@dataclass
class Owner:
    """A shell in the project copy, set up by the walkthrough's step 0 `export` lines."""

    project: Path
    env: dict[str, str]
    ran: list[Done] = field(default_factory=list)

    def run(self, command: str, expect: int = 0) -> Done:
        start = time.monotonic()
        proc = walkthrough.run(command, self.env, self.project)
        done = Done(command, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)
        self.ran.append(done)
        assert done.returncode == expect, done.tail()
        return done


def owner_env(tmp: Path) -> dict[str, str]:
    """The owner's environment before step 0: this process's, without anything that would
    point Pulumi or libpq elsewhere, with a private PULUMI_HOME."""
    drop = ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_HOME", "PYTHONPATH", "VIRTUAL_ENV")
    libpq = {k for k in os.environ if k.startswith("PG") and not k.startswith("PGCLUSTER")}  # PGHOST, PGPORT, ...
    env = {k: v for k, v in os.environ.items() if k not in drop and k not in libpq}
    home = tmp / "pulumi-home"
    home.mkdir(exist_ok=True)
    env["PULUMI_HOME"] = str(home)
    env["PULUMI_SKIP_UPDATE_CHECK"] = "true"
    return env


def setup_owner(tmp: Path, steps: list[walkthrough.Step], server: str) -> Owner:
    """A project copy and a shell after step 0's `export` lines (the server line: `server`)."""
    project = project_copy(tmp / "project")
    setup = list(steps[0].setup)
    servers = [i for i, line in enumerate(setup) if line.startswith(walkthrough.SERVER_LINE)]
    assert len(servers) == 1, f"step 0 must have one line starting {walkthrough.SERVER_LINE!r}: {setup}"
    setup[servers[0]] = server
    return Owner(project, walkthrough.environment(setup, owner_env(tmp), project))


@contextmanager
def connection(cluster: Cluster, database: str) -> Iterator[psycopg.Connection]:
    """A superuser session whose reads are not counted in pg_stat_user_tables (track_counts
    off): the test looking at legacy tables is not an application still reading them, which
    phase 3's quiet-legacy guard would rightly refuse."""
    with psycopg.connect(**cluster.params(database), autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute("SET track_counts = off")
        yield conn


def one(conn: psycopg.Connection, query: str, params: tuple[Any, ...] = ()) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def latest_phase_event(conn: psycopg.Connection) -> tuple[int, str] | None:
    if one(conn, "SELECT to_regclass('public.migration_phase_events') IS NULL"):
        return None
    row = conn.execute("SELECT phase, event FROM public.migration_phase_events ORDER BY id DESC LIMIT 1").fetchone()
    return (row[0], row[1]) if row else None


def roles_of(conn: psycopg.Connection, prefix: str) -> dict[str, tuple[Any, ...]]:
    """The stack's 9 roles: attributes and memberships (cluster-wide)."""
    names = [prefix + OWNER_ROLE, *(prefix + r.name for r in ROLES)]
    rows = conn.execute(
        "SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolcreaterole, r.rolinherit,"
        " ARRAY(SELECT pg_get_userbyid(m.roleid) || ':' || m.admin_option FROM pg_auth_members m"
        "       WHERE m.member = r.oid ORDER BY 1)"
        " FROM pg_roles r WHERE r.rolname = ANY(%s) ORDER BY 1",
        (names,),
    ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def grants_in(conn: psycopg.Connection) -> dict[str, Any]:
    """Every ACL of the consolidated schemas, their tables, sequences and functions, and the
    default privileges, of one database."""
    return {
        "schemas": conn.execute(
            "SELECT nspname, pg_get_userbyid(nspowner), nspacl::text FROM pg_namespace"
            " WHERE nspname = ANY(%s) ORDER BY 1",
            (list(SCHEMA_NAMES),),
        ).fetchall(),
        "relations": conn.execute(
            "SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner), c.relacl::text FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'S')"
            " ORDER BY 1, 2",
            (list(SCHEMA_NAMES),),
        ).fetchall(),
        "functions": conn.execute(
            "SELECT p.oid::regprocedure::text, pg_get_userbyid(p.proowner), p.proacl::text FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY(%s) ORDER BY 1",
            ([*SCHEMA_NAMES, "public"],),
        ).fetchall(),
        "defaults": conn.execute(
            "SELECT pg_get_userbyid(defaclrole), defaclnamespace::regnamespace::text, defaclobjtype,"
            " defaclacl::text FROM pg_default_acl ORDER BY 1, 2, 3"
        ).fetchall(),
    }


def slots_of(conn: psycopg.Connection, database: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT slot_name, plugin, restart_lsn::text, confirmed_flush_lsn::text FROM pg_replication_slots"
        " WHERE database = %s ORDER BY 1",
        (database,),
    ).fetchall()
