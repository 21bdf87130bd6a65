"""The LanguageRuntime service of the stand-in: what the engine calls, answered as the real host does.

The RPCs the engine calls for preview / up / refresh / destroy / about / install are real (see
README.md for each one beside the real host's behaviour); code generation, packing, linking and
plugins written in Python are not this project's and answer UNIMPLEMENTED, saying so.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

from langhost_standin import HOST_VERSION, STANDIN_KIND
from langhost_standin.packages import Package, required_packages
from langhost_standin.python_env import HostError, PythonEnv, from_program_info, semver_of_python

BAIL_EXIT_CODE = 32
"""The exec shim's "an error was shown to the user already" exit status (RunResponse.bail)."""
CANCEL_GRACE_SECONDS = 5.0
"""After SIGINT, how long a cancelled program gets before it is killed (the real host's WaitDelay)."""


def _options(info: language_pb2.ProgramInfo) -> dict[str, Any]:
    return json_format.MessageToDict(info.options) if info.HasField("options") else {}


def python_env(info: language_pb2.ProgramInfo) -> PythonEnv:
    return from_program_info(info.root_directory, info.program_directory, _options(info))


def exec_arguments(request: language_pb2.RunRequest, engine_address: str, tracing: str) -> list[str]:
    """The exec shim's command line, flag for flag as the real host builds it (empty ones left out)."""
    flags = (
        ("monitor", request.monitor_address),
        ("engine", engine_address),
        ("project", request.project),
        ("root_directory", request.info.root_directory),
        ("stack", request.stack),
        ("pwd", request.pwd),
        ("dry_run", "true" if request.dryRun else "false"),
        ("parallel", str(request.parallel)),
        ("tracing", tracing),
        ("organization", request.organization),
    )
    args = [arg for name, value in flags if value for arg in (f"--{name}", value)]
    return [*args, request.info.entry_point or ".", *request.args]


def exec_environment(request: language_pb2.RunRequest) -> dict[str, str]:
    """PULUMI_CONFIG (JSON object, only when there is config) and PULUMI_CONFIG_SECRET_KEYS (JSON list)."""
    env = {"PULUMI_CONFIG_SECRET_KEYS": json.dumps(sorted(request.configSecretKeys), separators=(",", ":"))}
    if request.config:
        env["PULUMI_CONFIG"] = json.dumps(dict(sorted(request.config.items())), separators=(",", ":"))
    return env


def _parameterization(raw: Mapping[str, Any] | None) -> plugin_pb2.PackageParameterization | None:
    if not raw:
        return None
    return plugin_pb2.PackageParameterization(
        name=str(raw.get("name", "")),
        version=str(raw.get("version", "")),
        value=base64.b64decode(str(raw.get("value", ""))),
    )


def package_dependency(package: Package) -> plugin_pb2.PackageDependency:
    return plugin_pb2.PackageDependency(
        name=package.name,
        kind="resource",
        version=package.version,
        server=package.server,
        parameterization=_parameterization(package.parameterization),
        extension=_parameterization(package.extension),
    )


class StandinLanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    """pulumi-language-python's service, for the pip toolchain."""

    def __init__(self, executor: str, engine_address: str, tracing: str = "") -> None:
        self.executor = executor
        self.engine_address = engine_address
        self.tracing = tracing
        self._running: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- plugin and program info

    def GetPluginInfo(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> plugin_pb2.PluginInfo:
        return plugin_pb2.PluginInfo(version=HOST_VERSION)

    def Handshake(
        self, request: language_pb2.LanguageHandshakeRequest, context: grpc.ServicerContext
    ) -> language_pb2.LanguageHandshakeResponse:
        self.engine_address = request.engine_address or self.engine_address
        return language_pb2.LanguageHandshakeResponse()

    def About(self, request: language_pb2.AboutRequest, context: grpc.ServicerContext) -> language_pb2.AboutResponse:
        env = _checked(context, lambda: python_env(request.info)) if request.HasField("info") else _ambient()
        executable = _checked(context, lambda: env.run("-c", "import sys; print(sys.executable)").strip())
        version = _quietly(lambda: semver_of_python(env.run("--version")))
        pip = _quietly(lambda: env.run("-m", "pip", "--version").split()[1])
        return language_pb2.AboutResponse(
            executable=executable,
            version=version,
            metadata={
                "toolchain": env.toolchain_name,
                "toolchainVersion": pip,
                "typechecker": "None",
                "languageHost": STANDIN_KIND,
            },
        )

    def GetRequiredPackages(
        self, request: language_pb2.GetRequiredPackagesRequest, context: grpc.ServicerContext
    ) -> language_pb2.GetRequiredPackagesResponse:
        env = _checked(context, lambda: python_env(request.info))
        _checked(context, env.validate)
        packages = _checked(context, lambda: required_packages(env))
        return language_pb2.GetRequiredPackagesResponse(packages=[package_dependency(p) for p in packages])

    def GetRequiredPlugins(
        self, request: language_pb2.GetRequiredPluginsRequest, context: grpc.ServicerContext
    ) -> language_pb2.GetRequiredPluginsResponse:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "method GetRequiredPlugins not implemented")
        raise AssertionError("unreachable")

    def GetProgramDependencies(
        self, request: language_pb2.GetProgramDependenciesRequest, context: grpc.ServicerContext
    ) -> language_pb2.GetProgramDependenciesResponse:
        env = _checked(context, lambda: python_env(request.info))
        listed = _checked(context, lambda: env.pip_list(transitive=request.transitiveDependencies))
        return language_pb2.GetProgramDependenciesResponse(
            dependencies=[language_pb2.DependencyInfo(name=n, version=v) for n, v in listed]
        )

    def RuntimeOptionsPrompts(
        self, request: language_pb2.RuntimeOptionsRequest, context: grpc.ServicerContext
    ) -> language_pb2.RuntimeOptionsResponse:
        options = _options(request.info)
        prompt = language_pb2.RuntimeOptionPrompt
        prompts = []
        if "toolchain" not in options:  # the stand-in offers the one toolchain it runs
            pip = prompt.RuntimeOptionValue(promptType=prompt.STRING, stringValue="pip", displayName="pip")
            prompts.append(prompt(key="toolchain", description="The toolchain to use", choices=[pip], default=pip))
        elif options.get("toolchain") == "pip" and "virtualenv" not in options:
            venv = prompt.RuntimeOptionValue(promptType=prompt.STRING, stringValue="venv")
            prompts.append(prompt(key="virtualenv", description="The virtualenv to use", choices=[venv], default=venv))
        return language_pb2.RuntimeOptionsResponse(prompts=prompts)

    # ---------------------------------------------------------------- running the program

    def Run(self, request: language_pb2.RunRequest, context: grpc.ServicerContext) -> language_pb2.RunResponse:
        if not self.engine_address:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "when running explicitly, call Handshake before Run")
        if request.attach_debugger:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"attaching a debugger is {_NOT_HERE}")
        env = _checked(context, lambda: python_env(request.info))
        _checked(context, env.validate)
        args = exec_arguments(request, self.engine_address, self.tracing)
        argv = [_checked(context, env.python), self.executor, *args]
        try:  # the program's stdout and stderr are the host's, which the engine reads
            child = subprocess.Popen(argv, env=env.environ(exec_environment(request)), cwd=request.pwd or None)
        except OSError as error:
            return language_pb2.RunResponse(
                error=f"problem executing program (could not run language executor): {error}"
            )
        with self._lock:
            self._running.add(child)
        context.add_callback(lambda: self._interrupt(child))  # the engine went away mid-run
        try:
            status = child.wait()
        finally:
            with self._lock:
                self._running.discard(child)
        if status == 0:
            return language_pb2.RunResponse()
        if status == BAIL_EXIT_CODE:
            return language_pb2.RunResponse(bail=True)
        if status < 0:
            return language_pb2.RunResponse(error=f"program exited unexpectedly: signal {-status}")
        return language_pb2.RunResponse(error=f"program exited with non-zero exit code: {status}")

    def Cancel(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> empty_pb2.Empty:
        self.interrupt_all()
        return empty_pb2.Empty()

    def interrupt_all(self) -> None:
        """Interrupts every program still running (Cancel, and the host's own end)."""
        with self._lock:
            running = list(self._running)
        for child in running:
            self._interrupt(child)

    def _interrupt(self, child: subprocess.Popen[bytes]) -> None:
        """SIGINT, then SIGKILL after the grace period (as the real host's exec.Cmd.Cancel/WaitDelay)."""
        if child.poll() is not None:
            return
        try:
            child.send_signal(signal.SIGINT)
        except ProcessLookupError:
            return
        timer = threading.Timer(CANCEL_GRACE_SECONDS, lambda: child.poll() is None and child.kill())
        timer.daemon = True
        timer.start()

    # ---------------------------------------------------------------- pulumi install

    def InstallDependencies(
        self, request: language_pb2.InstallDependenciesRequest, context: grpc.ServicerContext
    ) -> Iterator[language_pb2.InstallDependenciesResponse]:
        info = request.info
        if not info.program_directory and request.directory:
            info = language_pb2.ProgramInfo(root_directory=request.directory, program_directory=request.directory)
        env = _checked(context, lambda: python_env(info))
        yield language_pb2.InstallDependenciesResponse(stdout=b"Installing dependencies...\n\n")
        venv = env.virtualenv
        steps: list[list[str]] = []
        if venv is not None and not env.is_virtualenv():
            steps.append([_checked(context, _ambient().python), "-m", "venv", str(venv)])
            upgrade = ["pip", "setuptools", "wheel"]
            steps.append([str(venv / "bin" / "python"), "-m", "pip", "install", "--upgrade", *upgrade])
        requirements = env.program_dir / "requirements.txt"
        if requirements.is_file():
            python = str(venv / "bin" / "python") if venv is not None else _checked(context, env.python)
            steps.append([python, "-m", "pip", "install", "-r", str(requirements)])
        for argv in steps:
            yield language_pb2.InstallDependenciesResponse(stdout=f"$ {' '.join(argv)}\n".encode())
            proc = subprocess.Popen(
                argv, env=env.environ(), cwd=env.program_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                yield language_pb2.InstallDependenciesResponse(stdout=line)
            if proc.wait() != 0:
                context.abort(grpc.StatusCode.UNKNOWN, f"`{' '.join(argv)}` exited with {proc.returncode}")
        yield language_pb2.InstallDependenciesResponse(stdout=b"Finished installing dependencies\n\n")

    # ---------------------------------------------------------------- not this project's

    def _unimplemented(self, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{_NOT_HERE} (a real pulumi-language-python does it)")

    GeneratePackage = GenerateProgram = GenerateProject = Link = Pack = Template = _unimplemented

    def RunPlugin(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{_NOT_HERE} (a real pulumi-language-python runs plugins)")
        yield from ()


_NOT_HERE = "not implemented by the language host stand-in (langhost_standin/, test tooling)"


def _ambient() -> PythonEnv:
    cwd = os.getcwd()
    return from_program_info(cwd, cwd, {"toolchain": "pip"})


def _checked(context: grpc.ServicerContext, call: Any) -> Any:
    """call(); a HostError aborts the RPC with its one line."""
    try:
        return call()
    except HostError as error:
        context.abort(grpc.StatusCode.UNKNOWN, str(error))
        raise AssertionError("unreachable") from None


def _quietly(call: Any) -> str:
    try:
        return str(call())
    except (HostError, IndexError):
        return ""
