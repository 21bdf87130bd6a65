"""`--stack NAME`: data_copy reads the connection (provider config, password secret) and the
phase from a real Pulumi stack (real CLI, file backend). The program here exports what the
project's stack exports, without the postgresql provider, which cannot be built here.
data_copy's settings are what the stack's own parser (stack_settings) makes of the config;
only the phase is taken from the outputs (what is deployed)."""

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pulumi
import pytest
from pulumi import automation as auto

from data_copy import api
from data_copy.core.stack_source import from_stack
from data_copy.errors import BadStackConfig, StackNotFound
from data_copy.settings import from_stack_settings
from stack_settings import DEFAULT_SSLMODE, parse_settings

ROOT = Path(__file__).resolve().parents[3]


DISPOSABLE = "backtesting.alert_history"


def _config(dsn: str, password: str | None = None) -> dict[str, auto.ConfigValue]:
    url = urlsplit(dsn)
    return {
        "postgresql:host": auto.ConfigValue(url.hostname or ""),
        "postgresql:port": auto.ConfigValue(str(url.port)),
        "postgresql:username": auto.ConfigValue(url.username or ""),
        "postgresql:password": auto.ConfigValue(url.password if password is None else password, secret=True),
        "postgresql:database": auto.ConfigValue(url.path.lstrip("/")),
        "postgresql:sslmode": auto.ConfigValue("disable"),
        "consolidation:lockTimeout": auto.ConfigValue("1500ms"),
        "consolidation:disposableTables": auto.ConfigValue(f'["{DISPOSABLE}"]'),
    }


def _deploy(
    name: str,
    phase: int,
    work_dir: Path,
    env: dict[str, str],
    command: auto.PulumiCommand,
    dsn: str,
    config: dict[str, auto.ConfigValue] | None = None,
) -> auto.Stack:
    def program() -> None:
        pulumi.export("phase", phase)
        pulumi.export("dataCopy", {"disposableTables": [DISPOSABLE]})

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
    stack.set_all_config(_config(dsn) if config is None else config)
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
    assert settings.disposable_tables == (DISPOSABLE,)
    with psycopg.connect(dsn) as conn:  # the secret password was decrypted
        assert conn.execute("SELECT current_database()").fetchone() == (urlsplit(fresh_dsn).path.lstrip("/"),)
    info = api.status(dsn, settings)
    assert info.deployed == 2  # what the stack says
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


def test_settings_are_the_parsers_with_the_deployed_phase(
    fresh_dsn: str,
    pulumi_process_env: dict[str, str],
    pulumi_command: auto.PulumiCommand,
    tmp_path: Path,
) -> None:
    """No sslmode in the config: data_copy's DSN says `require`, the stack's default (it once
    fell back to `prefer`); the config says phase 3, the outputs 2: the deployed one wins; a
    password with spaces, quotes and @ reaches the server intact (make_conninfo quotes it)."""
    password = "s p@c'e\"s:/#"
    url = urlsplit(fresh_dsn)
    role = "stack_" + url.path.lstrip("/")[-8:]
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                psycopg.sql.Identifier(role), psycopg.sql.Literal(password)
            )
        )
    config = _config(fresh_dsn, password)
    config["postgresql:username"] = auto.ConfigValue(role)
    del config["postgresql:sslmode"]
    config["consolidation:phase"] = auto.ConfigValue("3")
    config["consolidation:statementTimeout"] = auto.ConfigValue("45 min")
    _deploy("prod", 2, tmp_path, pulumi_process_env, pulumi_command, fresh_dsn, config)

    dsn, settings = from_stack("prod", work_dir=tmp_path)

    parsed = parse_settings({k: v.value for k, v in config.items()})
    assert parsed.connection.sslmode == DEFAULT_SSLMODE == "require"
    assert settings == from_stack_settings(parsed, deployed_phase=2, stack="prod", project_dir=tmp_path)
    assert (settings.phase, settings.statement_timeout, settings.lock_timeout) == (2, "45min", "1500ms")
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    assert params["sslmode"] == "require" and params["password"] == password and params["user"] == role
    # the test server has no SSL: the same DSN with sslmode=disable logs in with that password
    with psycopg.connect(psycopg.conninfo.make_conninfo(dsn, sslmode="disable")) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (role,)
    with pytest.raises(psycopg.OperationalError, match="SSL"):
        psycopg.connect(dsn, connect_timeout=5).close()
    assert settings.backup_dir == str(tmp_path / parsed.data_copy.backup_dir)
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("DROP ROLE {}").format(psycopg.sql.Identifier(role)))


def test_a_bad_stack_config_is_the_parsers_one_line(
    fresh_dsn: str,
    pulumi_process_env: dict[str, str],
    pulumi_command: auto.PulumiCommand,
    tmp_path: Path,
) -> None:
    config = _config(fresh_dsn)
    config["postgresql:sslmode"] = auto.ConfigValue("prefer")  # refused: it falls back to no TLS silently
    config["consolidation:lockTimeout"] = auto.ConfigValue("soon")
    _deploy("qa", 1, tmp_path, pulumi_process_env, pulumi_command, fresh_dsn, config)
    with pytest.raises(BadStackConfig) as bad:
        from_stack("qa", work_dir=tmp_path)
    line = bad.value.line()
    assert "\n" not in line and "stack 'qa'" in line
    assert "postgresql:sslmode: 'prefer' is refused" in line and "consolidation:lockTimeout: 'soon'" in line
