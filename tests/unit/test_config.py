"""Stack config validation (stack_settings/config.py, components/stack.load_settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.stack import current_config, load_settings
from stack_settings import ConfigError, parse_settings
from stack_settings.naming import MAX_PREFIX_LENGTH, RoleNames

BASE: dict[str, Any] = {
    "postgresql:host": "127.0.0.1",
    "postgresql:port": "55432",
    "postgresql:username": "postgres",
    "postgresql:password": "secret",
    "postgresql:database": "mlb_betting",
    "postgresql:sslmode": "disable",
    "consolidation:phase": "1",
    "consolidation:rolePrefix": "",
}


def parse(**overrides: Any) -> Any:
    config = dict(BASE)
    for key, value in overrides.items():
        full = key.replace("__", ":")
        if value is None:
            config.pop(full, None)
        else:
            config[full] = value
    return parse_settings(config)


def problem(**overrides: Any) -> str:
    with pytest.raises(ConfigError) as info:
        parse(**overrides)
    message = str(info.value)
    assert "\n" not in message, "one line"
    return message


def test_defaults() -> None:
    s = parse(consolidation__phase=None, consolidation__rolePrefix=None)
    assert s.phase == 1
    assert s.role_prefix == ""
    assert s.connection.host == "127.0.0.1"
    assert s.connection.port == 55432
    assert s.connection.sslmode == "disable"
    assert s.data_copy.as_output() == {
        "lockTimeout": "2s",
        "statementTimeout": "30min",
        "legacyTimezone": "UTC",
        "backupDir": ".state/backups",
        "disposableTables": [],
        "conflictPolicy": "keep-new",
        "pace": "off",
        "replicaIdentityFull": [],
        "carryBack": [],
        "legacyTables": [],
    }
    assert "password" not in s.connection.as_output()


def test_replica_identity_full_names_mapped_legacy_tables_only() -> None:
    """The owners' opt-in (data_copy/capture/replica_identity.py): a list of mapped legacy tables."""
    parsed = parse(consolidation__replicaIdentityFull='["splits.raw_mlb_betting_splits"]')
    assert parsed.data_copy.replica_identity_full == ("splits.raw_mlb_betting_splits",)
    refused = "consolidation:replicaIdentityFull: .* is not a list of mapped legacy tables"
    with pytest.raises(ConfigError, match=refused):
        parse(consolidation__replicaIdentityFull='["public.app_settings"]')
    with pytest.raises(ConfigError, match="consolidation:replicaIdentityFull"):
        parse(consolidation__replicaIdentityFull="splits.raw_mlb_betting_splits")


def test_carry_back_names_mappings_that_invert_or_all() -> None:
    """Phase 2 both ways (data_copy/sync/both_ways.py): mappings that invert exactly."""
    assert parse(consolidation__carryBack='["moneyline"]').data_copy.carry_back == ("moneyline",)
    every = parse(consolidation__carryBack='["all"]').data_copy.carry_back
    assert "games" not in every and "moneyline" in every and len(every) == 13
    with pytest.raises(ConfigError, match="consolidation:carryBack: 'games' cannot go back into legacy: a merge"):
        parse(consolidation__carryBack='["games"]')
    with pytest.raises(ConfigError, match="consolidation:carryBack: 'nope' is not a mapping"):
        parse(consolidation__carryBack='["nope"]')


def test_legacy_tables_must_be_synced_both_ways() -> None:
    both = parse(consolidation__carryBack='["moneyline"]', consolidation__legacyTables='["moneyline"]')
    assert both.data_copy.legacy_tables == ("moneyline",)
    with pytest.raises(ConfigError, match="consolidation:legacyTables: spreads would go back to legacy while synced"):
        parse(consolidation__carryBack='["moneyline"]', consolidation__legacyTables='["spreads"]')


def test_pace_is_off_or_a_duration() -> None:
    assert parse(consolidation__pace="250ms").data_copy.pace == "250ms"
    assert parse(consolidation__pace="off").data_copy.pace == "off"
    with pytest.raises(ConfigError, match="consolidation:pace: 'fast' is not off or a duration"):
        parse(consolidation__pace="fast")


def test_all_keys_set() -> None:
    s = parse(
        consolidation__phase="3",
        consolidation__rolePrefix="stage_",
        consolidation__lockTimeout="500ms",
        consolidation__statementTimeout="2h",
        consolidation__legacyTimezone="America/New_York",
        consolidation__backupDir="/var/backups/mlb",
        consolidation__disposableTables='["public.tmp_scratch", "splits.old_import"]',
    )
    assert (s.phase, s.role_prefix) == (3, "stage_")
    assert s.role_names.owner == "stage_consolidation_owner"
    assert s.data_copy.lock_timeout == "500ms"
    assert s.data_copy.statement_timeout == "2h"
    assert s.data_copy.legacy_timezone == "America/New_York"
    assert s.data_copy.backup_dir == "/var/backups/mlb"
    assert s.data_copy.disposable_tables == ("public.tmp_scratch", "splits.old_import")


@pytest.mark.parametrize("phase", ["0", "4", "-1", "two", "1.5"])
def test_bad_phase(phase: str) -> None:
    message = problem(consolidation__phase=phase)
    assert "consolidation:phase" in message and "use 1, 2 or 3" in message


@pytest.mark.parametrize("phase", ["1", "2", "3", 2])
def test_good_phase(phase: Any) -> None:
    assert parse(consolidation__phase=phase).phase == int(phase)


def test_unknown_key() -> None:
    message = problem(consolidation__phsae="2")
    assert "consolidation:phsae: unknown key" in message
    assert "pulumi config rm consolidation:phsae" in message


def test_unused_provider_key() -> None:
    message = problem(postgresql__superuser="false")
    assert "postgresql:superuser" in message


def test_other_namespaces_are_left_alone() -> None:
    assert parse(**{"aws:region": "us-east-1"}).phase == 1


@pytest.mark.parametrize(
    "prefix",
    ["Stage_", "1stage", "stage-", "stage ", "x" * (MAX_PREFIX_LENGTH + 1), "pg_", "st;age", "é_"],
)
def test_bad_prefix(prefix: str) -> None:
    assert "consolidation:rolePrefix" in problem(consolidation__rolePrefix=prefix)


@pytest.mark.parametrize("prefix", ["", "s", "stage_", "_x1_", "x" * MAX_PREFIX_LENGTH, "pg"])
def test_good_prefix(prefix: str) -> None:
    s = parse(consolidation__rolePrefix=prefix)
    assert all(len(n) <= 63 for n in s.role_names.all().values())


def test_role_names_refuse_bad_prefix_directly() -> None:
    with pytest.raises(ValueError):
        RoleNames("Bad")


@pytest.mark.parametrize("value", ["0s", "2", "two seconds", "2 sec", "-1s", "1.5s", ""])
def test_bad_durations(value: str) -> None:
    assert "consolidation:lockTimeout" in problem(consolidation__lockTimeout=value)
    assert "consolidation:statementTimeout" in problem(consolidation__statementTimeout=value)


def test_bad_timezone() -> None:
    assert "consolidation:legacyTimezone" in problem(consolidation__legacyTimezone="Mars/Olympus")


def test_bad_backup_dir() -> None:
    assert "consolidation:backupDir" in problem(consolidation__backupDir="  ")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("public.scratch", "not a list"),
        ('["scratch"]', 'not "schema.table"'),
        ('["Public.Scratch"]', 'not "schema.table"'),
        ('["raw_data.sbr_raw_html"]', "not in a legacy schema"),
        ('["splits.raw_mlb_betting_splits"]', "migrated by a mapping"),
        ('["public.a", "public.a"]', "listed twice"),
        ("[1, 2]", "not a list of strings"),
    ],
)
def test_bad_disposable_tables(value: str, words: str) -> None:
    message = problem(consolidation__disposableTables=value)
    assert "consolidation:disposableTables" in message and words in message


@pytest.mark.parametrize("missing", ["postgresql__host", "postgresql__database"])
def test_missing_connection(missing: str) -> None:
    message = problem(**{missing: None})
    assert missing.replace("__", ":") in message and "pulumi config set" in message


def test_connection_defaults() -> None:
    s = parse(postgresql__port=None, postgresql__username=None, postgresql__sslmode=None)
    assert (s.connection.port, s.connection.username, s.connection.sslmode) == (
        5432,
        "postgres",
        "require",
    )


@pytest.mark.parametrize(("key", "value"), [("port", "0"), ("port", "http"), ("sslmode", "prefer")])
def test_bad_connection(key: str, value: str) -> None:
    assert f"postgresql:{key}" in problem(**{f"postgresql__{key}": value})


@pytest.mark.parametrize("mode", ["prefer", "allow"])
def test_sslmode_prefer_and_allow_are_refused_for_falling_back_to_no_tls(mode: str) -> None:
    """The provider's driver accepts them (lib/pq v1.12.3 connector.go:49-72, pinned by
    terraform-provider-postgresql ff936b9's go.mod), so the reason is ours, and it is the
    message: prefer goes on without TLS when TLS fails (lib/pq conn.go:279-283), allow
    starts without it (ssl.go:82); the stack's password and data would then cross the
    network in clear, and no one would be told."""
    message = problem(postgresql__sslmode=mode)
    assert f"postgresql:sslmode: {mode!r} is refused on purpose" in message
    assert "without TLS" in message and "disable" in message and "require" in message
    assert "no prefer" not in message and "is not one of" not in message


@pytest.mark.parametrize("mode", ["disable", "require", "verify-ca", "verify-full"])
def test_sslmode_accepted(mode: str) -> None:
    assert parse(postgresql__sslmode=mode).connection.sslmode == mode


def test_every_problem_in_one_line() -> None:
    message = problem(consolidation__phase="4", consolidation__rolePrefix="BAD", consolidation__nope="x")
    assert message.startswith("invalid stack config: ")
    for key in ("consolidation:phase", "consolidation:rolePrefix", "consolidation:nope"):
        assert key in message


def test_load_settings_raises_one_line_run_error() -> None:
    with pytest.raises(pulumi.RunError) as info:
        load_settings({**BASE, "consolidation:phase": "4"})
    assert str(info.value).count("\n") == 0
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_current_config_sees_every_key() -> None:
    pulumi.runtime.set_all_config({**BASE, "consolidation:extra": "1"})
    try:
        assert current_config()["consolidation:extra"] == "1"
        with pytest.raises(pulumi.RunError, match="consolidation:extra: unknown key"):
            load_settings()
    finally:
        pulumi.runtime.set_all_config({})


def test_data_copy_defaults_are_the_parsers() -> None:
    """`Settings()` (--dsn) and a stack that sets none of the keys agree, key by key."""
    from data_copy.settings import Settings, from_stack_settings

    parsed = parse_settings({"postgresql:host": "h", "postgresql:database": "d"})
    from_stack = from_stack_settings(parsed, deployed_phase=1, stack="s", project_dir=Path("/p"))
    plain = Settings()
    for name in ("phase", "role_prefix", "lock_timeout", "statement_timeout", "legacy_timezone", "conflict_policy"):
        assert getattr(plain, name) == getattr(from_stack, name), name
    assert plain.disposable_tables == from_stack.disposable_tables == ()
    assert from_stack.backup_dir == str(Path("/p") / plain.backup_dir)
    assert parsed.connection.sslmode == "require"
    assert plain.owner_role == parsed.role_names.owner


def test_the_settings_package_is_pure() -> None:
    """stack_settings (and data_copy's settings, built by it) import neither Pulumi nor components/."""
    import subprocess
    import sys

    code = (
        "import sys, stack_settings, data_copy.settings, data_copy.core.stack_source; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_postgresql', 'components')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert proc.returncode == 0, proc.stdout + proc.stderr
