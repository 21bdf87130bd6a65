"""Fixtures shared by the whole suite: a throwaway PostgreSQL cluster and the Pulumi engine.

    pg_cluster      (session)  pgcluster.Cluster: own initdb'd cluster on 127.0.0.1, removed at end
    fresh_dsn       (function) str: postgresql:// URL of a new, uniquely named, empty database
    toolchain       (session)  Toolchain: the bin dir of pulumi / language host / provider
    pulumi_env      (function) dict[str, str]: env vars for the Automation API (file backend in
                               a tmp dir, passphrase, no plugin downloads, toolchain first on PATH)
    pulumi_command  (session)  pulumi.automation.PulumiCommand for the toolchain's CLI

Engine fixtures never skip silently: when the engine is missing they FAIL, unless
CONSOLIDATION_ALLOW_NO_ENGINE=1 is set, in which case they skip with a loud reason.
Area-specific fixtures belong in the area's own test files or tests/<area>/conftest.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pulumi import automation as auto

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # `pytest` run without `python -m` from the repo root
    sys.path.insert(0, str(REPO_ROOT))

from pgcluster import Cluster, ServerSettings  # noqa: E402

ALLOW_NO_ENGINE_VAR = "CONSOLIDATION_ALLOW_NO_ENGINE"
ENGINE_BINARIES = ("pulumi", "pulumi-language-python", "pulumi-resource-postgresql")
PULUMI_TEST_PASSPHRASE = "consolidation-tests-only"


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
    pg_cluster.drop_database(name)


def dbname_of(dsn: str) -> str:
    """The database name in a postgresql:// URL."""
    return urlsplit(dsn).path.lstrip("/")


# ------------------------------------------------------------------------ Pulumi engine


@dataclass(frozen=True)
class Toolchain:
    """What toolchain/bootstrap.sh found or built."""

    bin_dir: Path
    versions: dict[str, str] = field(default_factory=dict)
    """Binary name -> version, for the binaries present."""
    missing: tuple[str, ...] = ()
    bootstrap_log: str = ""

    @property
    def root(self) -> Path:
        """The directory holding bin/ (what PulumiCommand(root=...) expects)."""
        return self.bin_dir.parent

    def require(self, *names: str) -> None:
        """Fail the test (or skip it, when CONSOLIDATION_ALLOW_NO_ENGINE=1) if any is missing."""
        absent = [n for n in names if n in self.missing or n not in self.versions]
        if not absent:
            return
        reason = (
            f"Pulumi engine incomplete: {', '.join(absent)} not found or built by "
            f"toolchain/bootstrap.sh.\n{self.bootstrap_log.strip()}"
        )
        if os.environ.get(ALLOW_NO_ENGINE_VAR) == "1":
            pytest.skip(f"!!! ENGINE MISSING, SKIPPED because {ALLOW_NO_ENGINE_VAR}=1 !!! {reason}")
        pytest.fail(f"{reason}\n(set {ALLOW_NO_ENGINE_VAR}=1 to skip engine tests instead)")


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


@pytest.fixture(scope="session")
def toolchain() -> Toolchain:
    """Runs toolchain/bootstrap.sh (about a second when its cache is warm)."""
    proc = _bootstrap()
    versions: dict[str, str] = {}
    missing: list[str] = []
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "MISSING":
            missing.append(parts[1])
        elif len(parts) == 2:
            versions[Path(parts[0]).name] = parts[1]
    if proc.returncode != 0 and not missing:
        missing = [n for n in ENGINE_BINARIES if n not in versions]
    dir_lines = _bootstrap("--bin-dir").stdout.strip().splitlines()
    bin_dir = Path(dir_lines[-1]) if dir_lines else REPO_ROOT / "toolchain" / "no-bin-dir"
    return Toolchain(
        bin_dir=bin_dir,
        versions=versions,
        missing=tuple(missing),
        bootstrap_log=proc.stderr[-4000:],
    )


@pytest.fixture(scope="session")
def require_engine(toolchain: Toolchain) -> Callable[..., None]:
    """``require_engine("pulumi-resource-postgresql", ...)``: fail (or loudly skip) if missing."""
    return toolchain.require


@pytest.fixture(scope="session")
def pulumi_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private PULUMI_HOME, so tests neither read nor write ~/.pulumi."""
    return tmp_path_factory.mktemp("pulumi-home")


@pytest.fixture
def pulumi_env(toolchain: Toolchain, pulumi_home: Path, tmp_path: Path) -> dict[str, str]:
    """Env vars for ``auto.LocalWorkspaceOptions(env_vars=...)``; a fresh file backend per test."""
    toolchain.require("pulumi")
    backend = tmp_path / "pulumi-backend"
    backend.mkdir()
    return {
        "PULUMI_BACKEND_URL": f"file://{backend}",
        "PULUMI_CONFIG_PASSPHRASE": PULUMI_TEST_PASSPHRASE,
        "PULUMI_HOME": str(pulumi_home),
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PATH": f"{toolchain.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }


@pytest.fixture(scope="session")
def pulumi_command(toolchain: Toolchain) -> auto.PulumiCommand:
    """``pulumi.automation.PulumiCommand`` for the toolchain's CLI (pass as pulumi_command=)."""
    toolchain.require("pulumi")
    return auto.PulumiCommand(root=str(toolchain.root))
