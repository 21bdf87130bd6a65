"""Issue 26, (5): the held-out checks, in the issue's broken state (the four schemas created
again empty, public.migration_state dropped, every other migration_* table kept) and on a
fresh database: Ctrl-C during a first copy, then a re-run, validates 14/14; of two runs at
once, one works and the other refuses in one line; afterwards 0 rejects and a passing
validate."""

import signal
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from bookkeeping_support import cli, last_line, one, q, recreate_new_schemas, rejects
from child_runs import finish, start, wait_until
from psycopg import sql

import legacy_fixture
from data_copy import api, errors
from data_copy.state import run_lock
from pgcluster import Cluster

TEMPLATE = f"held_out_tmpl_{uuid.uuid4().hex[:8]}"


def _copies_since(dsn: str, since: object) -> int:
    return int(one(dsn, "SELECT count(*) FROM migration_log WHERE step = 'copy' AND started_at >= %s", since) or 0)


def _lock_held(dsn: str) -> bool:
    return bool(
        one(
            dsn,
            "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND objid = (%s & 4294967295)::oid",
            run_lock.LOCK_KEY,
        )
    )


def _clean(dsn: str, out: str) -> None:
    assert "14/14 mappings validated" in out and " 0 rejected" in out, out[-3000:]
    assert rejects(dsn) == 0
    code, out, err = cli(dsn, "validate")
    assert code == errors.OK and "14/14 mappings validated" in out, out[-2000:] + err[-2000:]


@pytest.fixture(scope="module")
def template(pg_cluster: Cluster) -> Iterator[str]:
    dsn = pg_cluster.create_database(TEMPLATE)
    with psycopg.connect(dsn, autocommit=True) as conn:
        legacy_fixture.build(conn, "small")
    api.bootstrap_structure(dsn)
    yield TEMPLATE
    pg_cluster.drop_database(TEMPLATE)


@pytest.fixture(params=["fresh", "broken"])
def db(request: pytest.FixtureRequest, pg_cluster: Cluster, template: str) -> Iterator[str]:
    name = f"held_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    dsn = pg_cluster.dsn(name)
    if request.param == "broken":
        assert api.run(dsn).ok
        recreate_new_schemas(dsn)
        q(dsn, "DROP TABLE public.migration_state")
    yield dsn
    with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as conn:
        for (origin,) in conn.execute(
            "SELECT roname FROM pg_replication_origin WHERE strpos(roname, %s) > 0", (name,)
        ).fetchall():
            conn.execute("SELECT pg_replication_origin_drop(%s)", (origin,))
    pg_cluster.drop_database(name)


def test_ctrl_c_during_a_first_copy_then_a_rerun_validates_14_of_14(db: str) -> None:
    since = one(db, "SELECT clock_timestamp()")
    proc = start("run", "--dsn", db)
    # the first mapping's copy has begun (games: in the state, before the fix, its
    # rows collided with the stale baseline and were bisected one by one into rejects)
    wait_until(
        lambda: (
            bool(one(db, "SELECT to_regclass('public.migration_log') IS NOT NULL")) and _copies_since(db, since) >= 1
        ),
        "the run to copy",
    )
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc)
    assert code == errors.INTERRUPTED and last_line(err).startswith("interrupted: run stopped by Ctrl-C:"), err
    code, out, err = finish(start("run", "--dsn", db))
    assert code == errors.OK, out[-3000:] + err[-3000:]
    _clean(db, out)


def test_two_runs_at_once_one_works_the_other_refuses_in_one_line(db: str) -> None:
    first = start("run", "--dsn", db)
    wait_until(lambda: _lock_held(db), "the first run's lock")
    code, out, err = finish(start("run", "--dsn", db), timeout=60)
    assert code == errors.BUSY and len(err.strip().splitlines()) == 1, out + err
    assert last_line(err).startswith("error: run refused: data_copy run (pid ") and "--wait" in last_line(err)
    code, out, err = finish(first)
    assert code == errors.OK, out[-3000:] + err[-3000:]
    _clean(db, out)
