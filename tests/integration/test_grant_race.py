"""Why components/serial.py's SerialChain exists, proven on the real server.

The provider serialises a Grant only against other operations on the SAME role
(LOCK(role): advisory locks on the role and its members). Two Grants for different roles
on one schema therefore run at the same time, and PostgreSQL rejects the second catalog
update of the schema's ACL row with "tuple concurrently updated" (upstream issue 178,
pulumi-postgresql 126). Our stack grants eight roles on each of four schemas, so without a
chain of its own the engine's parallelism would run exactly these pairs together. The 20-run
engine experiment (bench/engine.py) did not hit the window; this test aims at it directly
with the stand-in's own Grant operation, and shows the serial order removes it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest

from provider_standin import grant
from provider_standin.pg import ProviderError, Session

ROLES = ("race_a", "race_b")
BUDGET_S = 20.0  # the race shows within a second on 2 cores; the budget only bounds a slow run


def _props(role: str, dbname: str) -> dict[str, Any]:
    return {"role": role, "database": dbname, "schema": "s", "objectType": "schema", "privileges": ["USAGE"]}


@pytest.fixture
def race_dsn(fresh_dsn: str) -> str:
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA s")
        for role in ROLES:
            conn.execute(f"DROP ROLE IF EXISTS {role}")  # noqa: S608 (constant test names)
            conn.execute(f"CREATE ROLE {role}")
    yield fresh_dsn
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA s")
        for role in ROLES:
            conn.execute(f"DROP ROLE {role}")


def _grant_loop(dsn: str, role: str, stop: threading.Event, errors: list[str], applied: list[int]) -> None:
    dbname = psycopg.conninfo.conninfo_to_dict(dsn).get("dbname") or ""
    with psycopg.connect(dsn, autocommit=True) as conn:
        session = Session(conn, "Grant.create")
        while not stop.is_set():
            try:
                grant.apply(session, _props(role, str(dbname)))
                applied.append(1)
            except ProviderError as exc:
                errors.append(str(exc))
                if "tuple concurrently updated" in str(exc):
                    stop.set()


def test_parallel_grants_for_two_roles_on_one_schema_collide(race_dsn: str) -> None:
    stop, errors, applied = threading.Event(), [], []
    workers = [threading.Thread(target=_grant_loop, args=(race_dsn, r, stop, errors, applied)) for r in ROLES]
    for w in workers:
        w.start()
    stop.wait(BUDGET_S)
    stop.set()
    for w in workers:
        w.join()
    assert any("tuple concurrently updated" in e for e in errors), (len(applied), errors[:3])


def test_the_same_grants_one_after_the_other_never_collide(race_dsn: str) -> None:
    dbname = psycopg.conninfo.conninfo_to_dict(race_dsn).get("dbname") or ""
    deadline = time.monotonic() + 3.0
    n = 0
    with psycopg.connect(race_dsn, autocommit=True) as conn:
        session = Session(conn, "Grant.create")
        while time.monotonic() < deadline:
            for role in ROLES:
                grant.apply(session, _props(role, str(dbname)))  # raises on any collision
                n += 1
    assert n > 10
