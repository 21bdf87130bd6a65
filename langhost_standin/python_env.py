"""The Python a program runs with: Pulumi.yaml's runtime options, resolved as the real host does.

The real host's pip toolchain (sdk/python/toolchain/pip.go) runs `<virtualenv>/bin/python` with
the virtualenv "activated" (its bin directory first on PATH, VIRTUAL_ENV set, PYTHONHOME
removed); a relative `virtualenv` resolves against the project root (where Pulumi.yaml is), not
the program directory. Without a `virtualenv` it runs `$PULUMI_PYTHON_CMD`, else `python3`,
else `python` from PATH. The stand-in supports exactly that toolchain; `poetry`, `uv` and the
`typechecker` option are refused with one line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class HostError(Exception):
    """A refusal or failure reported to the engine as the RPC's one-line error."""


SUPPORTED_TOOLCHAINS = ("pip",)


@dataclass(frozen=True)
class PythonEnv:
    """The project's Python: a virtualenv (absolute path) or the ambient interpreter."""

    root: Path
    program_dir: Path
    virtualenv_option: str
    """The `virtualenv` option as written in Pulumi.yaml ("" when absent)."""
    toolchain_name: str = "Pip"
    """As the real host's About names it: "Pip", or "Auto" when Pulumi.yaml names none."""

    @property
    def virtualenv(self) -> Path | None:
        if not self.virtualenv_option:
            return None
        path = Path(self.virtualenv_option)
        return path if path.is_absolute() else self.root / path

    def is_virtualenv(self) -> bool:
        venv = self.virtualenv
        return venv is not None and (venv / "bin" / "python").is_file()

    def validate(self) -> None:
        """The real host's ValidateVenv: a named virtualenv must hold bin/python."""
        venv = self.virtualenv
        if venv is None or self.is_virtualenv():
            return
        state = "doesn't exist" if not venv.exists() else "doesn't appear to be a virtual environment"
        raise HostError(
            f"the 'virtualenv' option in Pulumi.yaml is set to {self.virtualenv_option!r}, but {venv} {state}"
            f" (create it: python3 -m venv {venv} && {venv}/bin/python -m pip install -r requirements.txt,"
            " or `make venv` in this project)"
        )

    def python(self) -> str:
        venv = self.virtualenv
        if venv is not None:
            return str(venv / "bin" / "python")
        for name in filter(None, (os.environ.get("PULUMI_PYTHON_CMD"), "python3", "python")):
            found = shutil.which(name)
            if found:
                return found
        raise HostError("no python3 or python on PATH (install Python 3, or name a virtualenv in Pulumi.yaml)")

    def environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """os.environ, activated for the virtualenv when there is one, plus `extra`."""
        env = dict(os.environ)
        venv = self.virtualenv
        if venv is not None:
            env.pop("PYTHONHOME", None)
            env["PATH"] = os.pathsep.join(p for p in (str(venv / "bin"), env.get("PATH", "")) if p)
            env["VIRTUAL_ENV"] = str(venv)
        env.update(extra or {})
        return env

    def run(self, *args: str, timeout: float = 120) -> str:
        """`python ARGS` in this environment; its stdout (a failure is a HostError)."""
        argv = [self.python(), *args]
        try:
            proc = subprocess.run(
                argv, env=self.environ(), capture_output=True, text=True, timeout=timeout, cwd=self.program_dir
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise HostError(f"`{' '.join(argv)}` could not run: {error}") from None
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise HostError(f"`{' '.join(argv)}` exited with {proc.returncode}: {last}")
        return proc.stdout

    def pip_list(self, transitive: bool = True) -> list[tuple[str, str]]:
        """(normalized name, version) of the installed distributions, as `pip list` says."""
        args = ["-m", "pip", "list", "--format", "json", *(() if transitive else ("--not-required",))]
        try:
            rows = json.loads(self.run(*args))
        except json.JSONDecodeError as error:
            raise HostError(f"`pip list --format json` printed no JSON: {error}") from None
        return [(normalize_package_name(r["name"]), str(r["version"])) for r in rows]


def from_program_info(root: str, program_dir: str, options: Mapping[str, Any]) -> PythonEnv:
    """The real host's parseOptions, for the pip toolchain only (anything else: one refusal)."""
    virtualenv = options.get("virtualenv", "")
    if not isinstance(virtualenv, str):
        raise HostError("the 'virtualenv' option in Pulumi.yaml must be a string (a directory path)")
    toolchain = options.get("toolchain")
    if toolchain is None:  # the real host's "Auto": a uv.lock or poetry.lock up the tree picks uv or poetry
        lock = _lock_file(Path(program_dir or root))
        if lock is not None:
            raise HostError(
                f"the language host stand-in (langhost_standin/) supports only the pip toolchain, and {lock} makes"
                " the real host pick another (set runtime.options.toolchain: pip in Pulumi.yaml, or put a real"
                " pulumi-language-python on PATH)"
            )
    elif toolchain not in SUPPORTED_TOOLCHAINS:
        raise HostError(
            f"the language host stand-in (langhost_standin/) supports only the pip toolchain, and"
            f" Pulumi.yaml names toolchain {toolchain!r} (set runtime.options.toolchain: pip with a virtualenv,"
            " or put a real pulumi-language-python on PATH)"
        )
    if options.get("typechecker"):
        raise HostError(
            f"the language host stand-in (langhost_standin/) does not run typecheckers, and Pulumi.yaml"
            f" names typechecker {options['typechecker']!r} (remove runtime.options.typechecker, or put a real"
            " pulumi-language-python on PATH)"
        )
    return PythonEnv(
        root=Path(root or program_dir),
        program_dir=Path(program_dir or root),
        virtualenv_option=virtualenv,
        toolchain_name="Auto" if toolchain is None else "Pip",
    )


def _lock_file(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        for name in ("uv.lock", "poetry.lock"):
            if (directory / name).is_file():
                return directory / name
    return None


_SEPARATORS = re.compile(r"[-_.]+")


def normalize_package_name(name: str) -> str:
    """PEP 503: lower case, every run of '-', '_' and '.' one '-' (as the real host compares names)."""
    return _SEPARATORS.sub("-", name.lower())


_PYTHON_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:(a|b|rc|dev)(\d+))?")
_PRE = {"a": "alpha", "b": "beta", "rc": "rc", "dev": "dev"}


def semver_of_python(text: str) -> str:
    """`Python 3.11.7` -> `3.11.7` (`3.13.0rc1` -> `3.13.0-rc.1`), as the real About reports it."""
    match = _PYTHON_VERSION.match(text.strip().removeprefix("Python "))
    if not match:
        return ""
    major, minor, patch, pre, num = match.groups()
    return f"{major}.{minor}.{patch or 0}" + (f"-{_PRE[pre]}.{num}" if pre else "")
