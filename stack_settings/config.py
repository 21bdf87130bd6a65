"""The stack's configuration: read once, validated, typed. Pure (no Pulumi, no I/O).

The one parser of the project's settings: the stack program (components/stack.py) runs it
on the running stack's config, data_copy (data_copy/core/stack_source.py) on the config `--stack NAME`
reads through the Automation API, so both sides see the same values and the same defaults.

Two namespaces are read:

``consolidation:*`` (this project)
    phase             1, 2 or 3 (Pulumi.yaml declares it, default 1)
    rolePrefix        "" or a lower-case identifier prefix put before every role name
    lockTimeout       data_copy's lock_timeout, a PostgreSQL duration ("2s")
    statementTimeout  data_copy's statement_timeout ("30min")
    legacyTimezone    IANA zone the legacy naive timestamps were written in ("UTC")
    backupDir         where `data_copy cleanup` writes its backup (".state/backups")
    disposableTables  legacy tables without a mapping that phase 3 may drop even when they
                      still hold rows: a list of "schema.table" ([])
    conflictPolicy    phase 2: which version a both-sides change keeps ("keep-new")
    protect           true (default): every database resource of the stack is `protect`ed,
                      so `pulumi destroy` (or removing resources) is refused before anything
                      is revoked; `pulumi state unprotect --all` first to tear it down
    adoptExistingSchemas  consolidated schemas that may already exist before phase 1 and
                      are then adopted (their owner becomes the owner role): a list ([])
    carryBack         phase 2 both ways: mappings (or ["all"]: every one that inverts
                      exactly) whose new table's writes each `data_copy run` also
                      carries back into legacy, for code that still reads legacy
    legacyTables      phase 2: mappings whose registry entry goes back to the legacy table
                      (one table's rollback); each must be in carryBack
    replicaIdentityFull  mapped legacy tables whose deletes and updates should carry the
                      whole old row (data_copy run sets REPLICA IDENTITY FULL on them:
                      the owners' opt-in, the only other change to legacy; undone by
                      rollback and capture-drop)
    pace              data_copy run's pace: "off" (default, full speed) or the duration one
                      copy chunk should take ("250ms"), pausing while the server shows strain
  Any other key in this namespace is refused (a typo must not be silently ignored).

``postgresql:*`` (the provider's own keys; they configure the explicit provider)
    host (required), port (5432), username ("postgres"), password (secret, optional),
    database (required), sslmode ("require"; one of disable, require, verify-ca,
    verify-full; "prefer" and "allow", which the provider's driver takes, are refused on
    purpose: they fall back to no TLS without a word)
  Other ``postgresql:*`` keys are refused: the program builds an explicit provider from the
  keys above only, so another key would have no effect.

Every problem found is reported in one line (ConfigError), so a preview fails with one
clear message instead of a traceback.
"""

import json
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from catalog import LEGACY_SCHEMAS, SCHEMA_NAMES
from catalog.mappings import MAPPED_SOURCES, MAPPINGS
from catalog.phases import CONFLICT_POLICIES, DEFAULT_CONFLICT_POLICY
from stack_settings.connection import DEFAULT_PORT, DEFAULT_SSLMODE, DEFAULT_USERNAME, Connection, sslmode_problem
from stack_settings.naming import RoleNames, prefix_problem

NAMESPACE = "consolidation"
PROVIDER_NAMESPACE = "postgresql"
PHASES = (1, 2, 3)

DEFAULT_LOCK_TIMEOUT = "2s"
DEFAULT_STATEMENT_TIMEOUT = "30min"
DEFAULT_LEGACY_TIMEZONE = "UTC"
DEFAULT_BACKUP_DIR = ".state/backups"

PROJECT_KEYS: tuple[str, ...] = (
    "phase",
    "rolePrefix",
    "lockTimeout",
    "statementTimeout",
    "legacyTimezone",
    "backupDir",
    "disposableTables",
    "conflictPolicy",
    "protect",
    "adoptExistingSchemas",
    "pace",
    "replicaIdentityFull",
    "carryBack",
    "legacyTables",
)
PROVIDER_KEYS: tuple[str, ...] = ("host", "port", "username", "password", "database", "sslmode")

_DURATION = re.compile(r"(\d+)\s*(ms|s|min|h|d)")
_IDENT = r"[a-z_][a-z0-9_]{0,62}"
_QUALIFIED_TABLE = re.compile(rf"({_IDENT})\.({_IDENT})")
_MAPPED_LEGACY_TABLES = frozenset(MAPPED_SOURCES)

T = TypeVar("T")


class ConfigError(ValueError):
    """The stack's config is invalid; the message is one line naming every problem."""


@dataclass(frozen=True)
class DataCopySettings:
    """Keys the post-deploy step (data_copy) reads; validated here, exported as `dataCopy`."""

    lock_timeout: str = DEFAULT_LOCK_TIMEOUT
    statement_timeout: str = DEFAULT_STATEMENT_TIMEOUT
    legacy_timezone: str = DEFAULT_LEGACY_TIMEZONE
    backup_dir: str = DEFAULT_BACKUP_DIR
    disposable_tables: tuple[str, ...] = field(default=())
    conflict_policy: str = DEFAULT_CONFLICT_POLICY
    pace: str = "off"
    replica_identity_full: tuple[str, ...] = field(default=())
    carry_back: tuple[str, ...] = field(default=())
    legacy_tables: tuple[str, ...] = field(default=())

    def as_output(self) -> dict[str, Any]:
        return {
            "carryBack": list(self.carry_back),
            "legacyTables": list(self.legacy_tables),
            "conflictPolicy": self.conflict_policy,
            "pace": self.pace,
            "replicaIdentityFull": list(self.replica_identity_full),
            "lockTimeout": self.lock_timeout,
            "statementTimeout": self.statement_timeout,
            "legacyTimezone": self.legacy_timezone,
            "backupDir": self.backup_dir,
            "disposableTables": list(self.disposable_tables),
        }


@dataclass(frozen=True)
class StackSettings:
    phase: int
    role_prefix: str
    connection: Connection
    data_copy: DataCopySettings = field(default_factory=DataCopySettings)
    protect: bool = True
    adopt_existing_schemas: tuple[str, ...] = ()

    @property
    def role_names(self) -> RoleNames:
        return RoleNames(self.role_prefix)


def _key(namespace: str, name: str) -> str:
    return f"{namespace}:{name}"


class _Reader:
    """Collects problems instead of stopping at the first one."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self.problems: list[str] = []

    def raw(self, namespace: str, name: str) -> str | None:
        value = self.config.get(_key(namespace, name))
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def problem(self, namespace: str, name: str, message: str) -> None:
        self.problems.append(f"{_key(namespace, name)}: {message}")

    def value(
        self,
        name: str,
        default: T,
        problem: Callable[[str], str | None],
        convert: Callable[[str], T],
        namespace: str = NAMESPACE,
    ) -> T:
        """`convert(raw)` of a set key that has no `problem(raw)`; else the default (and the
        problem is noted)."""
        raw = self.raw(namespace, name)
        if raw is None:
            return default
        message = problem(raw)
        if message:
            self.problem(namespace, name, message)
            return default
        return convert(raw)


def _same(raw: str) -> str:
    return raw


def _integer(raw: str) -> int | None:
    try:
        return int(raw.strip())
    except ValueError:
        return None


def _parse_phase(r: _Reader) -> int:
    def problem(raw: str) -> str | None:
        ok = raw.strip() == "" or _integer(raw) in PHASES
        return None if ok else f"{raw!r} is not a phase; use 1, 2 or 3"

    return r.value("phase", PHASES[0], problem, lambda raw: _integer(raw) or PHASES[0])


def _parse_prefix(r: _Reader) -> str:
    return r.value("rolePrefix", "", prefix_problem, _same)


def _parse_duration(r: _Reader, name: str, default: str) -> str:
    def problem(raw: str) -> str | None:
        match = _DURATION.fullmatch(raw.strip())
        if match and int(match.group(1)) > 0:
            return None
        return (
            f"{raw!r} is not a positive PostgreSQL duration; write a number and a unit "
            "(ms, s, min, h, d), e.g. 2s or 30min"
        )

    def normal(raw: str) -> str:
        match = _DURATION.fullmatch(raw.strip())
        assert match is not None  # problem() said so
        return f"{int(match.group(1))}{match.group(2)}"

    return r.value(name, default, problem, normal)


def _timezone_problem(raw: str) -> str | None:
    try:
        zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"{raw!r} is not an IANA time zone, e.g. UTC"
    return None


def _backup_dir_problem(raw: str) -> str | None:
    if raw.strip() == "" or any(c in raw for c in "\0\n\r"):
        return f"{raw!r} is not a usable directory path"
    return None


def _conflict_policy_problem(raw: str) -> str | None:
    return None if raw in CONFLICT_POLICIES else f"{raw!r} is not one of {', '.join(CONFLICT_POLICIES)}"


_PACE = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|min)")


def _pace_problem(raw: str) -> str | None:
    value = raw.strip().lower()
    if value in ("", "off"):
        return None
    match = _PACE.fullmatch(value)
    if match and float(match.group(1)) > 0:
        return None
    return f"{raw!r} is not off or a duration (ms, s, min), e.g. 250ms"


def _pace(raw: str) -> str:
    return raw.strip().lower() or "off"


def _protect_problem(raw: str) -> str | None:
    return None if raw.strip().lower() in ("true", "false") else f"{raw!r} is not true or false"


def _json_list(raw: str) -> list[Any] | None:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) else None


def _parse_adopt(r: _Reader) -> tuple[str, ...]:
    def problem(raw: str) -> str | None:
        value = _json_list(raw)
        if value is not None and all(isinstance(v, str) and v in SCHEMA_NAMES for v in value):
            return None
        return (
            f"{raw!r} is not a list of consolidated schemas ({', '.join(SCHEMA_NAMES)}); e.g. "
            "pulumi config set --path 'consolidation:adoptExistingSchemas[0]' raw_data"
        )

    return r.value("adoptExistingSchemas", (), problem, lambda raw: tuple(dict.fromkeys(_json_list(raw) or [])))


def _parse_carry_back(r: _Reader) -> tuple[str, ...]:
    """Phase 2 both ways: mappings whose new table's writes go back into legacy, or ["all"]
    (every mapping that inverts exactly); one that does not invert is refused with why."""
    raw = r.raw(NAMESPACE, "carryBack")
    if raw is None:
        return ()
    value = _json_list(raw)
    how = "e.g. pulumi config set --path 'consolidation:carryBack[0]' moneyline, or all"
    if value is None or not all(isinstance(v, str) for v in value):
        r.problem(NAMESPACE, "carryBack", f"{raw!r} is not a list of mapping names; {how}")
        return ()
    by_name = {m.name: m for m in MAPPINGS}
    if value == ["all"]:
        return tuple(m.name for m in MAPPINGS if m.invertible)
    for name in value:
        if name not in by_name:
            r.problem(NAMESPACE, "carryBack", f"{name!r} is not a mapping ({', '.join(by_name)}); {how}")
        elif not by_name[name].invertible:
            r.problem(NAMESPACE, "carryBack", f"{name!r} cannot go back into legacy: {by_name[name].inversion}")
    return tuple(dict.fromkeys(value))


def _parse_legacy_tables(r: _Reader, carry_back: tuple[str, ...]) -> tuple[str, ...]:
    """One table's rollback in phase 2: mappings whose registry entry resolves to legacy
    again. Only for a mapping synced both ways (carryBack), so that neither side's writes
    are lost to the other side's readers."""

    def problem(raw: str) -> str | None:
        value = _json_list(raw)
        if value is None or not all(isinstance(v, str) for v in value):
            how = "pulumi config set --path 'consolidation:legacyTables[0]' moneyline"
            return f"{raw!r} is not a list of mapping names; e.g. {how}"
        one_way = [v for v in value if v not in carry_back]
        if one_way:
            return (
                f"{', '.join(one_way)} would go back to legacy while synced one way only: the application's"
                " writes to the new table would not reach legacy; add it to consolidation:carryBack first"
            )
        return None

    return r.value("legacyTables", (), problem, lambda raw: tuple(dict.fromkeys(_json_list(raw) or [])))


def _parse_replica_identity(r: _Reader) -> tuple[str, ...]:
    """Mapped legacy tables whose changes carry the whole old row (the owners' opt-in: a
    catalog change on legacy, ALTER TABLE ... REPLICA IDENTITY FULL, made by data_copy run)."""

    def problem(raw: str) -> str | None:
        value = _json_list(raw)
        if value is not None and all(isinstance(v, str) and v in _MAPPED_LEGACY_TABLES for v in value):
            return None
        return (
            f"{raw!r} is not a list of mapped legacy tables; e.g. "
            "pulumi config set --path 'consolidation:replicaIdentityFull[0]' splits.raw_mlb_betting_splits"
        )

    return r.value("replicaIdentityFull", (), problem, lambda raw: tuple(dict.fromkeys(_json_list(raw) or [])))


def _parse_disposable(r: _Reader) -> tuple[str, ...]:
    raw = r.raw(NAMESPACE, "disposableTables")
    if raw is None:
        return ()
    how = (
        'give a list of legacy "schema.table", e.g. '
        "pulumi config set --path 'consolidation:disposableTables[0]' public.test_table"
    )
    value = _json_list(raw)
    if value is None or not all(isinstance(v, str) for v in value):
        r.problem(NAMESPACE, "disposableTables", f"{raw!r} is not a list of strings; {how}")
        return ()
    tables: list[str] = []
    for item in value:
        match = _QUALIFIED_TABLE.fullmatch(item)
        if not match:
            r.problem(NAMESPACE, "disposableTables", f'{item!r} is not "schema.table"; {how}')
        elif match.group(1) not in LEGACY_SCHEMAS:
            r.problem(
                NAMESPACE,
                "disposableTables",
                f"{item!r} is not in a legacy schema ({', '.join(LEGACY_SCHEMAS)})",
            )
        elif item in _MAPPED_LEGACY_TABLES:
            r.problem(
                NAMESPACE,
                "disposableTables",
                f"{item!r} is migrated by a mapping and validated before it is dropped; "
                "only unmapped legacy tables can be disposable",
            )
        elif item in tables:
            r.problem(NAMESPACE, "disposableTables", f"{item!r} is listed twice")
        else:
            tables.append(item)
    return tuple(tables)


def _parse_connection(r: _Reader) -> Connection:
    def required(name: str) -> str:
        raw = r.raw(PROVIDER_NAMESPACE, name)
        if raw is None or raw.strip() == "":
            r.problem(
                PROVIDER_NAMESPACE,
                name,
                f"missing; set it with: pulumi config set {_key(PROVIDER_NAMESPACE, name)} ...",
            )
            return ""
        return raw

    def port_problem(raw: str) -> str | None:
        port = _integer(raw)
        return None if port is not None and 1 <= port <= 65535 else f"{raw!r} is not a TCP port (1-65535)"

    host = required("host")
    database = required("database")
    return Connection(
        host=host,
        database=database,
        username=r.raw(PROVIDER_NAMESPACE, "username") or DEFAULT_USERNAME,
        port=r.value("port", DEFAULT_PORT, port_problem, int, PROVIDER_NAMESPACE),
        sslmode=r.value(
            "sslmode", DEFAULT_SSLMODE, sslmode_problem, lambda raw: raw or DEFAULT_SSLMODE, PROVIDER_NAMESPACE
        ),
    )


def _unknown_keys(r: _Reader) -> None:
    for key in sorted(r.config):
        namespace, _, name = key.partition(":")
        if namespace == NAMESPACE and name not in PROJECT_KEYS:
            r.problems.append(
                f"{key}: unknown key; known {NAMESPACE} keys: {', '.join(PROJECT_KEYS)} "
                f"(remove it with: pulumi config rm {key})"
            )
        elif namespace == PROVIDER_NAMESPACE and name not in PROVIDER_KEYS:
            r.problems.append(
                f"{key}: not used by this project's explicit provider; supported: "
                f"{', '.join(PROVIDER_KEYS)} (remove it with: pulumi config rm {key})"
            )


def parse_settings(config: Mapping[str, Any]) -> StackSettings:
    """Validate the whole config ("namespace:key" -> value); raise ConfigError on any problem."""
    r = _Reader(config)
    _unknown_keys(r)
    # keyword arguments run left to right: the problems are listed in this order
    settings = StackSettings(
        phase=_parse_phase(r),
        role_prefix=_parse_prefix(r),
        data_copy=DataCopySettings(
            lock_timeout=_parse_duration(r, "lockTimeout", DEFAULT_LOCK_TIMEOUT),
            statement_timeout=_parse_duration(r, "statementTimeout", DEFAULT_STATEMENT_TIMEOUT),
            legacy_timezone=r.value("legacyTimezone", DEFAULT_LEGACY_TIMEZONE, _timezone_problem, _same),
            backup_dir=r.value("backupDir", DEFAULT_BACKUP_DIR, _backup_dir_problem, _same),
            disposable_tables=_parse_disposable(r),
            conflict_policy=r.value("conflictPolicy", DEFAULT_CONFLICT_POLICY, _conflict_policy_problem, _same),
            pace=r.value("pace", "off", _pace_problem, _pace),
            replica_identity_full=_parse_replica_identity(r),
            carry_back=(carry_back := _parse_carry_back(r)),
            legacy_tables=_parse_legacy_tables(r, carry_back),
        ),
        connection=_parse_connection(r),
        protect=r.value("protect", True, _protect_problem, lambda raw: raw.strip().lower() == "true"),
        adopt_existing_schemas=_parse_adopt(r),
    )
    if r.problems:
        raise ConfigError("invalid stack config: " + "; ".join(r.problems))
    return settings
