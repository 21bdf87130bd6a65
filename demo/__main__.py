"""make demo: a local cluster under .state/, a legacy database, then the README walkthrough's
steps 0 and 1 run as typed (the Pulumi CLI and `python -m data_copy`, read from README.md by
demo/walkthrough.py), ending with the commands to type next. Safe to run again: every step
converges.

`--legacy-dump FILE` rehearses on your own legacy schemas instead of generated data, in a stack
of its own (`rehearsal`: own database, rolePrefix `rehearsal_`; demo/rehearsal.py), made anew
from the dump on every run, so `dev` and the rehearsal never touch each other.

Every failure ends with one line `error: what (how to fix)` and a non-zero exit, never a
traceback; a command that fails has printed its own output above that line.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql

from demo import rehearsal, walkthrough
from pgcluster import Cluster, ClusterError

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".state"
PORT = 55432
DATABASE = "mlb_betting"
STACK = "dev"
NEXT_STEPS = "README.md, Walkthrough"


class DemoError(Exception):
    """One line for the user: what failed and what to do."""


def _say(message: str) -> None:
    print(f"==> {message}", flush=True)


def _database(cluster: Cluster, name: str) -> str:
    with psycopg.connect(cluster.dsn("postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return cluster.dsn(name)


def _generate_legacy(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        present = conn.execute("SELECT to_regnamespace('splits') IS NOT NULL").fetchone() == (True,)
        migrated = conn.execute("SELECT to_regclass('public.migration_phase_events') IS NOT NULL").fetchone()
    if present or migrated == (True,):  # the demo database as left (by a demo, or by a walkthrough's phase 3)
        _say("legacy database already there: kept as it is")
        return
    import legacy_fixture

    _say("generating the legacy database (scale 'demo')")
    with psycopg.connect(dsn, autocommit=True) as conn:
        counts = legacy_fixture.build(conn, "demo")
    _say(f"legacy rows: {sum(counts.values()):,} in {len(counts)} tables")


def _load_dump(dsn: str, dump: Path, bindir: str) -> None:
    from demo.legacy_dump import DumpError, load

    _say(f"loading the legacy dump {dump}")
    try:
        kind, skipped = load(dsn, dump, bindir)
    except DumpError as error:
        raise DemoError(f"{error} (LEGACY_DUMP takes a pg_dump: plain SQL, -Fc, -Fd or -Ft)") from None
    for line in skipped:
        print(f"warning: skipped (refers to an object outside the dump): {line}", file=sys.stderr)
    _say(f"loaded the {kind} dump: every dumped table arrived with all its rows")


def _engine_lines() -> list[str]:
    """bootstrap.sh's lines: the CLI, the language host and the provider, each real or stand-in."""
    proc = subprocess.run(["bash", str(ROOT / "toolchain" / "bootstrap.sh")], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise DemoError(f"the Pulumi engine is not available: {last} (run `make toolchain`)")
    return proc.stdout.splitlines()


def _base_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PULUMI_SKIP_UPDATE_CHECK", "true")
    return env


def _run(commands: list[str], env: dict[str, str]) -> None:
    for command in commands:
        print(f"\n$ {command}", flush=True)
        proc = walkthrough.run(command, env, ROOT, capture=False)
        if proc.returncode != 0:
            raise DemoError(
                f"`{command}` exited with {proc.returncode} (its output is above; fix that, then `make demo` again:"
                " every step converges)"
            )


def _print_next(setup: list[str], ran: list[str], following: list[walkthrough.Step], dsn: str) -> None:
    print(f"\n==> the demo database: {dsn}")
    print(f"==> what the demo ran; type it yourself in a shell in this directory ({NEXT_STEPS}):\n")
    for line in (*setup, *ran):
        print(f"    {line}")
    if following:
        print("\n==> and next:")
        for step in following:
            print(f"\n    # {step.number}. {step.title}")
            for line in step.lines:
                print(f"    {line}")
    print(flush=True)


def demo(legacy_dump: Path | None) -> int:
    try:
        steps = walkthrough.steps()
    except (OSError, walkthrough.WalkthroughError) as error:
        raise DemoError(f"{error} (restore README.md from git)") from None
    _say("starting the local PostgreSQL under .state/pg")
    try:
        cluster = Cluster.start(STATE / "pg" / "data", port=PORT)
    except ClusterError as error:
        fix = f"make postgres installs PostgreSQL; another server on port {PORT} must stop"
        raise DemoError(f"{error} ({fix})") from None
    for line in _engine_lines():
        _say(line)
    base = _base_env()
    setup = list(steps[0].setup)
    ran = [*steps[0].actions, *steps[1].commands]
    following = steps[2:]
    if legacy_dump is None:
        dsn = _database(cluster, DATABASE)
        _generate_legacy(dsn)
    else:
        backend = {**base, "PULUMI_BACKEND_URL": f"file://{STATE / 'pulumi'}"}
        (STATE / "pulumi").mkdir(parents=True, exist_ok=True)
        base_path = walkthrough.environment(setup, base, ROOT)  # pulumi on PATH, for the clean-up
        removed = rehearsal.remove_previous(cluster.dsn("postgres"), {**base_path, **backend}, ROOT)
        if removed:
            _say("the last rehearsal removed: " + ", ".join(removed))
        dsn = _database(cluster, rehearsal.DATABASE)
        _load_dump(dsn, legacy_dump, str(cluster.bindir))
        left_out = rehearsal.without_project_objects(dsn)
        if left_out:
            _say("the dump holds this project's own objects (a database it ran on): dropped " + ", ".join(left_out))
        setup.append(f"export PGDATABASE={rehearsal.DATABASE}")
        ran = [walkthrough.for_stack(c, rehearsal.STACK) for c in ran]
        at = next(i for i, c in enumerate(ran) if c.startswith("pulumi stack select")) + 1
        ran.insert(at, f"pulumi config set consolidation:rolePrefix {rehearsal.ROLE_PREFIX}")
        following = []
    env = walkthrough.environment(setup, base, ROOT)
    _run(ran, env)
    _print_next(setup, ran, following, dsn)
    if legacy_dump is not None:
        print(f"    (steps 2-7 apply to the selected stack as well: data_copy takes --stack {rehearsal.STACK},")
        print(f"    the roles are {rehearsal.ROLE_PREFIX}...)\n")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="make demo")
    parser.add_argument(
        "--legacy-dump", type=Path, help="rehearse on your own legacy schemas (pg_dump: plain SQL, -Fc, -Fd or -Ft)"
    )
    args = parser.parse_args()
    if args.legacy_dump and not args.legacy_dump.exists():
        fix = "LEGACY_DUMP names a pg_dump file or -Fd directory"
        print(f"error: no such file: {args.legacy_dump} ({fix})", file=sys.stderr)
        return 2
    try:
        return demo(args.legacy_dump.resolve() if args.legacy_dump else None)
    except DemoError as error:
        print(f"error: {error}", file=sys.stderr)
    except walkthrough.WalkthroughError as error:
        print(f"error: {error} (run `make toolchain`, then `make demo` again)", file=sys.stderr)
    except (psycopg.Error, OSError, RuntimeError) as error:
        line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        print(f"error: {line} (check the local server: `make postgres`, then `make demo` again)", file=sys.stderr)
    except KeyboardInterrupt:
        print("error: interrupted (`make demo` again: every step converges)", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - a demo bug still ends in one line
        line = (str(error).strip().splitlines() or [""])[0]
        print(f"error: the demo failed: {type(error).__name__}: {line} (a bug of the demo: report it)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
