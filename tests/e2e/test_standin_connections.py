"""The provider's connections, held to upstream (issue 28, items 1 and 7): sslmode as lib/pq
v1.12.3 takes it, no connection kept for reuse, max_connections = 0 as unlimited, and the
fallback application name. Each test names the upstream lines it follows.

Upstream = cyrilgdn/terraform-provider-postgresql at ff936b9 (`postgresql/...`); lib/pq at
v1.12.3, which that commit's go.mod pins.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pulumi
import pytest
from psycopg import sql
from pulumi import automation as auto
from standin_support import Background, Mini
from test_stack_support import Engine

pytestmark = pytest.mark.e2e

PROVIDER_APP = "Terraform provider"
WAIT_S = 60.0


def test_sslmode_prefer_and_allow_connect_as_lib_pq_does(mini: Mini, engine: Engine) -> None:
    """lib/pq v1.12.3 accepts `prefer` and `allow` (connector.go:49-72, `sslModes`; CHANGELOG
    v1.12.0 "Support sslmode=prefer and sslmode=allow"): `prefer` tries TLS and, when that
    fails, connects again without it (conn.go:279-283); `allow` starts without TLS
    (ssl.go:82). The provider passes sslmode through unchecked (provider.go:139-143,
    config.go:221-229). The test server has no TLS, so both connect without it."""

    def body(pg: Any, _opts: pulumi.ResourceOptions, _db: str) -> None:
        for mode in ("prefer", "allow"):
            provider = engine.provider(f"p-{mode}", sslmode=mode)
            pg.Role(f"r-{mode}", name=f"si_{mode}", opts=pulumi.ResourceOptions(provider=provider))

    mini.declare["body"] = body
    assert mini.up().summary.result == "succeeded"
    assert mini.sql("SELECT rolname FROM pg_roles WHERE rolname IN ('si_prefer', 'si_allow') ORDER BY 1") == [
        ("si_allow",),
        ("si_prefer",),
    ]


def test_a_bad_sslmode_fails_at_the_first_connection_not_in_preview(mini: Mini, engine: Engine) -> None:
    """A value lib/pq does not know fails when the driver parses the DSN, at the first
    connection (lib/pq connector.go:884-885: `pq: wrong value for "sslmode": ... is not
    supported; supported values are ...`, the list joined by internal/pqutil Join), which
    upstream's Connect wraps (config.go:305-309: `error connecting to PostgreSQL server
    <host> (scheme: postgres): ...`). Configure does not check it (provider.go:333-341), so a
    preview, which connects to nothing, passes."""

    def body(pg: Any, _opts: pulumi.ResourceOptions, _db: str) -> None:
        provider = engine.provider("p-bad", sslmode="bogus")
        pg.Role("r", name="si_bogus", opts=pulumi.ResourceOptions(provider=provider))

    mini.declare["body"] = body
    preview = mini.preview()  # passes: it connects to nothing
    assert preview.change_summary.get("create") == 4, preview.change_summary  # stack, 2 providers, role
    with pytest.raises(auto.errors.CommandError) as info:
        mini.up()
    expected = (
        f"error connecting to PostgreSQL server {engine.cluster.host} (scheme: postgres): "
        'pq: wrong value for "sslmode": "bogus" is not supported; supported values are '
        "disable, allow, prefer, require, verify-full, or verify-ca"
    )
    assert expected in str(info.value), str(info.value)
    assert mini.sql("SELECT count(*) FROM pg_roles WHERE rolname = 'si_bogus'") == [(0,)]


def _sessions(engine: Engine) -> int:
    """pg_stat_database.sessions of the test's database, read from another database."""
    with psycopg.connect(engine.cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (engine.database,)).fetchone()
    assert row is not None
    return int(row[0])


def _units(entries: list[dict[str, Any]]) -> int:
    """Connections the real provider would open for these statements: one per transaction,
    one per statement outside a transaction (the ping and `SELECT VERSION()` included)."""
    units, in_txn = 0, set()
    for entry in entries:
        thread, statement = entry["thread"], entry["sql"]
        if statement == "BEGIN":
            in_txn.add(thread)
            units += 1
        elif statement.startswith(("COMMIT", "ROLLBACK")):
            in_txn.discard(thread)
        elif thread not in in_txn:
            units += 1
    return units


def test_no_connection_is_kept_for_reuse(mini: Mini, engine: Engine) -> None:
    """Upstream's Connect sets `db.SetMaxIdleConns(0)` (config.go:311-315, "we don't keep
    opened connection"): database/sql then closes every connection when its statement or
    transaction ends, so each transaction, and each statement outside one, is a session of
    its own. Checked on the server: pg_stat_database.sessions grows by that number."""

    def body(pg: Any, opts: pulumi.ResourceOptions, db: str) -> None:
        owner = pg.Role("o", name="si_o", opts=opts)
        reader = pg.Role("r", name="si_r", opts=opts)
        schema = pg.Schema("s", name="si_s", owner=owner.name, database=db, opts=opts)
        pg.Grant(
            "g",
            role=reader.name,
            database=db,
            schema=schema.name,
            object_type="schema",
            privileges=["USAGE"],
            opts=opts,
        )

    mini.declare["body"] = body
    before = _sessions(engine)
    mini.up()
    if not mini.standin:
        assert _sessions(engine) - before >= 8, "at least one session per operation"
        return
    expected = _units(mini.entries())
    deadline = time.monotonic() + 10
    while _sessions(engine) - before < expected and time.monotonic() < deadline:
        time.sleep(0.2)  # a closed session's statistics arrive when its backend exits
    assert _sessions(engine) - before == expected, "one session per transaction or lone statement"


def _waiting_on_advisory_locks(dsn: str, database: str) -> list[str]:
    """application_name of the sessions of `database` waiting for an advisory lock."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT application_name FROM pg_stat_activity WHERE datname = %s"
            " AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
            (database,),
        ).fetchall()
    return [str(r[0]) for r in rows]


def test_max_connections_zero_is_unlimited_and_sessions_say_terraform_provider(mini: Mini, engine: Engine) -> None:
    """`max_connections` "Zero means unlimited" (provider.go:188-193), as database/sql's
    SetMaxOpenConns(0) (config.go:316); the connection string carries
    `fallback_application_name=Terraform provider` (provider.go:383, config.go:231-233).
    Two Grants of two roles run at once on such a provider: with both roles' advisory locks
    held here, both Grants' LOCK(role) (helpers.go:586-603) must be seen waiting together.
    (Each on a schema of its own: two on one schema would collide, trap 7.)"""
    for role in ("si_a", "si_b"):
        mini.sql(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
        mini.sql(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(role)))

    def body(pg: Any, _opts: pulumi.ResourceOptions, db: str) -> None:
        unlimited = pulumi.ResourceOptions(provider=engine.provider("p0", max_connections=0))
        for role in ("si_a", "si_b"):
            pg.Grant(
                role,
                role=role,
                database=db,
                schema=role,
                object_type="schema",
                privileges=["USAGE"],
                opts=unlimited,
            )

    mini.declare["body"] = body
    with psycopg.connect(engine.dsn, autocommit=True) as holder:
        for role in ("si_a", "si_b"):
            holder.execute("SELECT pg_advisory_lock(oid::bigint) FROM pg_roles WHERE rolname = %s", (role,))
        up = Background(mini.up)
        waiting: list[str] = []
        deadline = time.monotonic() + WAIT_S
        while len(waiting) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            waiting = _waiting_on_advisory_locks(engine.dsn, engine.database)
        holder.execute("SELECT pg_advisory_unlock_all()")
    result = up.result(WAIT_S)
    assert result.summary.result == "succeeded"
    assert waiting == [PROVIDER_APP, PROVIDER_APP], "both Grants waited at once, as 'Terraform provider'"
