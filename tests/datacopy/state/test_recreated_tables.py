"""Issue 26, (3) in phase 1: a new table dropped and created again (or emptied) under our
records is noticed before anything is written; its stale records are cleared, one line says
so, and it is copied from scratch: 14/14 validated, 0 rejected, the first run's checksums.
And the slot of another database (CREATE DATABASE ... TEMPLATE) is found and named."""

import uuid

import psycopg
import pytest
from bookkeeping_support import (
    ML,
    checksums,
    cli,
    one,
    q,
    recreate_in_place,
    recreate_new_schemas,
    rejects,
    rows,
)
from psycopg import sql

from data_copy import errors
from data_copy.capture import slot
from pgcluster import Cluster


def _notes(out: str, words: str) -> list[str]:
    return [line for line in out.splitlines() if words in line]


def test_the_issues_state_runs_clean_and_says_so_in_one_line(small_legacy: str) -> None:
    """The state of the issue: the four schemas dropped and created again (destroy + up),
    public.migration_state dropped too, every other migration_* table kept. Before: 8/14,
    385,754 rows rejected as 'duplicate key ... migration_owned_rows_pkey'."""
    code, out, err = cli(small_legacy, "run")
    assert code == errors.OK, out[-2000:] + err[-2000:]
    first = checksums(small_legacy)
    recreate_new_schemas(small_legacy)
    q(small_legacy, "DROP TABLE public.migration_state")
    code, out, err = cli(small_legacy, "run")
    assert code == errors.OK, out[-3000:] + err[-3000:]
    said = _notes(out, "copied from scratch")
    assert len(said) == 1 and said[0].startswith("phase 1: ") and "core_betting.games" in said[0], out[-3000:]
    assert "14/14 mappings validated" in out and " 0 rejected" in out, out[-2000:]
    assert rejects(small_legacy) == 0
    assert checksums(small_legacy) == {m: v for m, v in first.items()}  # the first run's, mapping by mapping
    code, out, _ = cli(small_legacy, "run")  # and the next run is an ordinary re-sync
    assert code == errors.OK and not _notes(out, "copied from scratch")


def test_one_table_created_again_in_place_is_the_only_one_copied_again(tiny_synced: str) -> None:
    first = checksums(tiny_synced)
    recreate_in_place(tiny_synced, ML)
    code, out, err = cli(tiny_synced, "run")
    assert code == errors.OK, out[-3000:] + err[-3000:]
    said = _notes(out, "copied from scratch")
    assert said == [
        f"phase 1: {ML} was dropped and created again since data_copy recorded it: its records (baseline,"
        " watermark, checksums) are cleared and it is copied from scratch"
    ], said
    assert checksums(tiny_synced) == first and rejects(tiny_synced) == 0


def test_a_table_emptied_under_our_records_is_copied_again_even_without_our_oids(tiny_synced: str) -> None:
    """TRUNCATE keeps the OID; with public.migration_targets and migration_state dropped too,
    only the emptiness probe can tell: the games merge (which records its rows) would else
    collide with its own baseline. (The games get new ids from the merge's sequence, so the
    tables that point at games have other checksums: the counts are the first run's.)"""
    first = {m: v[:3] for m, v in checksums(tiny_synced).items()}
    q(tiny_synced, "TRUNCATE core_betting.games CASCADE")
    q(tiny_synced, "DROP TABLE public.migration_targets, public.migration_state")
    code, out, err = cli(tiny_synced, "run")
    assert code == errors.OK, out[-3000:] + err[-3000:]
    said = _notes(out, "emptied by someone else")
    assert len(said) == 1 and "core_betting.games" in said[0] and ML in said[0], out[-3000:]
    assert {m: v[:3] for m, v in checksums(tiny_synced).items()} == first and rejects(tiny_synced) == 0


def test_validate_clears_them_too_and_a_run_after_copies(tiny_synced: str) -> None:
    recreate_in_place(tiny_synced, ML)
    code, out, _ = cli(tiny_synced, "validate")
    assert code == errors.NOT_VALIDATED and len(_notes(out, "copied from scratch")) == 1
    assert one(tiny_synced, "SELECT count(*) FROM public.migration_owned_xacts WHERE part = 'moneyline'") == 0
    code, out, _ = cli(tiny_synced, "run")
    assert code == errors.OK and not _notes(out, "copied from scratch") and rows(tiny_synced, ML) > 0


def test_the_slot_of_the_database_it_was_copied_from_is_named_and_left_alone(
    tiny_synced: str, pg_cluster: Cluster
) -> None:
    source = tiny_synced.rsplit("/", 1)[1]
    theirs = one(tiny_synced, "SELECT slot FROM public.migration_capture")
    assert theirs == slot.slot_name(source)
    copy = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(copy), sql.Identifier(source)))
    dsn = pg_cluster.dsn(copy)
    try:
        code, out, err = cli(dsn, "run")
        assert code == errors.OK, out[-3000:] + err[-3000:]
        said = _notes(out, f"replication slot {theirs}")
        assert len(said) == 1, out[-3000:]
        assert f'of database "{source}", not this database\'s ("{copy}"' in said[0], said
        assert "CREATE DATABASE ... TEMPLATE" in said[0] and f"own slot {slot.slot_name(copy)}" in said[0], said
        assert f"replication origin(s) {theirs}" in said[0] and "left alone" in said[0], said
        assert one(dsn, "SELECT count(*) FROM public.migration_capture_positions WHERE slot = %s", theirs) == 0
        assert one(dsn, "SELECT database FROM pg_replication_slots WHERE slot_name = %s", theirs) == source
        code, out, _ = cli(dsn, "run")  # said once: its records are gone
        assert code == errors.OK and not _notes(out, f"replication slot {theirs}")
    finally:
        with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as conn:
            for (origin,) in conn.execute(
                "SELECT roname FROM pg_replication_origin WHERE strpos(roname, %s) > 0", (copy,)
            ).fetchall():
                conn.execute("SELECT pg_replication_origin_drop(%s)", (origin,))
        pg_cluster.drop_database(copy)


@pytest.mark.parametrize("verb", ["run", "validate"])
def test_a_database_without_records_says_nothing(tiny_synced: str, verb: str) -> None:
    code, out, _ = cli(tiny_synced, verb)
    assert code == errors.OK
    assert not _notes(out, "phase 1: ") and not _notes(out, "was missing") and not _notes(out, "change capture: public")


def test_switch_after_a_table_was_created_again_waits_for_a_run(tiny_synced: str) -> None:
    """The latest validations predate the table: switching now would hand the application an
    empty table. The switch refuses (the stale records are cleared all the same); after a run
    it goes through."""
    recreate_in_place(tiny_synced, ML)
    code, _, err = cli(tiny_synced, "switch")
    line = err.strip().splitlines()[-1]
    assert code == errors.TRANSITION_REFUSED and line.startswith(f"error: switch refused: phase 1: {ML} was"), line
    assert "run `python -m data_copy run` first" in line
    assert one(tiny_synced, "SELECT count(*) FROM public.migration_phase_events WHERE phase = 2") == 0
    code, out, err = cli(tiny_synced, "run")
    assert code == errors.OK, out[-2000:] + err[-2000:]
    code, out, err = cli(tiny_synced, "switch")
    assert code == errors.OK, out + err


def test_a_lost_record_of_changed_keys_drops_the_checksums_it_qualified(tiny_synced: str) -> None:
    """Without public.migration_dirty_keys an incremental validation would trust chunk
    checksums that miss every change since: they are dropped, said in one line."""
    assert int(one(tiny_synced, "SELECT count(*) FROM public.migration_chunk_hashes") or 0) > 0
    q(tiny_synced, "DROP TABLE public.migration_dirty_keys")
    q(tiny_synced, f"UPDATE {ML} SET home_ml = home_ml + 1 WHERE id = (SELECT min(id) FROM {ML})")  # unrecorded
    code, out, _ = cli(tiny_synced, "validate", "--incremental")
    assert code == errors.NOT_VALIDATED, out[-2000:]  # the full check the dropped checksums forced finds it
    said = _notes(out, "public.migration_dirty_keys was missing")
    assert len(said) == 1 and "the next validation reads every row" in said[0], out[-2000:]


def test_lost_buffered_changes_make_every_mapping_scan_once(tiny_synced: str) -> None:
    q(tiny_synced, "DROP TABLE public.migration_capture_changes")
    code, out, _ = cli(tiny_synced, "run")
    assert code == errors.OK, out[-2000:]
    said = _notes(out, "public.migration_capture_changes was missing")
    assert len(said) == 1 and "re-syncs by a scan once" in said[0], out[-2000:]
    assert "scanned: " in out and "copied before the slot existed" in out, out[-2000:]
    code, out, _ = cli(tiny_synced, "run")
    assert code == errors.OK and "scanned: " not in out  # by key again
