"""Issue 26: the bookkeeping checks run before every command, so they must stay cheap: index
probes and counts of our own tables, at most one row read from a new table (is it empty?),
nothing from legacy. Measured inside one transaction with pg_stat_xact_user_tables, which
counts the rows this transaction read from each table."""

import time
from collections.abc import Callable

import psycopg

from catalog.mappings import MAPPINGS
from catalog.schemas import SCHEMA_NAMES
from data_copy import api
from data_copy.settings import Settings
from data_copy.state import gate

TIMES = 20


def _reads(conn: psycopg.Connection) -> dict[str, tuple[int, int]]:
    """table -> (rows read by sequential scans, rows fetched by index scans), this transaction."""
    return {
        f"{s}.{t}": (int(seq or 0), int(idx or 0))
        for s, t, seq, idx in conn.execute(
            "SELECT schemaname, relname, seq_tup_read, idx_tup_fetch FROM pg_stat_xact_user_tables"
        )
    }


def test_the_checks_read_no_new_or_legacy_table_and_take_milliseconds(
    small_legacy: str, record_property: Callable[[str, object], None]
) -> None:
    assert api.run(small_legacy).ok
    with psycopg.connect(small_legacy, autocommit=True) as conn:
        with conn.transaction():
            gate.ensure_state(conn, Settings())
            reads = _reads(conn)
        ours = {t: r for t, r in reads.items() if t.startswith("public.migration_")}
        new = {t: r for t, r in reads.items() if t.split(".")[0] in SCHEMA_NAMES}
        legacy = {t: r for t, r in reads.items() if t not in ours and t not in new}
        assert all(seq <= 1 and idx == 0 for seq, idx in new.values()), new  # "is it empty?" at most
        assert {t for t, (seq, _) in new.items() if seq} <= {m.target for m in MAPPINGS}
        assert not any(seq or idx for seq, idx in legacy.values()), legacy
        # our tables that grow with the data are probed by index, never scanned
        big = ("migration_owned_rows", "migration_chunk_hashes", "migration_dirty_keys", "migration_rejects")
        assert all(ours.get(f"public.{t}", (0, 0))[0] == 0 for t in big), ours
        started = time.perf_counter()
        for _ in range(TIMES):
            gate.ensure_state(conn, Settings())
        per_run_ms = (time.perf_counter() - started) / TIMES * 1000
    owned = sum(seq for t, (seq, _) in ours.items())
    record_property("gate_ms_per_command", round(per_run_ms, 2))
    record_property("rows_of_ours_read_by_scans", owned)
    print(f"\nstate gate with the bookkeeping checks: {per_run_ms:.1f} ms per command; reads {reads}")
    assert per_run_ms < 500  # a generous bound on a shared 2-core machine; measured ~10-20 ms
