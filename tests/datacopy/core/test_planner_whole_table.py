"""planner.whole_table on a real server: what a whole-table hash statement runs with, and
that every setting is put back, inside a transaction and on an idle autocommit connection."""

import psycopg

from data_copy.core import planner
from data_copy.core.connection import connect
from data_copy.settings import Settings

NAMES = ("jit", "jit_optimize_above_cost", "jit_inline_above_cost", "max_parallel_workers_per_gather")


def _settings(conn: psycopg.Connection) -> dict[str, str]:
    return {n: str(conn.execute("SELECT current_setting(%s)", (n,)).fetchone()[0]) for n in NAMES}  # type: ignore[index]


def _plan(conn: psycopg.Connection) -> str:
    rows = conn.execute(
        "EXPLAIN (ANALYZE) SELECT count(*), sum(hashint8extended(g, 1) # hashint8extended(g, 2)) FROM big AS g"
    ).fetchall()
    return "\n".join(r[0] for r in rows)


def test_whole_table_statements_get_jit_and_no_more_processes_than_cpus(fresh_dsn: str) -> None:
    conn = connect(fresh_dsn, Settings())
    try:
        conn.execute("CREATE TABLE big AS SELECT g::bigint AS g FROM generate_series(1, 200000) AS g")
        conn.execute("ANALYZE big")
        # a plan cheap enough to be JIT-compiled here, and parallel query forced on this small table
        for name, value in (
            ("jit_above_cost", "0"),
            ("max_parallel_workers_per_gather", "4"),
            ("parallel_setup_cost", "0"),
            ("parallel_tuple_cost", "0"),
            ("min_parallel_table_scan_size", "0"),
        ):
            conn.execute("SELECT set_config(%s, %s, false)", (name, value))
        session = _settings(conn)
        assert session["jit"] == "off"  # core/connection.py turns it off for every other statement
        assert "JIT:" not in _plan(conn)

        planner._cpus[conn] = (2, "test")  # a 2-core server: one worker beside the leader
        with planner.whole_table(conn):
            # (true only while jit is on)
            assert conn.execute("SELECT pg_jit_available()").fetchone() == (True,), "the test server has no JIT"
            inside = _settings(conn)
            plan = _plan(conn)
        assert inside == {
            "jit": "on",
            "jit_optimize_above_cost": "0",
            "jit_inline_above_cost": "-1",
            "max_parallel_workers_per_gather": "1",
        }
        assert "Workers Planned: 1" in plan
        assert "Optimization true" in plan and "Inlining false" in plan
        assert _settings(conn) == session  # put back on the idle autocommit connection

        planner._cpus[conn] = (16, "test")  # enough CPUs: the server's own setting stands
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            with planner.whole_table(conn):
                assert _settings(conn)["max_parallel_workers_per_gather"] == "4"
                assert "Workers Planned: 4" in _plan(conn)
            assert _settings(conn) == session  # put back inside the caller's transaction
        assert _settings(conn) == session
    finally:
        conn.close()


def test_server_cpus_reads_the_servers_cpu_list(fresh_dsn: str) -> None:
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        cpus, how = planner.server_cpus(conn)
    assert how == "server's online CPUs"  # the test role is a superuser
    with open("/sys/devices/system/cpu/online") as f:  # the test server runs on this machine
        assert cpus == planner._count_cpus(f.read())
