"""The resource graph built from the catalog, under Pulumi mocks (no engine, no I/O).

Checks: counts per resource type, role names with and without a prefix, schema owners,
every Grant / DefaultPrivileges against catalog.privileges(), nothing granted to PUBLIC,
one serial chain over every privilege-changing resource, every postgresql resource on the
explicit provider, the permission functions' definitions, the stack outputs, and the
fixes of the provider's traps that live in the graph: the owner role's memberships in one
resource only (trap 1), delete_before_replace on every privilege (trap 2), protected
schemas (trap 5), and the preflight refusals (traps 3 and 6, components/preflight.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pytest
from pulumi.runtime.mocks import MockMonitor

from catalog import OWNER_ROLE, ROLES, SCHEMA_NAMES, USER_TYPES, privileges, table_registry
from components.recorded_state import RecordedState
from components.stack import build_stack
from stack_settings import Connection, DataCopySettings, StackSettings

ROLE = "postgresql:index/role:Role"
SCHEMA = "postgresql:index/schema:Schema"
GRANT = "postgresql:index/grant:Grant"
DEFAULT = "postgresql:index/defaultPrivileges:DefaultPrivileges"
GRANT_ROLE = "postgresql:index/grantRole:GrantRole"
OWNER = "pulumi-python:dynamic/consolidation:OwnerRole"
PROVIDER = "pulumi:providers:postgresql"
SQL_FUNCTION = "pulumi-python:dynamic/consolidation:SqlFunction"
PRIVILEGE_TYPES = {GRANT, DEFAULT, GRANT_ROLE, SQL_FUNCTION, OWNER}

# 20 (role, schema) pairs with access in the guide's table.
PAIRS = sum(1 for r in ROLES for s in SCHEMA_NAMES if privileges(r, s))


@dataclass
class Registered:
    typ: str
    name: str
    urn: str
    inputs: dict[str, Any]
    provider: str
    dependencies: list[str]
    delete_before_replace: bool = False
    protect: bool = False


@dataclass
class Graph:
    resources: list[Registered] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def of(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.typ == typ]


class _Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        return {}


class _Monitor(MockMonitor):
    """Records every registration with its dependencies (MockResourceArgs has none)."""

    def __init__(self, mocks: pulumi.runtime.Mocks, graph: Graph) -> None:
        super().__init__(mocks)
        self.graph = graph

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC name)
        response = super().RegisterResource(request)
        if request.custom:
            self.graph.resources.append(
                Registered(
                    typ=request.type,
                    name=request.name,
                    urn=response.urn,
                    inputs=dict(self.resources[response.urn].state) if response.urn in self.resources else {},
                    provider=request.provider,
                    dependencies=list(request.dependencies),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    protect=bool(request.protect),
                )
            )
        return response


def _settings(prefix: str = "", phase: int = 1) -> StackSettings:
    return StackSettings(
        phase=phase,
        role_prefix=prefix,
        connection=Connection("db.example", 5433, "mlb_betting", "postgres", "require"),
        data_copy=DataCopySettings(disposable_tables=("public.scratch",)),
    )


def _no_validations(*_args: Any) -> RecordedState:
    return RecordedState(phase=1, validations={"raw_betting_splits": {"status": "passed"}})


def _no_schemas(*_args: Any) -> dict[str, str]:
    return {}


def build(prefix: str = "", phase: int = 1) -> Graph:
    graph = Graph()
    pulumi.runtime.set_mocks(
        _Mocks(),
        project="consolidation",
        stack="unit",
        preview=False,
        monitor=_Monitor(_Mocks(), graph),
    )

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        outputs = build_stack(
            _settings(prefix, phase), pulumi.Output.secret("s3cret"), _no_validations, schema_owners=_no_schemas
        )
        return pulumi.Output.all(**outputs).apply(graph.outputs.update)

    program()
    return graph


@pytest.fixture(scope="module")
def plain() -> Graph:
    return build()


@pytest.fixture(scope="module")
def prefixed() -> Graph:
    return build("stk2_")


def test_counts(plain: Graph) -> None:
    assert len(plain.of(PROVIDER)) == 1
    assert len(plain.of(ROLE)) == len(ROLES)
    assert len(plain.of(OWNER)) == 1
    assert len(plain.of(SCHEMA)) == 4
    assert len(plain.of(GRANT)) == PAIRS * 4  # schema, table, sequence, function
    assert len(plain.of(DEFAULT)) == PAIRS * 3 + 1  # table, sequence, function + PUBLIC revoke
    assert len(plain.of(GRANT_ROLE)) == 0, "the owner's memberships: the OwnerRole resource only"
    assert len(plain.of(SQL_FUNCTION)) == 2
    assert PAIRS == 20


@pytest.mark.parametrize("prefix", ["", "stk2_"])
def test_role_names(prefix: str, plain: Graph, prefixed: Graph) -> None:
    graph = prefixed if prefix else plain
    names = {r.inputs["name"] for r in graph.of(ROLE)}
    assert names == {prefix + r.name for r in ROLES}
    assert all(r.inputs.get("login") is False for r in graph.of(ROLE)), "all roles are NOLOGIN"
    assert all(not r.inputs.get("roles") for r in graph.of(ROLE)), "no membership through postgresql.Role"
    owner = graph.of(OWNER)[0].inputs
    assert owner["name"] == prefix + OWNER_ROLE
    assert sorted(owner["groups"]) == sorted(prefix + r.name for r in ROLES)
    assert graph.outputs["roles"] == {
        **{r.name: prefix + r.name for r in ROLES},
        OWNER_ROLE: prefix + OWNER_ROLE,
    }
    assert graph.outputs["ownerRole"] == prefix + OWNER_ROLE


def test_prefix_reaches_every_role_reference(prefixed: Graph) -> None:
    unprefixed = {r.name for r in ROLES} | {OWNER_ROLE}
    for res in prefixed.resources:
        for key in ("role", "owner", "grantRole", "name"):
            if key == "name" and res.typ != OWNER:
                continue
            value = res.inputs.get(key)
            assert value not in unprefixed, f"{res.name}.{key} = {value} lacks the prefix"
    for fn in prefixed.of(SQL_FUNCTION):
        for name in unprefixed:
            assert f"'{name}'" not in fn.inputs["body"], f"{fn.name} names {name} unprefixed"


def test_schemas_owned_by_owner_role(plain: Graph) -> None:
    schemas = {s.inputs["name"]: s.inputs for s in plain.of(SCHEMA)}
    assert set(schemas) == set(SCHEMA_NAMES)
    for inputs in schemas.values():
        assert inputs["owner"] == OWNER_ROLE
        assert inputs["database"] == "mlb_betting"
        assert inputs["dropCascade"] is False, "destroy must never drop data"
    assert plain.outputs["schemas"] == list(SCHEMA_NAMES)


def _catalog_privileges(prefix: str, object_types: tuple[str, ...]) -> dict[tuple[str, str, str], set[str]]:
    """(prefixed role, schema, object type) -> the catalog's phase-1 privileges, for every
    (role, schema) pair the catalog gives access."""
    expected: dict[tuple[str, str, str], set[str]] = {}
    for role in ROLES:
        for schema in SCHEMA_NAMES:
            p = privileges(role, schema, 1)
            if p is None:
                continue
            for object_type in object_types:
                expected[(prefix + role.name, schema, object_type)] = set(getattr(p, object_type))
    return expected


@pytest.mark.parametrize("prefix", ["", "stk2_"])
def test_grants_equal_catalog(prefix: str, plain: Graph, prefixed: Graph) -> None:
    graph = prefixed if prefix else plain
    expected = _catalog_privileges(prefix, ("schema", "table", "sequence", "function"))
    actual = {
        (g.inputs["role"], g.inputs["schema"], g.inputs["objectType"]): set(g.inputs["privileges"])
        for g in graph.of(GRANT)
    }
    assert actual == expected
    for g in graph.of(GRANT):
        assert not g.inputs.get("objects"), "no object list: all objects of the schema"
        assert g.inputs["database"] == "mlb_betting"


@pytest.mark.parametrize("prefix", ["", "stk2_"])
def test_default_privileges_equal_catalog(prefix: str, plain: Graph, prefixed: Graph) -> None:
    graph = prefixed if prefix else plain
    expected = _catalog_privileges(prefix, ("table", "sequence", "function"))
    per_schema = [d for d in graph.of(DEFAULT) if d.inputs.get("schema")]
    actual = {
        (d.inputs["role"], d.inputs["schema"], d.inputs["objectType"]): set(d.inputs["privileges"]) for d in per_schema
    }
    assert actual == expected
    for d in graph.of(DEFAULT):
        assert d.inputs["owner"] == prefix + OWNER_ROLE, "defaults are for what the owner creates"


def test_public_gets_nothing(plain: Graph) -> None:
    public = [r for r in plain.of(GRANT) + plain.of(DEFAULT) if r.inputs["role"].lower() == "public"]
    assert len(public) == 1, "only the revoke of EXECUTE on new functions"
    revoke = public[0].inputs
    assert revoke["objectType"] == "function"
    assert revoke["privileges"] == []
    assert not revoke.get("schema"), "global: a per-schema default cannot revoke a global one"


def test_one_serial_chain_over_privilege_changes(plain: Graph) -> None:
    """Every Grant/DefaultPrivileges/function/owner membership waits for the previous one: a
    total order (a member may also depend on an earlier one, e.g. on the owner role)."""
    chain = {r.urn: r for r in plain.resources if r.typ in PRIVILEGE_TYPES}
    assert len(chain) == PAIRS * 7 + 1 + 1 + 2
    before = {urn: {d for d in r.dependencies if d in chain} for urn, r in chain.items()}
    first = [urn for urn, deps in before.items() if not deps]
    assert len(first) == 1, f"{len(first)} privilege resources could start in parallel"
    done, current = {first[0]}, first[0]
    while len(done) < len(chain):
        ready = [u for u, deps in before.items() if u not in done and current in deps and deps <= done]
        assert len(ready) == 1, f"{len(ready)} resources can run right after {chain[current].name}: a fork"
        current = ready[0]
        done.add(current)


def test_everything_on_the_explicit_provider(plain: Graph) -> None:
    provider = plain.of(PROVIDER)[0]
    assert provider.inputs["host"] == "db.example"
    # provider config travels as strings
    assert str(provider.inputs["port"]) == "5433"
    assert provider.inputs["database"] == "mlb_betting"
    assert provider.inputs["username"] == "postgres"
    assert provider.inputs["sslmode"] == "require"
    assert str(provider.inputs["superuser"]).lower() == "true"
    for res in plain.resources:
        if res.typ.startswith("postgresql:"):
            assert res.provider.startswith(provider.urn + "::"), f"{res.name} uses another provider"


def test_permission_functions(plain: Graph) -> None:
    fns = {f.inputs["name"]: f.inputs for f in plain.of(SQL_FUNCTION)}
    grant, check = fns["grant_user_permissions"], fns["check_user_permissions"]
    for fn in (grant, check):
        assert fn["schema"] == "public"
        assert fn["owner"] == OWNER_ROLE
        assert fn["searchPath"] == ["pg_catalog", "pg_temp"]
    assert grant["securityDefiner"] is True
    assert grant["executeRoles"] == ["system_administrators"]
    assert grant["publicExecute"] is False
    assert [a[1] for a in grant["args"]] == ["text", "text"]
    for user_type, role in USER_TYPES.items():
        assert f"WHEN '{user_type}' THEN '{role}'" in grant["body"]
    assert "format('GRANT %I TO %I'" in grant["body"]
    assert check["securityDefiner"] is False
    assert check["publicExecute"] is True
    assert check["returns"].startswith("TABLE(schema_name text, can_usage boolean")
    for schema in SCHEMA_NAMES:
        assert f"'{schema}'" in check["body"]
    assert plain.outputs["permissionFunctions"]["grant"] == "public.grant_user_permissions(text, text)"
    assert plain.outputs["permissionFunctions"]["userTypes"]["collector"] == "data_collectors"


@pytest.mark.parametrize("phase", [1, 2, 3])
def test_outputs_per_phase(phase: int) -> None:
    graph = build("out_", phase)
    out = graph.outputs
    assert out["phase"] == phase
    assert out["tableRegistry"] == table_registry(phase)
    expected_split = "splits.raw_mlb_betting_splits" if phase == 1 else "raw_data.raw_mlb_betting_splits"
    assert out["tableRegistry"]["raw_betting_splits"] == expected_split
    assert out["tableRegistry"]["legacy_raw_betting_splits"] == "splits.raw_mlb_betting_splits"
    assert out["connection"] == {
        "host": "db.example",
        "port": 5433,
        "database": "mlb_betting",
        "username": "postgres",
        "sslmode": "require",
    }
    assert "password" not in str(out["connection"])
    assert out["dataCopy"]["disposableTables"] == ["public.scratch"]
    assert out["dataCopy"]["lockTimeout"] == "2s"
    assert out["validation"] == {"raw_betting_splits": {"status": "passed"}}
    assert out["recordedPhase"] == 1
    if phase == 3:
        assert "splits.raw_mlb_betting_splits" in out["legacyDrop"]["tables"]
        assert "public" not in out["legacyDrop"]["schemas"]
        assert "splits" in out["legacyDrop"]["schemas"]
    else:
        assert out["legacyDrop"] == {"tables": [], "schemas": []}


@pytest.fixture(autouse=True, scope="module")
def _reset_runtime() -> Iterator[None]:
    yield
    pulumi.runtime.settings.reset_options()


def test_phase_1_grants_read_only_phase_2_the_guide() -> None:
    """Issue 9: the group roles only read in phase 1; their write privileges start in phase 2."""
    writes = {"INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "CREATE"}
    one, two = build("ph_", 1), build("ph_", 2)
    for graph, phase in ((one, 1), (two, 2)):
        for g in graph.of(GRANT) + [d for d in graph.of(DEFAULT) if d.inputs.get("schema")]:
            privs = set(g.inputs["privileges"])
            if phase == 1:
                assert not privs & writes, f"{g.name} grants {privs & writes} in phase 1"
                assert not (g.inputs["objectType"] == "sequence" and privs - {"SELECT"}), g.name
    full = {
        (g.inputs["role"], g.inputs["schema"], g.inputs["objectType"]): set(g.inputs["privileges"])
        for g in two.of(GRANT)
    }
    assert full[("ph_system_administrators", "analytics", "schema")] == {"CREATE", "USAGE"}
    assert full[("ph_mlb_betting_app", "raw_data", "table")] == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert full[("ph_data_collectors", "raw_data", "sequence")] == {"SELECT", "USAGE"}


def test_every_privilege_is_delete_before_replace(plain: Graph) -> None:
    """Trap 2: a create-before-delete replacement is revoked by the old resource's Delete."""
    for res in plain.of(GRANT) + plain.of(DEFAULT) + plain.of(OWNER) + plain.of(SQL_FUNCTION):
        if res.typ in (GRANT, DEFAULT):
            assert res.delete_before_replace, f"{res.name} would be replaced create-before-delete"


def test_every_database_resource_is_protected(plain: Graph) -> None:
    """Trap 5: `pulumi destroy` is refused (protect) before any grant is revoked."""
    for res in plain.resources:
        if res.typ != PROVIDER:
            assert res.protect, f"{res.name} is not protected"


@pytest.mark.parametrize(
    ("owners", "adopt", "words"),
    [
        ({}, (), None),
        ({"raw_data": "pp_consolidation_owner"}, (), None),
        ({"raw_data": "old_consolidation_owner"}, (), "deployed with 'old_'"),
        ({"core_betting": "consolidation_owner"}, (), "deployed with ''"),
        ({"raw_data": "alice"}, (), "schema raw_data already exists"),
        ({"raw_data": "alice"}, ("raw_data",), None),
        ({"raw_data": "alice", "analytics": "bob"}, ("raw_data",), "schema analytics already exists"),
    ],
)
def test_preflight_refusals(owners: dict[str, str], adopt: tuple[str, ...], words: str | None) -> None:
    from components.preflight import problem

    settings = StackSettings(
        phase=1,
        role_prefix="pp_",
        connection=Connection("db.example", 5433, "mlb_betting", "postgres", "require"),
        adopt_existing_schemas=adopt,
    )
    refusal = problem(settings, owners)
    if words is None:
        assert refusal is None
    else:
        assert refusal is not None and words in refusal and "\n" not in refusal
