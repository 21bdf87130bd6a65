"""`--stack NAME`: data_copy reads the connection (provider config, password secret) and the
phase from a real Pulumi stack (real CLI, file backend). The program here exports what the
project's stack exports, without the postgresql provider, which cannot be built here."""

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pulumi
import pytest
from pulumi import automation as auto

from data_copy import api
from data_copy.errors import StackNotFound
from data_copy.stack import from_stack

ROOT = Path(__file__).resolve().parents[2]


def _deploy(
    name: str, phase: int, work_dir: Path, env: dict[str, str], command: auto.PulumiCommand, dsn: str
) -> auto.Stack:
    def program() -> None:
        pulumi.export("phase", phase)
        pulumi.export("dataCopy", {"disposableTables": ["backtesting.alert_history"]})

    stack = auto.create_or_select_stack(
        stack_name=name,
        project_name="consolidation",
        program=program,
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(work_dir),
            env_vars=env,
            pulumi_command=command,
            project_settings=auto.ProjectSettings(name="consolidation", runtime="python"),
        ),
    )
    url = urlsplit(dsn)
    stack.set_all_config(
        {
            "postgresql:host": auto.ConfigValue(url.hostname or ""),
            "postgresql:port": auto.ConfigValue(str(url.port)),
            "postgresql:username": auto.ConfigValue(url.username or ""),
            "postgresql:password": auto.ConfigValue(url.password or "", secret=True),
            "postgresql:database": auto.ConfigValue(url.path.lstrip("/")),
            "postgresql:sslmode": auto.ConfigValue("disable"),
            "consolidation:lockTimeout": auto.ConfigValue("1500ms"),
        }
    )
    stack.up()
    return stack


@pytest.fixture
def pulumi_process_env(pulumi_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """from_stack runs the CLI with this process's environment: give it the test backend."""
    for key, value in pulumi_env.items():
        monkeypatch.setenv(key, value)
    return pulumi_env


def test_stack_gives_connection_phase_and_settings(
    fresh_dsn: str,
    pulumi_process_env: dict[str, str],
    pulumi_command: auto.PulumiCommand,
    tmp_path: Path,
) -> None:
    _deploy("dev", 2, tmp_path, pulumi_process_env, pulumi_command, fresh_dsn)
    dsn, settings = from_stack("dev", work_dir=tmp_path)
    assert settings.phase == 2 and settings.lock_timeout == "1500ms"
    assert settings.disposable_tables == ("backtesting.alert_history",)
    with psycopg.connect(dsn) as conn:  # the secret password was decrypted
        assert conn.execute("SELECT current_database()").fetchone() == (urlsplit(fresh_dsn).path.lstrip("/"),)
    info = api.status(dsn, settings)
    assert info["deployed"] == 2  # what the stack says
    assert info.phase == 1 and info.events == []  # what the database records: nothing yet


def test_unknown_stack_is_one_clear_line(pulumi_process_env: dict[str, str]) -> None:
    with pytest.raises(StackNotFound):
        from_stack("no-such-stack", work_dir=ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "data_copy", "status", "--stack", "no-such-stack"],
        cwd=ROOT,
        env=pulumi_process_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "no-such-stack" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_cleanup_refuses_a_stack_not_deployed_at_phase_3(
    fresh_dsn: str,
    pulumi_process_env: dict[str, str],
    pulumi_command: auto.PulumiCommand,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _deploy("staging", 2, tmp_path, pulumi_process_env, pulumi_command, fresh_dsn)
    dsn, settings = from_stack("staging", work_dir=tmp_path)
    assert settings.backup_dir == str(tmp_path / ".state/backups")
    from data_copy import cli

    with pytest.raises(cli.CleanupRefused, match="phase 2, not 3"):
        monkeypatch.setattr(cli, "_target", lambda stack, dsn_, wait=False: (dsn, settings))
        cli.cleanup(stack="staging", dsn=None, dry_run=False)
