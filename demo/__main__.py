"""make demo: local cluster under .state/, legacy database, `pulumi up` (phase 1, dev stack),
`python -m data_copy run --stack dev`, the report and `pulumi stack output`; the last line
printed is the demo database's connection URL. Safe to run again: every step converges."""

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql

from pgcluster import Cluster

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".state"
PORT = 55432
DATABASE = "mlb_betting"
REHEARSAL_DATABASE = "mlb_betting_rehearsal"  # LEGACY_DUMP: loaded anew on every run
STACK = "dev"


def _say(message: str) -> None:
    print(f"==> {message}", flush=True)


def _database(cluster: Cluster, name: str, fresh: bool) -> str:
    """The demo database (kept between runs), or a rehearsal one made anew from a dump."""
    with psycopg.connect(cluster.dsn("postgres"), autocommit=True) as conn:
        if fresh:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return cluster.dsn(name)


def _load_legacy(dsn: str, dump: Path | None, bindir: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        present = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'splits'").fetchone()
    if present:
        _say("legacy schemas already present: kept as they are")
        return
    if dump is None:
        import legacy_fixture

        _say("generating the legacy database (scale 'demo')")
        with psycopg.connect(dsn, autocommit=True) as conn:
            counts = legacy_fixture.build(conn, "demo")
        _say(f"legacy rows: {sum(counts.values()):,} in {len(counts)} tables")
        return
    from demo.legacy_dump import DumpError, load

    _say(f"loading the legacy dump {dump}")
    try:
        kind = load(dsn, dump, bindir)
    except DumpError as error:
        raise SystemExit(f"error: {error} (LEGACY_DUMP takes a pg_dump: plain SQL, -Fc, -Fd or -Ft)") from None
    _say(f"loaded the {kind} dump")


def _pulumi_env(cluster: Cluster) -> dict[str, str]:
    backend = STATE / "pulumi"
    backend.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("PULUMI_BACKEND_URL", f"file://{backend}")
    env.setdefault("PULUMI_CONFIG_PASSPHRASE", "demo-only-passphrase")
    env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] = "true"
    env["PULUMI_SKIP_UPDATE_CHECK"] = "true"
    return env


def _pulumi(args: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["pulumi", *args, "--non-interactive"], cwd=ROOT, env=env, text=True, check=check)


ENGINE = ("pulumi", "pulumi-language-python", "pulumi-resource-postgresql")


def _without_engine(dsn: str, missing: list[str]) -> int:
    """The engine cannot be built on this machine: say so, and do the data half anyway."""
    print(
        f"!!! PULUMI ENGINE INCOMPLETE: {', '.join(missing)} not found (see toolchain/README.md).\n"
        "!!! `pulumi up` is SKIPPED: no group roles, grants, permission functions or stack outputs.\n"
        "!!! The four schemas and their owner role are created directly, then data_copy runs.",
        file=sys.stderr,
        flush=True,
    )
    from data_copy.api import bootstrap_structure

    bootstrap_structure(dsn)
    _say("python -m data_copy run --dsn <demo database>")
    copy = subprocess.run([sys.executable, "-m", "data_copy", "run", "--dsn", dsn], cwd=ROOT)
    subprocess.run([sys.executable, "-m", "data_copy", "status", "--dsn", dsn], cwd=ROOT)
    print(dsn)
    return copy.returncode


def main() -> int:
    parser = argparse.ArgumentParser(prog="make demo")
    parser.add_argument(
        "--legacy-dump", type=Path, help="rehearse on your own legacy schemas (pg_dump: plain SQL, -Fc, -Fd or -Ft)"
    )
    args = parser.parse_args()
    if args.legacy_dump and not args.legacy_dump.exists():
        print(
            f"error: no such file: {args.legacy_dump} (LEGACY_DUMP names a pg_dump file or -Fd directory)",
            file=sys.stderr,
        )
        return 2
    _say("starting the local PostgreSQL under .state/pg")
    cluster = Cluster.start(STATE / "pg" / "data", port=PORT)
    rehearsal = args.legacy_dump is not None
    dsn = _database(cluster, REHEARSAL_DATABASE if rehearsal else DATABASE, fresh=rehearsal)
    _load_legacy(dsn, args.legacy_dump, str(cluster.bindir))
    env = _pulumi_env(cluster)
    missing = [b for b in ENGINE if shutil.which(b, path=env.get("PATH")) is None]
    if missing:
        return _without_engine(dsn, missing)
    if _pulumi(["stack", "select", STACK], env, check=False).returncode != 0:
        _pulumi(["stack", "init", STACK], env)
    for key, value in (
        ("postgresql:host", cluster.host),
        ("postgresql:port", str(cluster.port)),
        ("postgresql:username", cluster.user),
        ("postgresql:database", REHEARSAL_DATABASE if rehearsal else DATABASE),
        ("postgresql:sslmode", "disable"),
    ):
        _pulumi(["config", "set", "--stack", STACK, key, value], env)
    _pulumi(["config", "set", "--stack", STACK, "--secret", "postgresql:password", cluster.password], env)
    _say("pulumi up (phase 1)")
    _pulumi(["up", "--yes", "--stack", STACK, "--skip-preview"], env)
    _say("python -m data_copy run --stack dev")
    copy = subprocess.run([sys.executable, "-m", "data_copy", "run", "--stack", STACK], cwd=ROOT, env=env)
    _say("pulumi up (records the validation in the stack outputs)")
    _pulumi(["up", "--yes", "--stack", STACK, "--skip-preview"], env)
    _pulumi(["stack", "output", "--stack", STACK], env)
    print(dsn)
    return copy.returncode


if __name__ == "__main__":
    sys.exit(main())
