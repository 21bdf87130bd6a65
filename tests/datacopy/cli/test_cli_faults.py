"""Faults while a command runs, as a user causes them: Ctrl-C, two runs at once, kill -9,
the server stopping. Each ends in one line and its exit code; a re-run completes and
accounts for every legacy row."""

import signal
import time
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from child_runs import finish, start, wait_until
from psycopg import sql

from data_copy import api, errors
from data_copy.state import run_lock
from pgcluster import Cluster, ServerSettings

TEMPLATE = f"faults_tmpl_{uuid.uuid4().hex[:8]}"


def _one(dsn: str, query: str, params: tuple = ()) -> object:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def copying(dsn: str, after: int = 2) -> Callable[[], bool]:
    """True once `after` copy steps have started (the run is well into copying)."""

    def check() -> bool:
        exists = _one(dsn, "SELECT to_regclass('public.migration_log') IS NOT NULL")
        return bool(exists) and int(_one(dsn, "SELECT count(*) FROM migration_log WHERE step = 'copy'") or 0) >= after

    return check


def lock_held(dsn: str) -> bool:
    return bool(
        _one(
            dsn,
            "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND objid = (%s & 4294967295)::oid",
            (run_lock.LOCK_KEY,),
        )
    )


def accounted(dsn: str) -> None:
    """After a complete run: no step left running; copied + rejected = legacy rows."""
    assert _one(dsn, "SELECT count(*) FROM migration_log WHERE status = 'running'") == 0
    results = api.validate(dsn)
    with psycopg.connect(dsn) as conn:
        for r in results:
            rejected = conn.execute(
                "SELECT count(*) FROM migration_rejects WHERE mapping = %s OR mapping LIKE %s", (r.name, r.name + "/%")
            ).fetchone()
            assert rejected is not None and r.target_count + rejected[0] == r.source_count, r.name


@pytest.fixture(scope="module")
def template(pg_cluster: Cluster) -> Iterator[str]:
    import legacy_fixture

    dsn = pg_cluster.create_database(TEMPLATE)
    with psycopg.connect(dsn, autocommit=True) as conn:
        legacy_fixture.build(conn, "small")
    api.bootstrap_structure(dsn)
    yield TEMPLATE
    pg_cluster.drop_database(TEMPLATE)


@pytest.fixture
def db(pg_cluster: Cluster, template: str) -> Iterator[str]:
    name = f"faults_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    yield pg_cluster.dsn(name)
    pg_cluster.drop_database(name)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_exits_130_in_one_line_and_a_rerun_completes(db: str, sig: signal.Signals) -> None:
    proc = start("run", "--dsn", db)
    wait_until(copying(db), what="the run to copy")
    proc.send_signal(sig)
    code, _, err = finish(proc)
    assert code == errors.INTERRUPTED
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted: run stopped by Ctrl-C:") and "run the same command again" in last
    assert _one(db, "SELECT count(*) FROM migration_log WHERE status = 'running'") == 0
    assert int(_one(db, "SELECT count(*) FROM migration_log WHERE status = 'interrupted'") or 0) >= 1
    code, out, _ = finish(start("run", "--dsn", db))
    assert code in (errors.OK, errors.NOT_VALIDATED) and "mappings validated" in out
    accounted(db)


def test_two_runs_at_once_the_second_refuses_naming_the_first_or_waits(db: str) -> None:
    # paced, so that it still runs while the three commands below start (an unpaced first
    # copy of this fixture can end in about as long as they take to start)
    first = start("run", "--dsn", db, "--pace", "500ms")
    wait_until(lambda: lock_held(db), what="the first run's lock")
    started = time.monotonic()
    code, _, err = finish(start("run", "--dsn", db), timeout=60)
    assert code == errors.BUSY and time.monotonic() - started < 30
    last = err.strip().splitlines()[-1]
    assert f"pid {first.pid} on host " in last and "started at" in last and "--wait" in last
    code, _, err = finish(start("validate", "--dsn", db))
    assert code == errors.BUSY
    waiting = start("validate", "--dsn", db, "--wait")
    first_code, _, _ = finish(first)
    assert first_code in (errors.OK, errors.NOT_VALIDATED)
    code, out, err = finish(waiting)
    assert "waiting for data_copy run" in err and code == first_code and "mappings validated" in out
    accounted(db)


def test_a_killed_run_leaves_rows_that_the_next_run_marks_interrupted(db: str) -> None:
    proc = start("run", "--dsn", db)
    wait_until(copying(db), what="the run to copy")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert int(_one(db, "SELECT count(*) FROM migration_log WHERE status = 'running'") or 0) >= 1
    code, _, err = finish(start("run", "--dsn", db))  # its backend may still hold the lock: ended
    assert code in (errors.OK, errors.NOT_VALIDATED)
    message = _one(db, "SELECT error_message FROM migration_log WHERE status = 'interrupted' LIMIT 1")
    assert message is not None and "killed or crashed" in str(message)
    accounted(db)


def test_the_server_stopping_mid_run_is_one_line_exit_5() -> None:
    import legacy_fixture

    with Cluster.throwaway(settings=ServerSettings.for_tests()) as cluster:
        dsn = cluster.create_database("stopping")
        with psycopg.connect(dsn, autocommit=True) as conn:
            legacy_fixture.build(conn, "small")
        api.bootstrap_structure(dsn)
        proc = start("run", "--dsn", dsn)
        wait_until(copying(dsn), what="the run to copy")
        cluster.stop(mode="immediate")
        code, _, err = finish(proc)
        assert code == errors.DATABASE, err
        last = err.strip().splitlines()[-1]
        assert last.startswith("error: ") and ("connection" in last or "shut down" in last), last
