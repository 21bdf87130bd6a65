"""Fixtures shared by the whole suite: a throwaway PostgreSQL cluster and the Pulumi engine.

    pg_cluster      (session)  pgcluster.Cluster: own initdb'd cluster on 127.0.0.1, removed at end
    fresh_dsn       (function) str: postgresql:// URL of a new, uniquely named, empty database
    row_accounting  (session)  account(dsn, results) -> {mapping: (legacy rows, new rows,
                               rejects)} for the results of a data_copy run
    toolchain       (session)  Toolchain: the bin dir of pulumi / language host / provider, and
                               what each is (real, or the stand-in)
    pulumi_env      (function) dict[str, str]: env vars for the Automation API (file backend in
                               a tmp dir, passphrase, no plugin downloads, toolchain first on PATH)
    engine_env_factory (session) factory(backend dir) -> the same env vars, for wider fixtures
    pulumi_command  (session)  pulumi.automation.PulumiCommand for the toolchain's CLI

Engine fixtures never skip: when the engine is missing they FAIL. The provider is the real
pulumi-postgresql when bootstrap.sh finds one of the pinned version, else the stand-in
(provider_standin/); the Python language host likewise (langhost_standin/); the report header
says which.
Area-specific fixtures belong in the area's own test files or tests/<area>/conftest.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from pulumi import automation as auto

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # `pytest` run without `python -m` from the repo root
    sys.path.insert(0, str(REPO_ROOT))

from pgcluster import Cluster, ServerSettings  # noqa: E402

PULUMI_TEST_PASSPHRASE = "consolidation-tests-only"

# A suite started in the background by a shell without job control (`make test &`) inherits
# SIGINT ignored, and so would every data_copy child: the Ctrl-C tests' signal would not
# arrive. The children get SIGINT as from a terminal (a handler resets to default on exec).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A cluster of our own for the whole session (fsync off), stopped and removed at the end."""
    with Cluster.throwaway(settings=ServerSettings.for_tests()) as cluster:
        yield cluster


@pytest.fixture
def fresh_dsn(pg_cluster: Cluster) -> Iterator[str]:
    """A new empty database (unique name ``t_<hex>``); dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    dsn = pg_cluster.create_database(name)
    yield dsn
    # replication origins are the cluster's, not the database's, and each one a run has used
    # keeps one of max_replication_slots' origin states until it is dropped: drop ours
    with psycopg.connect(dsn, autocommit=True) as conn:
        for (origin,) in conn.execute(
            "SELECT roname FROM pg_replication_origin WHERE strpos(roname, %s) > 0", (name,)
        ).fetchall():
            try:
                conn.execute("SELECT pg_replication_origin_drop(%s)", (origin,))
            except psycopg.errors.ObjectInUse:
                pass  # a session of the test still ending: its database goes all the same
    pg_cluster.drop_database(name)


def _account(dsn: str, results: Iterable[Any]) -> dict[str, tuple[int, int, int]]:
    """mapping -> (legacy rows, rows in the new table, rejects) of a run's results (their
    rejects are recorded under the mapping's name or "<name>/<part>")."""
    found = {}
    with psycopg.connect(dsn) as conn:
        for r in results:
            row = conn.execute(
                "SELECT count(*) FROM public.migration_rejects WHERE mapping = %s OR mapping LIKE %s",
                (r.name, r.name + "/%"),
            ).fetchone()
            assert row is not None
            found[r.name] = (r.source_count, r.target_count, row[0])
    return found


@pytest.fixture(scope="session")
def row_accounting() -> Callable[[str, Iterable[Any]], dict[str, tuple[int, int, int]]]:
    """Every legacy row is copied or rejected: ``legacy == new + rejects`` per mapping."""
    return _account


def dbname_of(dsn: str) -> str:
    """The database name in a postgresql:// URL."""
    return urlsplit(dsn).path.lstrip("/")


# ------------------------------------------------------------------------ Pulumi engine

ENGINE_BINARIES = ("pulumi", "pulumi-resource-postgresql", "pulumi-language-python")
"""What the engine tests need: most run the project as an Automation API inline program
(tests/e2e/test_stack_support.py); the CLI tests (test_walkthrough.py, test_two_stacks.py) run
it through the language host, as its owners do."""


@dataclass(frozen=True)
class Toolchain:
    """What toolchain/bootstrap.sh found, built or installed (the stand-in provider)."""

    bin_dir: Path
    versions: dict[str, str] = field(default_factory=dict)
    """Binary name -> version, for the binaries present."""
    kinds: dict[str, str] = field(default_factory=dict)
    """Binary name -> what bootstrap.sh says it is (language host, provider: "real" or "stand-in ...")."""
    missing: tuple[str, ...] = ()
    bootstrap_log: str = ""
    lines: tuple[str, ...] = ()

    @property
    def root(self) -> Path:
        """The directory holding bin/ (what PulumiCommand(root=...) expects)."""
        return self.bin_dir.parent

    @property
    def provider_kind(self) -> str:
        return self.kinds.get("pulumi-resource-postgresql", "missing")

    def require(self, *names: str) -> None:
        """Fail the test if any of `names` is missing (never skip)."""
        absent = [n for n in names if n in self.missing or n not in self.versions]
        if absent:
            pytest.fail(
                f"Pulumi engine incomplete: {', '.join(absent)} not found or installed by "
                f"toolchain/bootstrap.sh.\n{self.bootstrap_log.strip()}"
            )


def read_versions_env() -> dict[str, str]:
    """toolchain/versions.env as a dict."""
    values: dict[str, str] = {}
    for raw in (REPO_ROOT / "toolchain" / "versions.env").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def _bootstrap(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(REPO_ROOT / "toolchain" / "bootstrap.sh"), *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
    )


def parse_bootstrap(stdout: str) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """bootstrap.sh's lines -> (versions, kinds, missing)."""
    versions: dict[str, str] = {}
    kinds: dict[str, str] = {}
    missing: list[str] = []
    for line in stdout.splitlines():
        parts = line.split(maxsplit=2)
        if len(parts) >= 2 and parts[0] == "MISSING":
            missing.append(parts[1])
        elif len(parts) >= 2:
            name = Path(parts[0]).name
            versions[name] = parts[1]
            kinds[name] = parts[2] if len(parts) == 3 else ""
    return versions, kinds, missing


_TOOLCHAIN: list[Toolchain] = []


def load_toolchain() -> Toolchain:
    """Runs toolchain/bootstrap.sh once per session (about a second when its cache is warm)."""
    if _TOOLCHAIN:
        return _TOOLCHAIN[0]
    proc = _bootstrap()
    versions, kinds, missing = parse_bootstrap(proc.stdout)
    if proc.returncode != 0:
        missing += [n for n in ENGINE_BINARIES if n not in versions and n not in missing]
    dir_lines = _bootstrap("--bin-dir").stdout.strip().splitlines()
    bin_dir = Path(dir_lines[-1]) if dir_lines else REPO_ROOT / "toolchain" / "no-bin-dir"
    _TOOLCHAIN.append(
        Toolchain(
            bin_dir=bin_dir,
            versions=versions,
            kinds=kinds,
            missing=tuple(missing),
            bootstrap_log=proc.stderr[-4000:],
            lines=tuple(proc.stdout.splitlines()),
        )
    )
    return _TOOLCHAIN[0]


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Which engine and which provider ran (the stand-in is said so, once)."""
    tc = load_toolchain()

    def plugin(name: str) -> str:
        version = tc.versions.get(name)
        return f"{name} {version} {tc.kinds.get(name, '')}".rstrip() if version else f"{name} MISSING"

    return [
        f"pulumi engine: pulumi {tc.versions.get('pulumi', 'MISSING')}; {plugin('pulumi-language-python')};"
        f" {plugin('pulumi-resource-postgresql')}"
    ]


@pytest.fixture(scope="session")
def toolchain() -> Toolchain:
    return load_toolchain()


@pytest.fixture(scope="session")
def require_engine(toolchain: Toolchain) -> Callable[..., None]:
    """``require_engine("pulumi-resource-postgresql", ...)``: fail if missing."""
    return toolchain.require


@pytest.fixture(scope="session")
def pulumi_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private PULUMI_HOME, so tests neither read nor write ~/.pulumi."""
    return tmp_path_factory.mktemp("pulumi-home")


def engine_environment(toolchain: Toolchain, pulumi_home: Path, backend: Path) -> dict[str, str]:
    """Env vars for the Automation API: file backend, passphrase, no plugin downloads, the
    toolchain's bin dir and the project's .venv first on PATH (the dynamic provider host and
    the stand-in run Python), the repository importable (pickled dynamic providers)."""
    backend.mkdir(parents=True, exist_ok=True)
    python_path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {
        "PULUMI_BACKEND_URL": f"file://{backend}",
        "PULUMI_CONFIG_PASSPHRASE": PULUMI_TEST_PASSPHRASE,
        "PULUMI_HOME": str(pulumi_home),
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PATH": os.pathsep.join([str(toolchain.bin_dir), str(REPO_ROOT / ".venv" / "bin"), os.environ.get("PATH", "")]),
        "PYTHONPATH": python_path,
    }


@pytest.fixture(scope="session")
def engine_env_factory(toolchain: Toolchain, pulumi_home: Path) -> Callable[[Path], dict[str, str]]:
    """``factory(backend_dir)``: pulumi_env's env vars over a file backend of your choice, for
    fixtures wider than one test."""
    toolchain.require("pulumi")
    return lambda backend: engine_environment(toolchain, pulumi_home, backend)


@pytest.fixture
def pulumi_env(engine_env_factory: Callable[[Path], dict[str, str]], tmp_path: Path) -> dict[str, str]:
    """Env vars for ``auto.LocalWorkspaceOptions(env_vars=...)``; a fresh file backend per test."""
    return engine_env_factory(tmp_path / "pulumi-backend")


@pytest.fixture(scope="session")
def pulumi_command(toolchain: Toolchain) -> auto.PulumiCommand:
    """``pulumi.automation.PulumiCommand`` for the toolchain's CLI (pass as pulumi_command=)."""
    toolchain.require("pulumi")
    return auto.PulumiCommand(root=str(toolchain.root))


# ------------------------------------------------------------------- no skipped tests


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test is a failure of the run: CI runs every test (issue 10)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter is not None else 0
    if skipped and exitstatus == 0:
        if reporter is not None:
            reporter.write_line(f"error: {skipped} test(s) skipped; every test must run (fix or remove them)", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
