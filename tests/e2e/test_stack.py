"""The project's stack on the real engine and a real (throwaway) PostgreSQL.

- phase 1 `up` on an empty database; `preview` right after shows no changes; `refresh`
  shows no drift; the database holds what the catalog says; `destroy` leaves no role,
  no new schema and no permission function behind;
- 3 consecutive up/destroy cycles from an empty database, all green (the parallel-grant
  trap; bench/engine.py measures 20 runs with and without the SerialChain); timings are
  printed (pytest -s) and kept in the test report;
- phase 1 -> 2 -> 1 switches tableRegistry and the group roles' write privileges (updated in
  place, nothing replaced), shows in stack history;
- a bad config value fails preview with one clear line.

Each test uses its own database and rolePrefix on the session's cluster.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from pulumi import automation as auto
from test_stack_support import (
    Engine,
    changes,
    functions,
    managed_roles,
    new_schemas,
    public_privileges_on_new_schemas,
    stack_on,
    unique,
)

from catalog import OWNER_ROLE, ROLES, SCHEMA_NAMES, table_registry

pytestmark = pytest.mark.e2e

CYCLES = 3  # the provider's parallel-grant trap is measured over 20 runs by bench/engine.py


def test_phase1_up_preview_refresh_destroy(
    engine: Engine,
    record_property: Callable[[str, object], None],
) -> None:
    prefix = unique("p") + "_"
    with stack_on(engine, prefix) as d:
        up, seconds = d.up()
        record_property("up_seconds", round(seconds, 1))
        print(f"\nphase 1 up on an empty database: {seconds:.1f}s {up.summary.resource_changes}")
        assert up.summary.result == "succeeded"
        out = {k: v.value for k, v in up.outputs.items()}
        assert out["phase"] == 1
        assert out["tableRegistry"] == table_registry(1)
        assert out["roles"][OWNER_ROLE] == prefix + OWNER_ROLE
        assert out["ownerRole"] == prefix + OWNER_ROLE
        assert out["schemas"] == list(SCHEMA_NAMES)
        assert out["connection"]["database"] == d.database
        assert "password" not in str(out["connection"])
        assert out["validation"] == {}, "no migration_log yet"
        assert "recordedPhase" not in out, "data_copy never ran (Pulumi leaves a null output out)"
        assert out["dataCopy"]["lockTimeout"] == "2s"

        with d.connect() as conn:
            roles = managed_roles(conn, prefix)
            assert set(roles) == {prefix + r.name for r in ROLES} | {prefix + OWNER_ROLE}
            assert not any(a["login"] or a["super"] or a["createrole"] for a in roles.values())
            assert new_schemas(conn) == {s: prefix + OWNER_ROLE for s in SCHEMA_NAMES}
            assert public_privileges_on_new_schemas(conn) == []
            fns = functions(conn)
            assert set(fns) == {"grant_user_permissions", "check_user_permissions"}
            grant = fns["grant_user_permissions"]
            assert grant["owner"] == prefix + OWNER_ROLE
            assert grant["security_definer"] is True
            assert grant["config"] == ["search_path=pg_catalog, pg_temp"]
            assert not any(a.startswith("=") for a in grant["acl"]), "no EXECUTE for PUBLIC"
            admins = conn.execute(
                "SELECT rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
                " WHERE m.member = %s::regrole AND m.admin_option",
                (prefix + OWNER_ROLE,),
            ).fetchall()
            assert {a[0] for a in admins} == {prefix + r.name for r in ROLES}

        preview = d.stack.preview(on_output=lambda _line: None)
        assert changes(preview.change_summary) == {}, f"preview after up: {preview.change_summary}"

        refresh = d.stack.refresh(on_output=lambda _line: None)
        assert refresh.summary.result == "succeeded"
        assert changes(refresh.summary.resource_changes) == {}, (
            f"refresh found drift: {refresh.summary.resource_changes}"
        )
        preview = d.stack.preview(on_output=lambda _line: None)
        assert changes(preview.change_summary) == {}, f"preview after refresh: {preview.change_summary}"

        destroy, seconds = d.destroy()
        print(f"destroy: {seconds:.1f}s")
        assert destroy.summary.result == "succeeded"
        with d.connect() as conn:
            assert managed_roles(conn, prefix) == {}
            assert new_schemas(conn) == {}
            assert functions(conn) == {}
            assert conn.execute(
                "SELECT count(*) FROM pg_default_acl WHERE defaclrole::regrole::text LIKE %s",
                (prefix + "%",),
            ).fetchone() == (0,)


def test_up_destroy_cycles(
    engine: Engine,
    record_property: Callable[[str, object], None],
) -> None:
    """The provider's "tuple concurrently updated" trap: cycles from empty, default parallelism."""
    prefix = unique("c") + "_"
    timings: list[tuple[float, float]] = []
    start = time.monotonic()
    with stack_on(engine, prefix) as d:
        for cycle in range(1, CYCLES + 1):
            up, up_s = d.up()
            assert up.summary.result == "succeeded", f"cycle {cycle}: up {up.summary}"
            with d.connect() as conn:
                assert len(managed_roles(conn, prefix)) == len(ROLES) + 1, f"cycle {cycle}"
                assert len(new_schemas(conn)) == len(SCHEMA_NAMES), f"cycle {cycle}"
            destroy, destroy_s = d.destroy()
            assert destroy.summary.result == "succeeded", f"cycle {cycle}: destroy"
            with d.connect() as conn:
                assert managed_roles(conn, prefix) == {}, f"cycle {cycle}: roles left"
                assert new_schemas(conn) == {}, f"cycle {cycle}: schemas left"
            timings.append((up_s, destroy_s))
    total = time.monotonic() - start
    record_property("cycles", CYCLES)
    record_property("cycle_seconds", [(round(u, 1), round(x, 1)) for u, x in timings])
    print(
        f"\n{CYCLES} up/destroy cycles green in {total:.0f}s; (up, destroy) seconds: "
        + ", ".join(f"({u:.1f}, {x:.1f})" for u, x in timings)
    )


def test_phase_switch_updates_privileges_and_registry_in_history(engine: Engine) -> None:
    prefix = unique("s") + "_"
    with stack_on(engine, prefix) as d:
        registries = []
        for phase in (1, 2, 1):
            d.set_phase(phase)
            up, _ = d.up()
            assert up.summary.result == "succeeded"
            registry = up.outputs["tableRegistry"].value
            assert up.outputs["phase"].value == phase
            assert registry == table_registry(phase)
            registries.append(registry)
            if len(registries) > 1:
                # issue 9: the group roles' write privileges come and go with phase 2; the
                # privileges are updated in place, nothing is created, deleted or replaced
                assert set(changes(up.summary.resource_changes)) == {"update"}, up.summary.resource_changes
        assert registries[0]["raw_betting_splits"] == "splits.raw_mlb_betting_splits"
        assert registries[1]["raw_betting_splits"] == "raw_data.raw_mlb_betting_splits"
        assert registries[2] == registries[0], "2 -> 1 is the rollback"
        assert registries[1]["legacy_raw_betting_splits"] == "splits.raw_mlb_betting_splits"

        history = d.stack.history()
        updates = [h for h in history if h.kind == "update"]
        assert len(updates) >= 3
        phases = [h.config["consolidation:phase"].value for h in reversed(updates[:3])]
        assert phases == ["1", "2", "1"], f"stack history shows the phases {phases}"
        assert all(h.result == "succeeded" for h in updates[:3])


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("consolidation:phase", "4", "consolidation:phase: '4' is not a phase; use 1, 2 or 3"),
        ("consolidation:rolePrefix", "Bad-Prefix", "consolidation:rolePrefix: 'Bad-Prefix'"),
        ("consolidation:lockTimout", "2s", "consolidation:lockTimout: unknown key"),
    ],
)
def test_bad_config_fails_preview_with_one_line(
    engine: Engine,
    key: str,
    value: str,
    words: str,
) -> None:
    prefix = unique("b") + "_"
    with stack_on(engine, prefix) as d:
        d.stack.set_config(key, auto.ConfigValue(value))
        with pytest.raises(auto.errors.CommandError) as info:
            d.stack.preview(on_output=lambda _line: None)
        text = str(info.value)
        assert words in text
        assert "Traceback" not in text
        # Each mention is the same single line (an inline program's RunError is repeated by
        # the SDK's automation server as "an unhandled error occurred: <the line>").
        lines = [line for line in text.splitlines() if "invalid stack config" in line]
        messages = {line[line.index("invalid stack config") :] for line in lines}
        assert len(messages) == 1, text
        d.stack.remove_config(key)


def test_one_table_goes_back_to_legacy_in_phase_2_and_the_preview_shows_it(engine: Engine) -> None:
    """consolidation:legacyTables (one table's rollback while phase 2 syncs it both ways):
    the preview shows the registry entry change, `up` makes it, the others stay new."""
    prefix = unique("b") + "_"
    with stack_on(engine, prefix) as d:
        d.set_phase(2)
        up, _ = d.up()
        assert up.outputs["tableRegistry"].value["moneyline"] == "core_betting.betting_lines_moneyline"
        d.stack.set_config("consolidation:carryBack", auto.ConfigValue('["moneyline"]'))
        d.stack.set_config("consolidation:legacyTables", auto.ConfigValue('["moneyline"]'))
        preview = d.stack.preview(diff=True)
        assert "mlb_betting.moneyline" in preview.stdout, preview.stdout[-3000:]
        up, _ = d.up()
        registry = up.outputs["tableRegistry"].value
        assert registry["moneyline"] == "mlb_betting.moneyline"
        assert registry["spreads"] == "core_betting.betting_lines_spreads"
        assert registry == table_registry(2, ("moneyline",))
