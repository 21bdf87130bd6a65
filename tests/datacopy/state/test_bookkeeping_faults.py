"""Issue 26, (1) and (2): a failure of our own bookkeeping stops the command as a state
error (exit 13, one line naming our table and the fix) and is never a data reject. Each
kind injected on a real server: our tables' constraints refusing a write, one of our tables
missing, our tables disagreeing with the new tables or with each other. Every test checks
the exit code AND that public.migration_rejects is empty, and that nothing was written."""

import psycopg
import pytest
from bookkeeping_support import ML, cli, last_line, legacy_database, one, q, recreate_in_place, rejects, rows

from data_copy import errors
from data_copy.state import faults, schema


@pytest.fixture
def tiny_legacy(fresh_dsn: str) -> str:
    return legacy_database(fresh_dsn)


@pytest.mark.parametrize(
    "table, check",
    [
        # a first copy records its transactions (moneyline's chunks)
        ("migration_owned_xacts", "part <> 'moneyline'"),
        # the games merge records every row it writes
        ("migration_owned_rows", "part <> 'games/public'"),
        # the watermark, saved after each copy
        ("migration_state", "part <> 'teams'"),
    ],
)
def test_our_constraint_refusing_a_write_is_exit_13_and_no_reject(tiny_legacy: str, table: str, check: str) -> None:
    with psycopg.connect(tiny_legacy, autocommit=True) as conn:
        schema.ensure(conn)
        conn.execute(f"ALTER TABLE public.{table} ADD CONSTRAINT probe CHECK ({check})")
    code, _, err = cli(tiny_legacy, "run")
    line = last_line(err)
    assert code == errors.STATE, err[-3000:]
    assert line.startswith(f"error: data_copy's own table public.{table} refused a write"), line
    assert '"probe"' in line and "not the owners' data" in line and "reset" in line, line
    assert rejects(tiny_legacy) == 0  # never filed as the owners' bad data


def test_phase2_baseline_table_missing_refuses_and_writes_nothing(phase2: str) -> None:
    before = rows(phase2, ML)
    q(phase2, "DROP TABLE public.migration_owned_rows")
    code, _, err = cli(phase2, "run")
    line = last_line(err)
    assert code == errors.STATE, err[-3000:]
    assert line.startswith("error: public.migration_owned_rows is missing (dropped?)"), line
    assert "ownership baseline is lost" in line and "restore public.migration_owned_rows" in line, line
    assert rejects(phase2) == 0 and rows(phase2, ML) == before
    assert one(phase2, "SELECT to_regclass('public.migration_owned_rows')") is None  # left as it was
    code, _, err = cli(phase2, "validate")  # every verb passes the same gate, every time
    assert code == errors.STATE and "public.migration_owned_rows" in last_line(err)


def test_phase2_phase_record_missing_is_never_run_as_phase_1(phase2: str) -> None:
    q(phase2, "DROP TABLE public.migration_phase_events")
    code, _, err = cli(phase2, "run")
    line = last_line(err)
    assert code == errors.STATE, err[-3000:]
    assert line.startswith("error: public.migration_phase_events records no switch to phase 2, but "), line
    assert "the phase record was lost" in line and "restore public.migration_phase_events" in line, line
    assert rejects(phase2) == 0
    assert one(phase2, "SELECT to_regclass('public.migration_phase_events')") is None  # left as it was


@pytest.mark.parametrize("how", ["recreated", "dropped"])
def test_phase2_new_table_recreated_refuses_and_never_takes_its_rows_for_deletes(phase2: str, how: str) -> None:
    """The application's table, dropped (and created again, empty) behind data_copy's back in
    phase 2: the baseline says its keys were there; their absence is not the application's
    deletes. The run refuses naming the table, fills nothing and keeps every record."""
    baseline = one(phase2, "SELECT count(*) FROM public.migration_owned_rows WHERE part = 'moneyline'")
    assert baseline and int(baseline) > 0  # switch recorded the first copy's rows
    if how == "recreated":
        recreate_in_place(phase2, ML)
    else:
        q(phase2, f"DROP TABLE {ML} CASCADE")
    code, _, err = cli(phase2, "run")
    line = last_line(err)
    assert code == errors.STATE, err[-3000:]
    assert line.startswith(f"error: {ML} "), line
    assert ("was dropped and created again" if how == "recreated" else "is gone") in line, line
    assert "in phase 2" in line and "will not take their absence for the application's deletes" in line, line
    assert rejects(phase2) == 0
    if how == "recreated":
        assert rows(phase2, ML) == 0  # not filled from legacy
    else:
        assert one(phase2, "SELECT to_regclass(%s)", ML) is None  # not created again either
    assert one(phase2, "SELECT count(*) FROM public.migration_owned_rows WHERE part = 'moneyline'") == baseline


def test_phase2_table_emptied_by_the_application_keeps_its_deletes_without_migration_state(phase2: str) -> None:
    """The application may empty its table in phase 2 (same table, same OID): with
    migration_state lost too, the first-copy path must not put the rows back (nor collide
    with the baseline's keys and file them as rejects)."""
    q(phase2, f"DELETE FROM {ML}")
    q(phase2, "DROP TABLE public.migration_state")
    code, out, err = cli(phase2, "run")
    assert code == errors.OK, out[-3000:] + err[-3000:]
    assert "public.migration_state was missing" in out
    assert rows(phase2, ML) == 0 and rejects(phase2) == 0


def test_first_copy_transactions_from_the_future_refuse(tiny_synced: str) -> None:
    q(
        tiny_synced,
        "INSERT INTO public.migration_owned_xacts (part, x) SELECT 'moneyline', CAST(CAST(CAST(CAST("
        "pg_snapshot_xmax(pg_current_snapshot()) AS text) AS bigint) + 1000000 AS text) AS xid8)",
    )
    before = rows(tiny_synced, ML)
    code, _, err = cli(tiny_synced, "run")
    line = last_line(err)
    assert code == errors.STATE, err[-3000:]
    assert line.startswith("error: public.migration_owned_xacts names 1 transaction(s) this server has not run"), line
    assert "reset" in line and rejects(tiny_synced) == 0 and rows(tiny_synced, ML) == before


def test_one_of_our_tables_gone_mid_statement_is_a_state_error(tiny_synced: str) -> None:
    """What run_lock turns into exit 13 when our table disappears under a running command."""
    q(tiny_synced, "DROP TABLE public.migration_dirty_keys")
    with psycopg.connect(tiny_synced, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.UndefinedTable) as info:
            conn.execute("INSERT INTO public.migration_dirty_keys (part, k) VALUES ('teams', '1')")
        with pytest.raises(psycopg.errors.UniqueViolation) as dup:
            conn.execute("INSERT INTO public.migration_state (part) VALUES ('teams')")
        with pytest.raises(psycopg.errors.UniqueViolation) as theirs:
            conn.execute(f"INSERT INTO {ML} SELECT * FROM {ML} LIMIT 1")
    gone = faults.state_error(info.value)
    assert gone is not None and gone.exit_code == errors.STATE
    assert gone.line().startswith("error: public.migration_dirty_keys went missing while data_copy was using it")
    refused = faults.state_error(dup.value)
    assert (
        refused is not None and "public.migration_state" in refused.line() and "migration_state_pkey" in refused.line()
    )
    assert faults.state_error(theirs.value) is None  # the new table's own refusal: a reject
    assert faults.refused_by(theirs.value, ML)
    with pytest.raises(errors.StateInconsistent):
        faults.refused_by(dup.value, ML)
