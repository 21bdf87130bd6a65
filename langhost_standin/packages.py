"""GetRequiredPackages: the Pulumi packages (resource plugins) the program's environment holds.

As the real host does it: every distribution `pip list` reports (transitively) is looked up for
a `pulumi-plugin.json` inside its top-level package; a distribution is a Pulumi package when it
has one (and its `resource` is true) or, without one, when its name starts with `pulumi-`. Name,
version and server come from the file, else from the distribution (`pulumi-postgresql` 3.18.2 ->
`postgresql` v3.18.2). `pulumi-policy` and `pulumi-esc-sdk` have no plugin.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from langhost_standin.python_env import HostError, PythonEnv

WITHOUT_PLUGINS = frozenset({"pulumi-policy", "pulumi-esc-sdk"})

# Run in the program's python: each named distribution -> the pulumi-plugin.json of its
# top-level package ("" when it has none). Written for the stand-in (not the real host's script).
_FIND_PLUGIN_JSON = """
import importlib.metadata as md, importlib.util as iu, json, os, sys
found = {}
for name in sys.argv[1:]:
    path = ""
    try:
        module = md.distribution(name).metadata["Name"].replace("-", "_")
        spec = iu.find_spec(module)
        for where in (spec.submodule_search_locations or []) if spec else []:
            candidate = os.path.join(str(where), "pulumi-plugin.json")
            if os.path.isfile(candidate):
                path = candidate
                break
    except Exception:
        path = ""
    found[name] = path
print(json.dumps(found))
"""


@dataclass(frozen=True)
class Package:
    """One PackageDependency of the response."""

    name: str
    version: str
    server: str = ""
    parameterization: Mapping[str, Any] | None = None
    """pulumi-plugin.json's `parameterization` (name, version, base64 value), as written."""
    extension: Mapping[str, Any] | None = None
    """pulumi-plugin.json's `extensionParameterization`, as written."""


def plugin_json_paths(env: PythonEnv, names: Iterable[str]) -> dict[str, str]:
    names = list(names)
    if not names:
        return {}
    try:
        return json.loads(env.run("-c", _FIND_PLUGIN_JSON, *names))
    except (HostError, json.JSONDecodeError):
        return {}  # as the real host: no pulumi-plugin.json found is not an error


def required_packages(env: PythonEnv) -> list[Package]:
    installed = env.pip_list(transitive=True)
    paths = plugin_json_paths(env, (name for name, _ in installed))
    packages = []
    for name, version in installed:
        if name in WITHOUT_PLUGINS:
            continue
        plugin_json: dict[str, Any] | None = None
        if paths.get(name):
            try:
                with open(paths[name], encoding="utf-8") as f:
                    plugin_json = json.load(f)
            except OSError:
                plugin_json = None
            except json.JSONDecodeError as error:
                raise HostError(f"failed to parse pulumi-plugin.json for {name}: {error}") from None
        if plugin_json is None and not name.startswith("pulumi-"):
            continue
        package = package_of(name, version, plugin_json)
        if package is not None:
            packages.append(package)
    return packages


def package_of(name: str, version: str, plugin_json: Mapping[str, Any] | None) -> Package | None:
    """The PackageDependency of one distribution (None: no plugin, or no plugin version to say)."""
    plugin_json = plugin_json or {}
    if plugin_json and not plugin_json.get("resource", False):
        return None
    plugin_version = str(plugin_json.get("version") or "")
    if not plugin_version:
        plugin_version = plugin_version_of(version) or ""
        if not plugin_version:
            return None
    return Package(
        name=str(plugin_json.get("name") or name.removeprefix("pulumi-")),
        version=plugin_version if plugin_version.startswith("v") else "v" + plugin_version,
        server=str(plugin_json.get("server") or ""),
        parameterization=plugin_json.get("parameterization"),
        extension=plugin_json.get("extensionParameterization"),
    )


_PEP440 = re.compile(
    r"^(?P<release>\d+(?:\.\d+)*)(?:(?P<pre>a|b|rc)(?P<pre_n>\d*))?(?:\.post(?P<post>\d*))?(?:\.dev(?P<dev>\d*))?$"
)
_PRE_RELEASE = {"a": "alpha", "b": "beta", "rc": "rc"}


def plugin_version_of(package_version: str) -> str | None:
    """A PEP 440 package version as the plugin's semver, by the real host's rules: at least three
    release segments (`1.0` -> `1.0.0`), `a`/`b`/`rc` -> `-alpha.`/`-beta.`/`-rc.`, `.postN` ->
    `+postN`, `.devN` -> `+devN` (after a post: `+postNdevM`). Epochs and anything else: None."""
    match = _PEP440.match(package_version)
    if match is None:
        return None
    segments = match["release"].split(".")
    segments += ["0"] * (3 - len(segments))
    text = ".".join(segments)
    if match["pre"]:
        text += f"-{_PRE_RELEASE[match['pre']]}.{match['pre_n']}"
    if match["post"] is not None:
        text += f"+post{match['post']}"
    if match["dev"] is not None:
        text += ("dev" if match["post"] is not None else "+dev") + match["dev"]
    return text
