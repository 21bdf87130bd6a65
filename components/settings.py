"""The stack's configuration: read once, validated, typed. Pure (no Pulumi calls, no I/O).

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
    pace              data_copy run's pace: "off" (default, full speed) or the duration one
                      copy chunk should take ("250ms"), pausing while the server shows strain
  Any other key in this namespace is refused (a typo must not be silently ignored).

``postgresql:*`` (the provider's own keys; they configure the explicit provider)
    host (required), port (5432), username ("postgres"), password (secret, optional),
    database (required), sslmode ("require"; one of disable, require, verify-ca,
    verify-full: the provider's Go driver has no "prefer")
  Other ``postgresql:*`` keys are refused: the program builds an explicit provider from the
  keys above only, so another key would have no effect.

Every problem found is reported in one line (ConfigError), so a preview fails with one
clear message instead of a traceback.
"""

import json
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from catalog import LEGACY_SCHEMAS, REGISTRY, SCHEMA_NAMES
from catalog.phases import CONFLICT_POLICIES, DEFAULT_CONFLICT_POLICY
from components.naming import RoleNames, prefix_problem

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
)
PROVIDER_KEYS: tuple[str, ...] = ("host", "port", "username", "password", "database", "sslmode")
# What the provider's Go driver (lib/pq) accepts; it has no "prefer" or "allow".
SSL_MODES: tuple[str, ...] = ("disable", "require", "verify-ca", "verify-full")
DEFAULT_SSLMODE = "require"

_DURATION = re.compile(r"(\d+)\s*(ms|s|min|h|d)")
_IDENT = r"[a-z_][a-z0-9_]{0,62}"
_QUALIFIED_TABLE = re.compile(rf"({_IDENT})\.({_IDENT})")
_MAPPED_LEGACY_TABLES = frozenset(t for entry in REGISTRY for t in entry.legacy)


class ConfigError(ValueError):
    """The stack's config is invalid; the message is one line naming every problem."""


@dataclass(frozen=True)
class Connection:
    """Where the provider (and the read-only validation lookup) connect. No password."""

    host: str
    port: int
    database: str
    username: str
    sslmode: str

    def as_output(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "username": self.username,
            "sslmode": self.sslmode,
        }


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

    def as_output(self) -> dict[str, Any]:
        return {
            "conflictPolicy": self.conflict_policy,
            "pace": self.pace,
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


def _parse_phase(r: _Reader) -> int:
    raw = r.raw(NAMESPACE, "phase")
    if raw is None or raw.strip() == "":
        return PHASES[0]
    try:
        phase = int(raw.strip())
    except ValueError:
        phase = -1
    if phase not in PHASES:
        r.problem(NAMESPACE, "phase", f"{raw!r} is not a phase; use 1, 2 or 3")
        return PHASES[0]
    return phase


def _parse_prefix(r: _Reader) -> str:
    prefix = r.raw(NAMESPACE, "rolePrefix") or ""
    problem = prefix_problem(prefix)
    if problem:
        r.problem(NAMESPACE, "rolePrefix", problem)
        return ""
    return prefix


def _parse_duration(r: _Reader, name: str, default: str) -> str:
    raw = r.raw(NAMESPACE, name)
    if raw is None:
        return default
    match = _DURATION.fullmatch(raw.strip())
    if not match or int(match.group(1)) == 0:
        r.problem(
            NAMESPACE,
            name,
            f"{raw!r} is not a positive PostgreSQL duration; write a number and a unit "
            "(ms, s, min, h, d), e.g. 2s or 30min",
        )
        return default
    return f"{int(match.group(1))}{match.group(2)}"


def _parse_timezone(r: _Reader) -> str:
    raw = r.raw(NAMESPACE, "legacyTimezone")
    if raw is None:
        return DEFAULT_LEGACY_TIMEZONE
    try:
        zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        r.problem(NAMESPACE, "legacyTimezone", f"{raw!r} is not an IANA time zone, e.g. UTC")
        return DEFAULT_LEGACY_TIMEZONE
    return raw


def _parse_backup_dir(r: _Reader) -> str:
    raw = r.raw(NAMESPACE, "backupDir")
    if raw is None:
        return DEFAULT_BACKUP_DIR
    if raw.strip() == "" or any(c in raw for c in "\0\n\r"):
        r.problem(NAMESPACE, "backupDir", f"{raw!r} is not a usable directory path")
        return DEFAULT_BACKUP_DIR
    return raw


def _parse_conflict_policy(r: _Reader) -> str:
    raw = r.raw(NAMESPACE, "conflictPolicy")
    if raw is None:
        return DEFAULT_CONFLICT_POLICY
    if raw not in CONFLICT_POLICIES:
        r.problem(NAMESPACE, "conflictPolicy", f"{raw!r} is not one of {', '.join(CONFLICT_POLICIES)}")
        return DEFAULT_CONFLICT_POLICY
    return raw


_PACE = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|min)")


def _parse_pace(r: _Reader) -> str:
    raw = r.raw(NAMESPACE, "pace")
    if raw is None or raw.strip().lower() in ("", "off"):
        return "off"
    match = _PACE.fullmatch(raw.strip())
    if not match or float(match.group(1)) <= 0:
        r.problem(NAMESPACE, "pace", f"{raw!r} is not off or a duration (ms, s, min), e.g. 250ms")
        return "off"
    return raw.strip()


def _parse_protect(r: _Reader) -> bool:
    raw = r.raw(NAMESPACE, "protect")
    if raw is None:
        return True
    if raw.strip().lower() not in ("true", "false"):
        r.problem(NAMESPACE, "protect", f"{raw!r} is not true or false")
        return True
    return raw.strip().lower() == "true"


def _parse_adopt(r: _Reader) -> tuple[str, ...]:
    raw = r.raw(NAMESPACE, "adoptExistingSchemas")
    if raw is None:
        return ()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) and v in SCHEMA_NAMES for v in value):
        r.problem(
            NAMESPACE,
            "adoptExistingSchemas",
            f"{raw!r} is not a list of consolidated schemas ({', '.join(SCHEMA_NAMES)}); e.g. "
            "pulumi config set --path 'consolidation:adoptExistingSchemas[0]' raw_data",
        )
        return ()
    return tuple(dict.fromkeys(value))


def _parse_disposable(r: _Reader) -> tuple[str, ...]:
    raw = r.raw(NAMESPACE, "disposableTables")
    if raw is None:
        return ()
    how = (
        'give a list of legacy "schema.table", e.g. '
        "pulumi config set --path 'consolidation:disposableTables[0]' public.test_table"
    )
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
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

    host = required("host")
    database = required("database")
    username = r.raw(PROVIDER_NAMESPACE, "username") or "postgres"
    port_raw = r.raw(PROVIDER_NAMESPACE, "port")
    port = 5432
    if port_raw is not None:
        try:
            port = int(port_raw)
        except ValueError:
            port = 0
        if not 1 <= port <= 65535:
            r.problem(PROVIDER_NAMESPACE, "port", f"{port_raw!r} is not a TCP port (1-65535)")
            port = 5432
    sslmode = r.raw(PROVIDER_NAMESPACE, "sslmode") or DEFAULT_SSLMODE
    if sslmode not in SSL_MODES:
        r.problem(PROVIDER_NAMESPACE, "sslmode", f"{sslmode!r} is not one of {', '.join(SSL_MODES)}")
        sslmode = DEFAULT_SSLMODE
    return Connection(host=host, port=port, database=database, username=username, sslmode=sslmode)


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
    phase = _parse_phase(r)
    prefix = _parse_prefix(r)
    data_copy = DataCopySettings(
        lock_timeout=_parse_duration(r, "lockTimeout", DEFAULT_LOCK_TIMEOUT),
        statement_timeout=_parse_duration(r, "statementTimeout", DEFAULT_STATEMENT_TIMEOUT),
        legacy_timezone=_parse_timezone(r),
        backup_dir=_parse_backup_dir(r),
        disposable_tables=_parse_disposable(r),
        conflict_policy=_parse_conflict_policy(r),
        pace=_parse_pace(r),
    )
    connection = _parse_connection(r)
    protect = _parse_protect(r)
    adopt = _parse_adopt(r)
    if r.problems:
        raise ConfigError("invalid stack config: " + "; ".join(r.problems))
    return StackSettings(
        phase=phase,
        role_prefix=prefix,
        connection=connection,
        data_copy=data_copy,
        protect=protect,
        adopt_existing_schemas=adopt,
    )
