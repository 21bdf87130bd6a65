"""What __main__ builds and exports, as functions the unit tests can call under mocks."""

from collections.abc import Callable
from typing import Any

import pulumi

from catalog import LEGACY_SCHEMAS, NEVER_DROPPED_SCHEMAS, table_registry
from catalog.mappings import MAPPED_SOURCES, MAPPINGS
from components.database import (
    ConsolidatedDatabase,
    ConsolidatedDatabaseArgs,
    function_connection,
    make_provider,
)
from components.preflight import SchemaOwners, problem, read_schema_owners
from components.recorded_state import PhaseRefused, RecordedState, read_state
from stack_settings import ConfigError, Connection, StackSettings, parse_settings

PROJECT_COMPONENT_NAME = "consolidation"
PROJECT_NAME = "consolidation"  # Pulumi.yaml `name`

StateReader = Callable[[Connection, str | None, Callable[[str], None]], RecordedState]


def current_config() -> dict[str, Any]:
    """Every config value of the running stack, "namespace:key" -> value.

    pulumi.Config only answers for keys one already knows; spotting an unknown key needs
    the whole set, which the SDK keeps in pulumi.runtime.config.
    """
    from pulumi.runtime import config as runtime_config

    values: dict[str, Any] = dict(runtime_config.get_config_env())
    values.update(runtime_config.CONFIG.get())
    return values


def load_settings(config: dict[str, Any] | None = None) -> StackSettings:
    """The validated settings; a bad config becomes ONE pulumi.RunError line (no traceback)."""
    try:
        return parse_settings(current_config() if config is None else config)
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None


def legacy_drop(phase: int) -> dict[str, list[str]]:
    """What `python -m data_copy cleanup` drops in phase 3 (nothing is dropped before).

    The mapped legacy source tables, and the legacy schemas other than public (dropped once
    phase 3 has emptied them). data_copy decides and checks the final list.
    """
    if phase != 3:
        return {"tables": [], "schemas": []}
    tables = sorted(MAPPED_SOURCES)
    schemas = [s for s in LEGACY_SCHEMAS if s not in NEVER_DROPPED_SCHEMAS]
    return {"tables": tables, "schemas": schemas}


def build_stack(
    settings: StackSettings,
    password: pulumi.Output[str] | None,
    read_recorded: StateReader | None = None,
    *,
    plain_password: str | None = None,
    schema_owners: SchemaOwners | None = None,
    component_name: str = PROJECT_COMPONENT_NAME,
    opts: pulumi.ResourceOptions | None = None,
) -> dict[str, Any]:
    """Create the provider and the components; return the stack outputs by name.

    `read_recorded` defaults to the read-only look at what data_copy recorded
    (components/recorded_state.py: the phase and the latest validations, one connection),
    which refuses a phase the database's recorded phase does not allow (a rollback not
    carried back, a switch not made); `schema_owners`
    to the read-only look at the schemas' owners (components/preflight.py: a rolePrefix
    change or someone else's schema is refused with one line); unit tests pass stubs so
    they do no I/O.

    Renaming or re-parenting the component: pass the new `component_name` / parent in
    `opts` together with `aliases` naming the old ones; the child resources' names start
    with the component's name, so Pulumi carries the alias down to every grant and nothing
    is replaced (spec trap 2: a replacement without alias revokes what was just granted).
    """
    reader: StateReader
    if read_recorded is None:

        def read_here(connection: Connection, pw: str | None, warn: Callable[[str], None]) -> RecordedState:
            try:
                return read_state(connection, pw, warn, deployed=settings.phase, stack=pulumi.get_stack())
            except PhaseRefused as refused:
                raise pulumi.RunError(str(refused)) from None

        reader = read_here
    else:
        reader = read_recorded
    owners = (schema_owners or read_schema_owners)(settings.connection, plain_password)
    refusal = problem(settings, owners)
    if refusal:
        raise pulumi.RunError(refusal)
    identities = settings.data_copy.replica_identity_full
    if identities:  # the one change to legacy the owners may ask for before phase 3: named in every preview
        pulumi.log.info(
            "consolidation:replicaIdentityFull: `python -m data_copy run` gives "
            + ", ".join(identities)
            + " REPLICA IDENTITY FULL (a catalog change on legacy: no rewrite, a brief lock; its deletes"
            " then carry their old row); `rollback` and `capture-drop` undo it"
        )
    carry_back = settings.data_copy.carry_back
    if carry_back:  # which mappings phase 2 syncs both ways, and why the others cannot
        one_way = [f"{m.name} ({m.inversion})" for m in MAPPINGS if not m.invertible]
        pulumi.log.info(
            "consolidation:carryBack: in phase 2 `python -m data_copy run` also carries the application's writes"
            f" back into legacy for {', '.join(carry_back)}"
            + (f"; one way only, as they do not invert: {'; '.join(one_way)}" if one_way else "")
        )
    names = settings.role_names
    provider = make_provider("postgresql", settings.connection, password)
    database = ConsolidatedDatabase(
        component_name,
        ConsolidatedDatabaseArgs(
            database=settings.connection.database,
            names=names,
            connection=function_connection(settings.connection, password),
            phase=settings.phase,
        ),
        # protect is inherited by every resource of the component (trap 5)
        opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(providers=[provider], protect=settings.protect), opts),
    )

    def recorded(pw: str | None) -> RecordedState:
        return reader(settings.connection, pw, pulumi.log.warn)

    # one read (and one connection) for the phase guard and both outputs below
    if password is None:
        state: pulumi.Output[RecordedState] = pulumi.Output.from_input(None).apply(recorded)
    else:
        state = pulumi.Output.unsecret(password.apply(recorded))

    return {
        "phase": settings.phase,
        "schemas": database.schema_names,
        "roles": database.role_names,
        "ownerRole": database.owner_role,
        "tableRegistry": table_registry(settings.phase, settings.data_copy.legacy_tables),
        "permissionFunctions": database.functions.summary,
        "connection": settings.connection.as_output(),
        "dataCopy": settings.data_copy.as_output(),
        "legacyDrop": legacy_drop(settings.phase),
        "validation": state.apply(lambda s: s.validations),
        "recordedPhase": state.apply(lambda s: s.phase),
    }


def program() -> None:
    """The stack program: what `__main__.py` runs, and what Automation API inline programs
    (tests, demo) run, so the Python language host is not needed to deploy the project."""
    config = current_config()
    settings = load_settings(config)
    password = pulumi.Config("postgresql").get_secret("password")
    plain = config.get("postgresql:password")
    for name, value in build_stack(settings, password, plain_password=plain).items():
        pulumi.export(name, value)
