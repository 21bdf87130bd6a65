"""Every CLI path with bad input, against a real database: one line, a documented exit code,
never a traceback.

Each case runs `python -m data_copy ...` as a user would (a subprocess) and fails on any
`Traceback` in its output, on a multi-line error, or on an exit code other than the one
docs/exit-codes.md documents for that kind of failure.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import legacy_fixture
from data_copy import api, errors
from pgcluster import Cluster

REPO = Path(__file__).resolve().parents[3]
ROWS = """
INSERT INTO public.games (id, mlb_stats_api_game_id, home_team, away_team, game_date, game_datetime,
  game_status, home_score, updated_at)
VALUES (1, '745001', 'NYY', 'BOS', '2024-05-01', '2024-05-01 23:05+00', 'final', 5, now());
INSERT INTO mlb_betting.moneyline (game_id, sportsbook, home_ml, odds_timestamp) VALUES (1, 'DK', -120, now());
"""


def cli(*args: str, env: dict[str, str] | None = None, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
    return subprocess.run(
        [sys.executable, "-m", "data_copy", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**base, **(env or {})},
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def one_line_error(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    assert proc.returncode == code, (proc.returncode, out)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(("error: ", "interrupted: ")), out
    for word in words:
        assert word in last, (word, last)
    return last


@pytest.fixture(scope="module")
def db(pg_cluster: Cluster) -> Iterator[str]:
    """A small legacy database with the consolidated schemas deployed (no run yet)."""
    name = "hostile_cli"
    dsn = pg_cluster.create_database(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        legacy_fixture.build_with_rows(conn, ROWS)
    api.bootstrap_structure(dsn)
    yield dsn
    pg_cluster.drop_database(name)


USAGE = [
    ["--bogus"],
    ["nosuchcommand"],
    ["--dsn"],
    ["--dsn", "postgresql://x/y"],
    ["run", "--dsn"],
    ["run", "--bogus"],
    ["run", "--count-only", "yes", "--dsn", "postgresql://x/y"],
    ["cleanup", "--dry-run", "yes", "--dsn", "postgresql://x/y"],
    ["restore", "--dump"],
    ["status", "extra"],
    ["run", "--stack", "a", "--dsn", "postgresql://x/y"],
    ["run"],
    ["run", "--dsn", "not a dsn ==="],
    ["refs", "/nonexistent/app"],
    ["refs", "--format", "xml", "."],
]


@pytest.mark.parametrize("args", USAGE, ids=[" ".join(a) or "none" for a in USAGE])
def test_usage_mistakes_are_one_line_exit_2(args: list[str]) -> None:
    one_line_error(cli(*args), errors.USAGE)


def test_no_command_prints_the_help_and_exits_2() -> None:
    proc = cli()
    assert proc.returncode == errors.USAGE and "Traceback" not in proc.stdout + proc.stderr
    assert "Commands:" in proc.stderr and "run" in proc.stderr


def test_help_metavars_say_what_to_pass() -> None:
    proc = cli("cleanup", "--help")
    assert proc.returncode == 0
    assert "--stack NAME" in proc.stdout and "--dsn DSN" in proc.stdout
    assert "--disposable SCHEMA.TABLE" in proc.stdout and "--backup-dir DIR" in proc.stdout
    assert "<bool>" not in proc.stdout and "<str>" not in proc.stdout and "list[str]" not in proc.stdout


@pytest.mark.parametrize("command", ["plan", "run", "validate", "status", "cleanup", "restore", "refs"])
def test_unreachable_server_is_one_line_exit_5(command: str) -> None:
    one_line_error(cli(command, "--dsn", "postgresql://nobody@127.0.0.1:1/x"), errors.DATABASE, "cannot connect")


@pytest.mark.parametrize("command", ["plan", "run", "validate", "status"])
def test_missing_database_is_one_line_exit_5(command: str, pg_cluster: Cluster) -> None:
    dsn = pg_cluster.dsn("no_such_database_here")
    one_line_error(cli(command, "--dsn", dsn), errors.DATABASE, "no_such_database_here")


@pytest.mark.parametrize("command", ["plan", "run", "cleanup"])
def test_stack_without_pulumi_on_path_is_one_line_exit_9(command: str) -> None:
    one_line_error(cli(command, "--stack", "dev"), errors.SETUP, "pulumi")


@pytest.mark.parametrize(
    "name, words",
    [
        ("nodot", ["not schema.table"]),
        ("clean.no_such_table", ["does not exist"]),
        ("core_betting.games", ["not in a legacy schema"]),
        ("splits.games", ["is mapped"]),
    ],
)
def test_disposable_names_are_checked(db: str, name: str, words: list[str]) -> None:
    one_line_error(cli("cleanup", "--dsn", db, "--dry-run", "--disposable", name), errors.USAGE, name, *words)


def test_restore_without_a_dump_is_one_line(db: str, tmp_path: Path) -> None:
    one_line_error(cli("restore", "--dsn", db, "--dump", str(tmp_path / "none.dump")), errors.RESTORE, "does not exist")
    one_line_error(cli("restore", "--dsn", db, "--backup-dir", str(tmp_path)), errors.RESTORE)


def test_role_without_privileges_is_one_line_exit_8(db: str, pg_cluster: Cluster) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS hostile_reader")
        conn.execute("CREATE ROLE hostile_reader LOGIN PASSWORD 'pw'")
    try:
        dsn = f"postgresql://hostile_reader:pw@{pg_cluster.host}:{pg_cluster.port}/hostile_cli"
        for command in ("plan", "run", "validate"):
            one_line_error(cli(command, "--dsn", dsn), errors.PRIVILEGE, "permission denied")
    finally:
        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute("DROP OWNED BY hostile_reader")
            conn.execute("DROP ROLE hostile_reader")


def test_schema_drift_stops_plan_run_and_validate_before_copying(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("ALTER TABLE mlb_betting.moneyline DROP COLUMN home_ml")
        conn.execute("ALTER TABLE splits.games ADD COLUMN surprise integer")
    try:
        for command in ("plan", "run", "validate"):
            one_line_error(
                cli(command, "--dsn", db),
                errors.DRIFT,
                "mlb_betting.moneyline.home_ml: expected integer, found absent",
                "splits.games.surprise",
            )
        with psycopg.connect(db) as conn:
            assert conn.execute("SELECT to_regclass('core_betting.games')").fetchone() == (None,)
    finally:
        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute("ALTER TABLE mlb_betting.moneyline ADD COLUMN home_ml integer")
            conn.execute("ALTER TABLE splits.games DROP COLUMN surprise")


@pytest.mark.parametrize("command", [["run"], ["validate"], ["cleanup", "--dry-run"], ["restore"]])
def test_a_second_command_refuses_naming_the_first(db: str, command: list[str]) -> None:
    from data_copy.state import run_lock

    with psycopg.connect(db, autocommit=True) as holder:
        holder.execute("SELECT set_config('application_name', 'data_copy run pid=4242 host=elsewhere', false)")
        holder.execute("SELECT pg_advisory_lock(%s)", (run_lock.LOCK_KEY,))
        one_line_error(
            cli(*command, "--dsn", db), errors.BUSY, "data_copy run (pid 4242 on host elsewhere, started at", "--wait"
        )


def test_every_command_ends_with_one_summary_line_and_status_shows_run_and_validate_apart(db: str) -> None:
    """Last in this file: it copies (the drift test above needs the new tables absent)."""
    import re

    plan = cli("plan", "--dsn", db)
    assert plan.returncode == 0 and re.search(r"^plan: 14 mappings, [\d,]+ legacy rows", plan.stdout.splitlines()[-1])
    for command in ("run", "validate"):
        proc = cli(command, "--dsn", db)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert re.fullmatch(
            r"14/14 mappings validated, [\d,]+ rows, 0 rejected(, [\d,]+ copied)?, [\d.]+ s",
            proc.stdout.splitlines()[-1],
        )
        assert "Traceback" not in proc.stdout + proc.stderr
    status = cli("status", "--dsn", db)
    lines = status.stdout.splitlines()
    run_line = next(line for line in lines if line.startswith("last run: "))
    validate_line = next(line for line in lines if line.startswith("last validate: "))
    assert "14/14 mappings passed" in run_line and "14/14 mappings passed" in validate_line
    assert run_line.split()[2] != validate_line.split()[2]  # two different runs
    assert lines[-1] == "status: phase 1, 14/14 mappings passing at their latest validation"
