"""Is legacy quiet? Statistics snapshots bracketing data_copy's own work on legacy tables.

Every command that reads legacy tables (run, validate, plan, switch, rollback) records the
cumulative pg_stat_user_tables counters of the mapped legacy tables when it starts and
when it ends (`public.migration_table_stats`), after forcing its own pending statistics
out (pg_stat_force_next_flush). Anything that moved those counters OUTSIDE our brackets
was someone else. Phase 3 (cleanup) refuses, naming table and figure:
- written: any insert, update or delete since the START of the last sync (so a write made
  while that sync ran counts too);
- read: any sequential or index scan, since the switch to phase 2, between our brackets.
What the server cannot show: reads by others during one of our runs (they fall inside our
bracket), statistics a backend has not flushed yet (PostgreSQL flushes at most once a
second, and a session's open transaction holds its own back), and what happened before a
statistics reset (pg_stat_reset, a database copied from a template): then only what was
counted since the reset is seen, and the figure says so.
"""

from dataclasses import dataclass

import psycopg
from psycopg import sql

from catalog.mappings import MAPPED_SOURCES
from data_copy.state.schema import STATS

COUNTERS = ("seq_scan", "idx_scan", "n_tup_ins", "n_tup_upd", "n_tup_del")


def legacy_tables() -> list[str]:
    return sorted(MAPPED_SOURCES)


def current(conn: psycopg.Connection) -> dict[str, dict[str, int]]:
    """relation -> counters, now (this session's own pending statistics flushed first)."""
    if conn.info.server_version >= 150000:  # before 15 the collector has its own ~0.5 s lag
        conn.execute("SELECT pg_stat_force_next_flush()")  # flushed when this statement ends
        conn.execute("SELECT 1")
    rows = conn.execute(
        sql.SQL(
            "SELECT schemaname || '.' || relname, {} FROM pg_stat_user_tables"
            " WHERE schemaname || '.' || relname = ANY(%s)"
        ).format(sql.SQL(", ").join(sql.SQL("coalesce({}, 0)").format(sql.Identifier(c)) for c in COUNTERS)),
        (legacy_tables(),),
    ).fetchall()
    return {r[0]: dict(zip(COUNTERS, (int(v) for v in r[1:]), strict=True)) for r in rows}


def snapshot(conn: psycopg.Connection, run_id: object, verb: str, moment: str) -> None:
    import json

    conn.execute(
        sql.SQL("INSERT INTO {} (run_id, verb, moment, counters) VALUES (%s, %s, %s, %s)").format(STATS),
        (str(run_id), verb, moment, json.dumps(current(conn))),
    )


@dataclass(frozen=True)
class Activity:
    table: str
    what: str  # "written" | "read"
    figure: str


def _snapshots_since(conn: psycopg.Connection, since: object) -> list[tuple[str, str, dict]]:
    return conn.execute(
        sql.SQL("SELECT verb, moment, counters FROM {} WHERE taken_at >= %s ORDER BY id").format(STATS), (since,)
    ).fetchall()


def cleanup_now(conn: psycopg.Connection) -> dict[str, dict[str, int]]:
    """The counters when the current cleanup started (its own reads come after), or now."""
    row = conn.execute(
        sql.SQL("SELECT counters FROM {} WHERE verb = 'cleanup' AND moment = 'start' ORDER BY id DESC LIMIT 1").format(
            STATS
        )
    ).fetchone()
    return row[0] if row else current(conn)


def writes_since_last_sync(conn: psycopg.Connection) -> list[Activity]:
    """Inserts, updates and deletes on mapped legacy tables since the last `run` started."""
    row = conn.execute(
        sql.SQL("SELECT counters FROM {} WHERE verb = 'run' AND moment = 'start' ORDER BY id DESC LIMIT 1").format(
            STATS
        )
    ).fetchone()
    if row is None:
        return [Activity("(all)", "unknown", "no sync recorded")]
    before, now = row[0], cleanup_now(conn)
    found = []
    for table, counters in sorted(now.items()):
        was = before.get(table)
        if was is None:
            continue
        delta, reset = _delta(counters, was, ("n_tup_ins", "n_tup_upd", "n_tup_del"))
        if any(delta.values()):
            found.append(
                Activity(
                    table,
                    "written",
                    f"{delta['n_tup_ins']} inserted, {delta['n_tup_upd']} updated, {delta['n_tup_del']} deleted"
                    + (" (since a statistics reset)" if reset else ""),
                )
            )
    return found


def reads_by_others_since(conn: psycopg.Connection, since: object) -> list[Activity]:
    """Scans of mapped legacy tables since `since` (the switch to phase 2) outside our brackets."""
    shots = _snapshots_since(conn, since)
    if not shots or shots[-1][:2] != ("cleanup", "start"):  # not called by a cleanup: up to now
        shots.append(("now", "start", current(conn)))
    totals: dict[str, int] = {}
    reset: set[str] = set()  # tables whose statistics were reset: counted since the reset
    previous: dict | None = None
    for _verb, moment, counters in shots:
        # a gap between our brackets (start -> start: a run killed before its end, counted)
        if previous is not None and moment == "start":
            for table, c in counters.items():
                was = previous.get(table)
                if was is None:
                    continue
                delta, was_reset = _delta(c, was, ("seq_scan", "idx_scan"))
                if was_reset:
                    reset.add(table)
                totals[table] = totals.get(table, 0) + delta["seq_scan"] + delta["idx_scan"]
        previous = counters
    return [
        Activity(t, "read", f"{n} scans by others" + (" (since a statistics reset)" if t in reset else ""))
        for t, n in sorted(totals.items())
        if n
    ]


def _delta(now: dict[str, int], was: dict[str, int], names: tuple[str, ...]) -> tuple[dict[str, int], bool]:
    """Counter increases; after a statistics reset (a counter went down, or the database
    was copied from a template) what was counted since the reset, and True."""
    delta = {c: now[c] - was.get(c, 0) for c in names}
    if any(v < 0 for v in delta.values()):
        return {c: now[c] for c in names}, True
    return delta, False
