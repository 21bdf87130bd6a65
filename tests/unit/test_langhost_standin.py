"""The language host stand-in's pure logic, against what the real host does (langhost_standin/README.md):
the exec shim's command line and environment, Pulumi.yaml's options, plugin versions, flags."""

import json
from pathlib import Path

import pytest
from pulumi.runtime.proto import language_pb2

from langhost_standin.__main__ import UsageError, parse
from langhost_standin.host import exec_arguments, exec_environment
from langhost_standin.packages import package_of, plugin_version_of
from langhost_standin.python_env import HostError, from_program_info, semver_of_python


def _request(**fields: object) -> language_pb2.RunRequest:
    info = language_pb2.ProgramInfo(root_directory="/p", program_directory="/p", entry_point=".")
    return language_pb2.RunRequest(info=info, **fields)  # type: ignore[arg-type]


def test_exec_arguments_are_the_real_hosts_flag_for_flag() -> None:
    request = _request(
        monitor_address="127.0.0.1:5",
        project="consolidation",
        stack="dev",
        pwd="/p",
        dryRun=True,
        parallel=16,
        organization="organization",
        args=["x"],
    )
    assert exec_arguments(request, "127.0.0.1:4", "") == [
        "--monitor", "127.0.0.1:5", "--engine", "127.0.0.1:4", "--project", "consolidation",
        "--root_directory", "/p", "--stack", "dev", "--pwd", "/p", "--dry_run", "true",
        "--parallel", "16", "--organization", "organization", ".", "x",
    ]  # fmt: skip


def test_a_real_run_says_dry_run_false_and_leaves_out_empty_flags() -> None:
    args = exec_arguments(_request(stack="dev", dryRun=False), "127.0.0.1:4", "http://trace")
    assert args == [
        "--engine", "127.0.0.1:4", "--root_directory", "/p", "--stack", "dev",
        "--dry_run", "false", "--parallel", "0", "--tracing", "http://trace", ".",
    ]  # fmt: skip


def test_config_and_secret_keys_go_to_the_program_as_json() -> None:
    config = {"postgresql:password": "pw", "consolidation:phase": "2"}
    env = exec_environment(_request(config=config, configSecretKeys=["postgresql:password"]))
    assert json.loads(env["PULUMI_CONFIG"]) == {"consolidation:phase": "2", "postgresql:password": "pw"}
    assert json.loads(env["PULUMI_CONFIG_SECRET_KEYS"]) == ["postgresql:password"]
    assert exec_environment(_request()) == {"PULUMI_CONFIG_SECRET_KEYS": "[]"}, "no config: no PULUMI_CONFIG"


def test_the_virtualenv_resolves_against_the_project_root(tmp_path: Path) -> None:
    env = from_program_info(str(tmp_path), str(tmp_path / "src"), {"toolchain": "pip", "virtualenv": ".venv"})
    assert env.virtualenv == tmp_path / ".venv"
    assert from_program_info(str(tmp_path), str(tmp_path), {}).virtualenv is None
    absolute = from_program_info(str(tmp_path), str(tmp_path), {"virtualenv": "/opt/venv"})
    assert absolute.virtualenv == Path("/opt/venv")


def test_a_missing_virtualenv_is_one_line_saying_how_to_make_it(tmp_path: Path) -> None:
    env = from_program_info(str(tmp_path), str(tmp_path), {"toolchain": "pip", "virtualenv": "venv"})
    with pytest.raises(HostError) as info:
        env.validate()
    assert "doesn't exist" in str(info.value) and "python3 -m venv" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("options", "lock", "needle"),
    [
        ({"toolchain": "poetry"}, None, "toolchain 'poetry'"),
        ({"toolchain": "uv", "virtualenv": ".venv"}, None, "toolchain 'uv'"),
        ({"toolchain": "pip", "typechecker": "mypy"}, None, "typechecker 'mypy'"),
        ({}, "uv.lock", "uv.lock"),
        ({}, "poetry.lock", "poetry.lock"),
    ],
)
def test_anything_but_pip_is_refused_in_one_line(tmp_path: Path, options: dict, lock: str | None, needle: str) -> None:
    if lock:
        (tmp_path / lock).write_text("")
    with pytest.raises(HostError) as info:
        from_program_info(str(tmp_path), str(tmp_path), options)
    message = str(info.value)
    assert needle in message and "stand-in" in message and "pulumi-language-python on PATH" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("package", "plugin"),
    [
        ("3.18.2", "3.18.2"),
        ("1.0", "1.0.0"),
        ("2", "2.0.0"),
        ("1.2.3a4", "1.2.3-alpha.4"),
        ("1.2.3b4", "1.2.3-beta.4"),
        ("1.2.3rc4", "1.2.3-rc.4"),
        ("1.2.3.post4", "1.2.3+post4"),
        ("1.2.3.dev5", "1.2.3+dev5"),
        ("1.2.3.post4.dev5", "1.2.3+post4dev5"),
        ("1!2.0", None),
        ("1.2.3+local", None),
    ],
)
def test_plugin_versions_from_package_versions(package: str, plugin: str | None) -> None:
    assert plugin_version_of(package) == plugin


def test_a_package_is_its_pulumi_plugin_json_or_its_name() -> None:
    described = package_of("pulumi-postgresql", "3.18.2", {"resource": True, "name": "postgresql", "version": "3.18.2"})
    assert described is not None and (described.name, described.version) == ("postgresql", "v3.18.2")
    named = package_of("pulumi-random", "4.1", None)
    assert named is not None and (named.name, named.version) == ("random", "v4.1.0")
    assert package_of("pulumi-policy-like", "1.0", {"resource": False}) is None


def test_go_style_flags_and_the_engine_address_last() -> None:
    args = parse(["-use-executor", "/x/exec", "--tracing=http://t", "--logtostderr", "-v=9", "127.0.0.1:4"])
    assert args.flags == {"use-executor": "/x/exec", "tracing": "http://t", "logtostderr": "true", "v": "9"}
    assert args.positional == ["127.0.0.1:4"]
    with pytest.raises(UsageError):
        parse(["-root", "/p", "127.0.0.1:4"])


def test_python_versions_as_the_real_about_reports_them() -> None:
    assert semver_of_python("Python 3.11.7\n") == "3.11.7"
    assert semver_of_python("Python 3.13.0rc1") == "3.13.0-rc.1"
    assert semver_of_python("Python 3.12") == "3.12.0"
