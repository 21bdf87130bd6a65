"""Reading the registry from a file, a dict, the environment or a Pulumi stack.

Pure standard library: application code imports this without Pulumi or psycopg installed.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

ENV_VAR = "CONSOLIDATION_TABLE_REGISTRY"
"""Environment variable holding the path of a file exported from the stack output."""

OUTPUT_NAME = "tableRegistry"
"""The Pulumi stack output the registry is exported as."""

LEGACY_PREFIX = "legacy_"
_QUALIFIED = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*$")
_MAX_SUGGESTIONS = 5


class TableRegistryError(Exception):
    """Base of every error this package raises."""


class RegistrySourceError(TableRegistryError):
    """The registry could not be read: no source given, unreadable file, bad content."""


class UnknownTableName(TableRegistryError, KeyError):
    """``get_table`` was asked for a name the registry does not have."""

    def __init__(self, name: str, suggestions: tuple[str, ...], known: int) -> None:
        self.name = name
        self.suggestions = suggestions
        if suggestions:
            hint = "did you mean: " + ", ".join(suggestions) + "?"
        else:
            hint = f"no similar name among the {known} known ones; see TableRegistry.names()"
        self.message = f"unknown table name {name!r} ({hint})"
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return self.message


@dataclass(frozen=True)
class TableRegistry:
    """Logical table name -> ``schema.table``, as deployed for one phase of one stack."""

    tables: Mapping[str, str]
    phase: int | None = None
    source: str = "dict"
    _frozen: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_frozen", MappingProxyType(dict(self.tables)))
        object.__setattr__(self, "tables", self._frozen)

    def get_table(self, name: str) -> str:
        """The ``schema.table`` to use for logical ``name``; UnknownTableName if there is none."""
        try:
            return self._frozen[name]
        except KeyError:
            raise UnknownTableName(name, self.close_matches(name), len(self._frozen)) from None

    def close_matches(self, name: str) -> tuple[str, ...]:
        """Known names that look like ``name`` (difflib similarity, then substring)."""
        names = sorted(self._frozen)
        found = difflib.get_close_matches(name, names, n=_MAX_SUGGESTIONS, cutoff=0.6)
        lowered = name.lower()
        if lowered:
            for candidate in names:
                if len(found) >= _MAX_SUGGESTIONS:
                    break
                if candidate not in found and (lowered in candidate or candidate in lowered):
                    found.append(candidate)
        return tuple(found)

    def names(self) -> tuple[str, ...]:
        """Every logical name, sorted (``legacy_*`` ones included)."""
        return tuple(sorted(self._frozen))

    def legacy_names(self) -> tuple[str, ...]:
        """The ``legacy_*`` names: the legacy tables, whatever the phase (the guide's rollback)."""
        return tuple(n for n in self.names() if n.startswith(LEGACY_PREFIX))

    def as_dict(self) -> dict[str, str]:
        return dict(self._frozen)

    def __getitem__(self, name: str) -> str:
        return self.get_table(name)

    def __contains__(self, name: object) -> bool:
        return name in self._frozen

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._frozen)


def _parse(data: Any, origin: str) -> TableRegistry:
    """Accepts the output as exported: a flat {name: "schema.table"} object, or
    {"phase": N, "tables": {...}}; a JSON text of either is decoded first."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as error:
            raise RegistrySourceError(f"{origin}: not JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(data, Mapping):
        raise RegistrySourceError(
            f"{origin}: expected a JSON object of logical name -> schema.table, got {type(data).__name__}"
        )
    phase: int | None = None
    tables: Any = data
    if isinstance(data.get("tables"), Mapping):
        tables = data["tables"]
        raw_phase = data.get("phase")
        if raw_phase is not None:
            try:
                phase = int(raw_phase)
            except (TypeError, ValueError):
                raise RegistrySourceError(f"{origin}: phase {raw_phase!r} is not a number") from None
    if not tables:
        raise RegistrySourceError(f"{origin}: the registry is empty")
    bad = [
        f"{k!r}: {v!r}"
        for k, v in tables.items()
        if not isinstance(k, str) or not isinstance(v, str) or not _QUALIFIED.match(v)
    ]
    if bad:
        raise RegistrySourceError(f"{origin}: values must be 'schema.table' strings; bad entries: {', '.join(bad[:5])}")
    return TableRegistry(dict(tables), phase=phase, source=origin)


def _read_file(path: Path, origin: str) -> TableRegistry:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RegistrySourceError(
            f"{origin}: file {path} does not exist (export it with `pulumi stack output {OUTPUT_NAME} --json > {path}`)"
        ) from None
    except OSError as error:
        raise RegistrySourceError(f"{origin}: cannot read {path}: {error.strerror}") from None
    return _parse(text, f"{origin} {path}" if origin != str(path) else str(path))


def get_table_registry(source: str | Path | Mapping[str, Any] | None = None) -> TableRegistry:
    """The registry from ``source``: a file exported with
    ``pulumi stack output tableRegistry --json > FILE``, a dict of the same content, or
    None for the file named by ``$CONSOLIDATION_TABLE_REGISTRY``.

    The file is read at every call, so re-exporting it after a phase change (or a rollback)
    switches a long-running application at its next lookup of the registry.
    """
    if isinstance(source, Mapping):
        return _parse(source, "dict")
    if source is None:
        value = os.environ.get(ENV_VAR, "").strip()
        if not value:
            raise RegistrySourceError(
                f"no registry given and ${ENV_VAR} is not set (export the stack output with "
                f"`pulumi stack output {OUTPUT_NAME} --json > FILE` and set {ENV_VAR}=FILE)"
            )
        return _read_file(Path(value), f"${ENV_VAR}")
    return _read_file(Path(source), str(source))


def from_stack(stack_name: str, work_dir: str | Path = ".", output: str = OUTPUT_NAME) -> TableRegistry:
    """The registry straight from a stack's outputs (needs Pulumi; the only function that does).

    ``work_dir`` is the Pulumi project directory; the backend and passphrase come from the
    usual environment (PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE, ...).
    """
    try:
        from pulumi import automation as auto
    except ImportError:
        raise RegistrySourceError(
            "reading a stack needs the pulumi package; export the output to a file instead "
            f"(`pulumi stack output {output} --json > FILE`)"
        ) from None
    origin = f"stack {stack_name!r}"
    try:
        stack = auto.select_stack(stack_name=stack_name, work_dir=str(work_dir))
        outputs = stack.outputs()
    except auto.errors.StackNotFoundError:
        raise RegistrySourceError(f"{origin} does not exist (list stacks with `pulumi stack ls`)") from None
    except auto.errors.CommandError as error:
        lines = [ln.strip() for ln in str(error).splitlines() if "error" in ln.lower()]
        raise RegistrySourceError(f"{origin}: {lines[-1] if lines else 'pulumi failed'}") from None
    if output not in outputs:
        raise RegistrySourceError(f"{origin} has no output {output!r} (run `pulumi up` for it first)")
    return _parse(outputs[output].value, f"{origin} output {output}")


def from_catalog(phase: int) -> TableRegistry:
    """The registry the stack exports for ``phase``, computed from catalog/ (no stack needed;
    for tests and tools that run inside this repository)."""
    from catalog.registry import table_registry

    return TableRegistry(table_registry(phase), phase=phase, source=f"catalog phase {phase}")
