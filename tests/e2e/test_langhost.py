"""The Python language host bootstrap.sh picked (the stand-in, langhost_standin/, unless a real one
was found), on its own and through the engine; and bootstrap.sh's choice: a real plugin wins.

On its own: it prints its gRPC port first, says it is the stand-in on stderr, answers
GetRequiredPackages from the project's virtualenv (the postgresql plugin at its pinned version),
refuses a toolchain it does not run in one line, and ends quietly on SIGINT (how the engine
stops it). Through the engine: `pulumi about` shows it is the stand-in, and a project naming
another toolchain gets the one-line refusal. bootstrap.sh, in a copy of the project: a real
pulumi-language-python / pulumi-resource-postgresql of the pinned version on PATH or in the
Pulumi plugin cache is linked and reported `real`; without one, the stand-in's launcher.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cli_support import REPO_ROOT, owner_env, project_copy
from google.protobuf import struct_pb2
from pulumi.runtime.proto import language_pb2, language_pb2_grpc

pytestmark = pytest.mark.e2e

_PIN_LINES = (REPO_ROOT / "toolchain" / "versions.env").read_text().splitlines()
PINS = dict(line.split("=", 1) for line in _PIN_LINES if "=" in line and not line.startswith("#"))


def _info(root: Path, **options: str) -> language_pb2.ProgramInfo:
    struct = struct_pb2.Struct()
    struct.update(options)
    where = str(root)
    return language_pb2.ProgramInfo(root_directory=where, program_directory=where, entry_point=".", options=struct)


@pytest.fixture
def host(toolchain) -> Iterator[tuple[subprocess.Popen[str], language_pb2_grpc.LanguageRuntimeStub]]:
    """The language host bootstrap.sh installed, started as the engine starts it."""
    exe = toolchain.bin_dir / "pulumi-language-python"
    proc = subprocess.Popen([str(exe), "127.0.0.1:1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = proc.stdout.readline().strip() if proc.stdout else ""
        assert port.isdigit(), "a plugin prints its gRPC port first"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield proc, language_pb2_grpc.LanguageRuntimeStub(channel)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def test_the_host_reports_its_version_and_kind(toolchain) -> None:
    exe = toolchain.bin_dir / "pulumi-language-python"
    version = subprocess.run([str(exe), "-version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.strip().removeprefix("v") == PINS["PULUMI_VERSION"]
    kind = toolchain.kinds.get("pulumi-language-python", "")
    assert kind == "real" or kind.startswith("stand-in (langhost_standin/"), toolchain.lines


def test_the_stand_in_answers_the_engines_rpcs_and_ends_quietly_on_sigint(toolchain, host) -> None:
    proc, stub = host
    packages = stub.GetRequiredPackages(
        language_pb2.GetRequiredPackagesRequest(info=_info(REPO_ROOT, toolchain="pip", virtualenv=".venv")), timeout=120
    )
    found = {(p.name, p.version, p.kind) for p in packages.packages}
    assert ("postgresql", "v" + PINS["PULUMI_POSTGRESQL_VERSION"], "resource") in found, found
    if toolchain.kinds.get("pulumi-language-python") == "real":
        return  # what follows is the stand-in's own: its refusal and its notice
    about = stub.About(language_pb2.AboutRequest(info=_info(REPO_ROOT, toolchain="pip", virtualenv=".venv")))
    assert about.metadata["languageHost"].startswith("stand-in") and about.executable.endswith("python")
    with pytest.raises(grpc.RpcError) as refused:
        stub.GetRequiredPackages(language_pb2.GetRequiredPackagesRequest(info=_info(REPO_ROOT, toolchain="poetry")))
    assert "supports only the pip toolchain" in refused.value.details()  # type: ignore[attr-defined]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert "STAND-IN" in err and "not the real Pulumi Python language host" in err


def _engine(project: Path, tmp: Path, toolchain, *args: str) -> subprocess.CompletedProcess[str]:
    env = owner_env(tmp)
    env |= {"PATH": f"{toolchain.bin_dir}:{REPO_ROOT / '.venv' / 'bin'}:{env['PATH']}"}
    env |= {"PULUMI_BACKEND_URL": f"file://{tmp}", "PULUMI_CONFIG_PASSPHRASE": "test"}
    return subprocess.run(["pulumi", *args], cwd=project, env=env, capture_output=True, text=True, timeout=300)


def test_through_the_engine_about_says_stand_in_and_another_toolchain_is_refused(toolchain, tmp_path: Path) -> None:
    project = project_copy(tmp_path / "project")
    assert _engine(project, tmp_path, toolchain, "stack", "init", "lh").returncode == 0
    about = _engine(project, tmp_path, toolchain, "about")
    assert "This project is written in python" in about.stdout, about.stdout + about.stderr
    if toolchain.kinds.get("pulumi-language-python") == "real":
        return
    assert "languageHost='stand-in (langhost_standin/, test tooling)'" in about.stdout
    settings = project / "Pulumi.yaml"
    settings.write_text(settings.read_text().replace("toolchain: pip", "toolchain: poetry"))
    preview = _engine(project, tmp_path, toolchain, "preview")
    said = preview.stdout + preview.stderr
    assert preview.returncode != 0 and "Traceback" not in said
    assert "supports only the pip toolchain, and Pulumi.yaml names toolchain 'poetry'" in said, said


FAKE = '#!/bin/sh\n# a real {name} (for this test)\n[ "$1" = -version ] && echo v{version}\nexit 0\n'


def _bootstrap(project: Path, env: dict[str, str]) -> dict[str, str]:
    proc = subprocess.run(["bash", "toolchain/bootstrap.sh"], cwd=project, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {Path(line.split()[0]).name: line for line in proc.stdout.splitlines()}


def _fake(directory: Path, name: str, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    exe = directory / name
    exe.write_text(FAKE.format(name=name, version=version))
    exe.chmod(0o755)
    return exe


def test_bootstrap_takes_a_real_plugin_from_path_or_the_plugin_cache(tmp_path: Path) -> None:
    project = project_copy(tmp_path / "project")
    env = owner_env(tmp_path)
    home = Path(env["PULUMI_HOME"])
    lines = _bootstrap(project, env)
    assert "stand-in (langhost_standin/" in lines["pulumi-language-python"]
    assert "stand-in (provider_standin/" in lines["pulumi-resource-postgresql"]

    on_path = _fake(tmp_path / "bin", "pulumi-language-python", PINS["PULUMI_VERSION"])
    cached = _fake(
        home / "plugins" / f"resource-postgresql-v{PINS['PULUMI_POSTGRESQL_VERSION']}",
        "pulumi-resource-postgresql",
        PINS["PULUMI_POSTGRESQL_VERSION"],
    )
    lines = _bootstrap(project, env | {"PATH": f"{on_path.parent}:{env['PATH']}"})
    assert lines["pulumi-language-python"].endswith(" real"), lines
    assert lines["pulumi-resource-postgresql"].endswith(" real"), lines
    local = project / ".state" / "toolchain" / "bin"
    assert (local / "pulumi-language-python").resolve() == on_path
    assert (local / "pulumi-resource-postgresql").resolve() == cached

    wrong = _fake(tmp_path / "old", "pulumi-language-python", "3.1.0")  # another version is not taken
    lines = _bootstrap(project, env | {"PATH": f"{wrong.parent}:{env['PATH']}"})
    assert "stand-in (langhost_standin/" in lines["pulumi-language-python"]
