"""make demo: local cluster under .state/, legacy database, `pulumi up` (phase 1, dev stack,
through the Automation API with the same program as __main__.py; the provider is the real
pulumi-postgresql or the stand-in, said once),
`python -m data_copy run --stack dev`, the report and `pulumi stack output`; the last line
printed is the demo database's connection URL. Safe to run again: every step converges."""

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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
        kind, skipped = load(dsn, dump, bindir)
    except DumpError as error:
        raise SystemExit(f"error: {error} (LEGACY_DUMP takes a pg_dump: plain SQL, -Fc, -Fd or -Ft)") from None
    for line in skipped:
        print(f"warning: skipped (refers to an object outside the dump): {line}", file=sys.stderr)
    _say(f"loaded the {kind} dump: every dumped table arrived with all its rows")


def _pulumi_env() -> dict[str, str]:
    backend = STATE / "pulumi"
    backend.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("PULUMI_BACKEND_URL", f"file://{backend}")
    env.setdefault("PULUMI_CONFIG_PASSPHRASE", "demo-only-passphrase")
    env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] = "true"
    env["PULUMI_SKIP_UPDATE_CHECK"] = "true"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _engine_line() -> str:
    """Which provider runs: bootstrap.sh's pulumi-resource-postgresql line (real or stand-in)."""
    proc = subprocess.run(["bash", str(ROOT / "toolchain" / "bootstrap.sh")], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(
            f"error: the Pulumi engine is not available: {' '.join(proc.stderr.strip().splitlines()[-1:])}"
            " (run `make toolchain`)"
        )
    for line in proc.stdout.splitlines():
        if "pulumi-resource-postgresql" in line and not line.startswith("MISSING"):
            path, version, kind = (line.split(maxsplit=2) + ["", ""])[:3]
            return f"pulumi-resource-postgresql {version} {kind} ({path})"
    raise SystemExit("error: no pulumi-resource-postgresql (run `make toolchain`)")


def _up(stack: Any, what: str) -> None:  # an automation.Stack
    _say(what)
    result = stack.up(on_output=lambda line: print(line, flush=True), color="never")
    if result.summary.result != "succeeded":
        raise SystemExit(f"error: pulumi up {result.summary.result}")


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
    env = _pulumi_env()
    _say(f"provider: {_engine_line()}")
    from pulumi import automation as auto

    from components.stack import PROJECT_NAME, program

    stack = auto.create_or_select_stack(
        stack_name=STACK,
        project_name=PROJECT_NAME,
        program=program,
        opts=auto.LocalWorkspaceOptions(work_dir=str(ROOT), env_vars=env),
    )
    stack.set_all_config(
        {
            "postgresql:host": auto.ConfigValue(cluster.host),
            "postgresql:port": auto.ConfigValue(str(cluster.port)),
            "postgresql:username": auto.ConfigValue(cluster.user),
            "postgresql:database": auto.ConfigValue(REHEARSAL_DATABASE if rehearsal else DATABASE),
            "postgresql:sslmode": auto.ConfigValue("disable"),
            "postgresql:password": auto.ConfigValue(cluster.password, secret=True),
        }
    )
    _up(stack, "pulumi up (phase 1, stack dev; an Automation API inline program running __main__'s code)")
    _say("python -m data_copy run --stack dev")
    copy = subprocess.run([sys.executable, "-m", "data_copy", "run", "--stack", STACK], cwd=ROOT, env=env)
    _up(stack, "pulumi up (records the validation in the stack outputs)")
    subprocess.run(["pulumi", "stack", "output", "--stack", STACK, "--non-interactive"], cwd=ROOT, env=env)
    print(dsn)
    return copy.returncode


if __name__ == "__main__":
    sys.exit(main())
