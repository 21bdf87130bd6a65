"""A first copy's settles on a second session (data_copy/sync/overlap.py), on real PostgreSQL.

- the overlapped first copy writes exactly what the one-session copy writes, and passes;
- the second session's writes carry our second replication origin: change capture does
  not count them as someone else's writes to the new tables, while a plain session's are;
- a settle that fails on the second session stops the ones queued after it, and its own
  error is the one the run raises;
- the copy order keeps every parent and every table a mapping reads before it;
- after a kill -9, the next command ends the killed process's sessions that the server
  still runs (the second one's statement goes on until it ends), and no live one's.
"""

import os
import signal
import subprocess
import sys
import time
from functools import partial
from typing import Any

import psycopg
import pytest
import queries
from psycopg import sql

from bench import structure as bench_structure
from catalog.mappings import MAPPINGS, copy_order
from catalog.tables import TABLES, table
from data_copy import api
from data_copy.capture import slot as capture_slot
from data_copy.capture import stream
from data_copy.core.connection import connect
from data_copy.core.ident import ident
from data_copy.mapping_sql import indexes
from data_copy.mapping_sql.projection import parts
from data_copy.settings import Settings
from data_copy.state import run_lock
from data_copy.sync import index_builds, overlap
from data_copy.sync.copier import Copier
from data_copy.validation import part_check

ML = "core_betting.betting_lines_moneyline"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


q = partial(queries.q, flushed=True)  # committed is flushed: the slot can see it at once


def contents(dsn: str) -> dict[str, tuple]:
    """Every part's target rows: count and checksum, as validation computes them (the
    columns a copy writes; not the ids and timestamps the new tables assign)."""
    with connect(dsn, Settings()) as conn:
        out: dict[str, tuple] = {p.name: part_check.target_totals(conn, p) for m in MAPPINGS for p in parts(m)}
        out["rejects"] = tuple(conn.execute("SELECT count(*) FROM public.migration_rejects").fetchone() or ())
    return out


def test_the_overlapped_first_copy_writes_what_one_session_writes(
    small_legacy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = api.run(small_legacy, Settings(overlap=False))
    assert one.ok, [r.message for r in one.results if r.message]
    assert not any("second session" in n for n in one.notes), one.notes
    alone = contents(small_legacy)
    bench_structure.reset(small_legacy, Settings())
    calls: list[tuple[int, tuple[str, ...], tuple[str, ...], frozenset[str]]] = []
    complete = index_builds.complete

    def spy(conn: psycopg.Connection, *args: object, **kw: Any) -> dict[str, list[str]]:
        tables = kw.get("tables", TABLES)
        calls.append(
            (
                conn.info.backend_pid,
                tuple(t.qualified for t in tables),
                kw.get("kinds", ()),
                kw["indexed"] if "indexed" in kw else frozenset(),
            )
        )
        return complete(conn, *args, **kw)

    monkeypatch.setattr(index_builds, "complete", spy)
    two = api.run(small_legacy, Settings())
    assert two.ok, [r.message for r in two.results if r.message]
    assert f"{len(MAPPINGS)} mapping(s) settled on a second session while the next ones copied" in two.notes
    assert contents(small_legacy) == alone
    # every target's indexes were built by the second session after its settle; the main
    # session built the foreign keys (and no index twice) at the end
    *early, last = calls
    assert sorted(t for _, (t,), kinds, _ in early if kinds == ("index",)) == sorted(m.target for m in MAPPINGS)
    assert {pid for pid, *_ in early} != {last[0]} and len({pid for pid, *_ in early}) == 1
    assert last[1] == tuple(t.qualified for t in TABLES) and last[3] == {m.target for m in MAPPINGS}
    with psycopg.connect(small_legacy) as conn:
        assert {t.qualified: indexes.missing(conn, t) for t in TABLES} == {t.qualified: [] for t in TABLES}
    assert [(r.name, r.source_count, r.target_count) for r in two.results] == [
        (r.name, r.source_count, r.target_count) for r in one.results
    ]
    # the journal finished every mapping's entry, in copy order, and validated them all
    steps = q(
        small_legacy,
        "SELECT mapping, status FROM migration_log WHERE run_id = %s AND step = 'copy' ORDER BY id",
        two.run_id,
    )
    assert steps == [(m.name, "completed") for m in overlap.order(copy_order())]
    assert all(r.status == "passed" for r in api.validate(small_legacy))


def test_the_second_sessions_writes_are_ours_to_change_capture(tiny_synced: str) -> None:
    settings = Settings()
    moneyline = next(m for m in MAPPINGS if m.target == ML)
    notes: list[str] = []
    conn = connect(tiny_synced, settings)
    cap = stream.start(conn, settings, notes.append)
    assert cap is not None and cap.origin, notes
    second = overlap.Overlap(conn, tiny_synced, settings, Copier(conn, "test", phase=1), cap, 1)
    try:
        assert second.takes(parts(moneyline), first_copied=True)
        update = sql.SQL("UPDATE {} SET home_ml = home_ml WHERE id = (SELECT min(id) FROM {})").format(
            ident(ML), ident(ML)
        )
        done = second.submit(ML, lambda c, copier, hasher: c.execute(update).rowcount)
        second.drain()
        assert done.result() == 1
        assert capture_slot.foreign_writes(conn, settings, [ML]) == {}
        q(tiny_synced, update)  # the same write from a session without our origin
        assert capture_slot.foreign_writes(conn, settings, [ML]) == {ML: 1}
    finally:
        second.close()
        stream.close(cap)
        conn.close()


def test_a_failed_settle_on_the_second_session_stops_the_queued_ones(tiny_synced: str) -> None:
    settings = Settings()
    conn = connect(tiny_synced, settings)
    second = overlap.Overlap(conn, tiny_synced, settings, Copier(conn, "test", phase=1), None, 1)
    ran: list[str] = []

    def fails(c: psycopg.Connection, copier: Copier, hasher: object) -> None:
        ran.append("first")
        c.execute("SELECT 1 / 0")

    def after(c: psycopg.Connection, copier: Copier, hasher: object) -> None:
        ran.append("second")

    try:
        assert second.takes(parts(MAPPINGS[0]), first_copied=True)
        first = second.submit("a", fails)
        later = second.submit("b", after)
        second.drain()
        with pytest.raises(psycopg.errors.DivisionByZero):
            first.result()
        with pytest.raises(overlap.Skipped):
            later.result()
        assert ran == ["first"]
    finally:
        second.close()
        conn.close()


def test_a_paced_run_a_later_phase_or_no_second_connection_settles_on_one_session(tiny_synced: str) -> None:
    conn = connect(tiny_synced, Settings())
    try:
        for settings, phase in ((Settings(pace="200ms"), 1), (Settings(), 2), (Settings(overlap=False), 1)):
            pacer = object() if settings.pace != Settings().pace else None
            copier = Copier(conn, "test", phase=phase, pacer=pacer)  # type: ignore[arg-type]
            second = overlap.Overlap(conn, tiny_synced, settings, copier, None, 1)
            assert not second.takes(parts(MAPPINGS[0]), first_copied=True)
            second.close()
        copier = Copier(conn, "test", phase=1)
        second = overlap.Overlap(conn, tiny_synced, Settings(), copier, None, 1)
        assert not second.takes(parts(MAPPINGS[0]), first_copied=False)  # a re-run: nothing to overlap
        second.close()
        # no second connection to be had (here: nobody listens): one session does it all
        unreachable = "postgresql://postgres@127.0.0.1:1/postgres?connect_timeout=2"
        second = overlap.Overlap(conn, unreachable, Settings(), copier, None, 1)
        assert not second.takes(parts(MAPPINGS[0]), first_copied=True)
        second.close()
    finally:
        conn.close()


def test_the_copy_order_keeps_parents_and_read_tables_first() -> None:
    ordered = overlap.order(copy_order())
    assert sorted(m.name for m in ordered) == sorted(m.name for m in MAPPINGS)
    targets = {m.target for m in MAPPINGS}
    for i, m in enumerate(ordered):
        earlier = {o.target for o in ordered[:i]}
        reads = set().union(*(p.reads for p in parts(m)))
        parents = {fk.references for fk in table(m.target).foreign_keys} & targets - {m.target}
        assert (reads | parents) <= earlier, (m.name, (reads | parents) - earlier)
    # the table five others look their game up in comes first, so its settle is done early
    assert ordered[0].target == "core_betting.games"


_SESSIONS = """
import sys
import psycopg
from data_copy.state import run_lock
dsn = sys.argv[1]
tag = run_lock._tag("run")  # as a data_copy run's sessions are named
held = psycopg.connect(dsn, autocommit=True, application_name=tag)
busy = psycopg.connect(dsn, autocommit=True, application_name=tag)
print(busy.info.backend_pid, flush=True)
busy.execute("SELECT pg_sleep(120)")
"""


def _sessions(dsn: str) -> tuple[subprocess.Popen, int]:
    """A process with two data_copy-named sessions, one busy for 2 minutes: (it, that backend)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _SESSIONS, dsn], cwd=ROOT, stdout=subprocess.PIPE, text=True, env=os.environ
    )
    assert proc.stdout is not None
    backend = int(proc.stdout.readline())
    deadline = time.monotonic() + 20
    while q(dsn, "SELECT state FROM pg_stat_activity WHERE pid = %s", backend) != [("active",)]:
        assert time.monotonic() < deadline, "the session never got busy"
        time.sleep(0.05)
    return proc, backend


def test_the_next_command_ends_the_sessions_of_a_killed_run_and_only_those(fresh_dsn: str) -> None:
    killed, orphan = _sessions(fresh_dsn)
    alive, busy = _sessions(fresh_dsn)
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        # the server has not noticed: the statement of the killed process's second session runs on
        assert q(fresh_dsn, "SELECT state FROM pg_stat_activity WHERE pid = %s", orphan) == [("active",)]
        with run_lock.locked(fresh_dsn, Settings(), "validate"):
            pass
        assert q(fresh_dsn, "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", orphan) == [(0,)]
        assert q(fresh_dsn, "SELECT state FROM pg_stat_activity WHERE pid = %s", busy) == [("active",)]
    finally:
        for proc in (killed, alive):
            proc.kill()
            proc.wait()
