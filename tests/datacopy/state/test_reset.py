"""Issue 26, (4): `python -m data_copy reset` starts over on purpose. Phase 1 only; it lists
what it drops and drops nothing without --yes; with it, the new tables, every table of ours,
this database's slot and origins are gone and legacy is untouched; the next run copies
everything again with the first run's checksums."""

from bookkeeping_support import checksums, cli, last_line, legacy_fingerprint, one, q, rejects

from catalog.schemas import SCHEMA_NAMES
from catalog.tables import TABLES
from data_copy import errors
from data_copy.capture import slot
from data_copy.state import schema


def _ours(dsn: str) -> int:
    return int(
        one(
            dsn,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = ANY(%s)",
            sorted(schema.NAMES),
        )
        or 0
    )


def _new_tables(dsn: str) -> int:
    return int(one(dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = ANY(%s)", list(SCHEMA_NAMES)) or 0)


def _slots_and_origins(dsn: str) -> tuple[list[str], list[str]]:
    name = slot.slot_name(dsn.rsplit("/", 1)[1])
    slots = [r[0] for r in q(dsn, "SELECT slot_name FROM pg_replication_slots WHERE database = current_database()")]
    origins = [r[0] for r in q(dsn, "SELECT roname FROM pg_replication_origin WHERE starts_with(roname, %s)", name)]
    return slots, origins


def test_reset_lists_then_drops_with_yes_and_the_next_run_is_the_first_again(tiny_synced: str) -> None:
    first = checksums(tiny_synced)
    legacy = legacy_fingerprint(tiny_synced)
    slots, origins = _slots_and_origins(tiny_synced)
    assert slots and origins  # the run captured, its writes under our origin

    code, out, err = cli(tiny_synced, "reset")
    assert code == errors.USAGE and last_line(err).startswith("error: reset dropped nothing"), err
    assert "--yes" in last_line(err) and "reset would drop (nothing dropped yet):" in out
    listed = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert any(line.startswith("new table core_betting.games (") and "rows)" in line for line in listed), listed
    assert "table of ours public.migration_owned_rows" in " ".join(listed)
    assert f"replication slot {slots[0]}" in listed and all(f"replication origin {o}" in listed for o in origins)
    assert len(listed) == len(TABLES) + 1 + _ours(tiny_synced) + len(slots) + len(origins)  # + the merge's sequence
    assert _ours(tiny_synced) == len(schema.NAMES) and _new_tables(tiny_synced) == len(TABLES)  # nothing dropped

    code, out, err = cli(tiny_synced, "reset", "--yes")
    assert code == errors.OK, out + err
    assert out.strip().splitlines()[-1].startswith(f"reset: {len(listed)} object(s) dropped, legacy untouched")
    assert _ours(tiny_synced) == 0 and _new_tables(tiny_synced) == 0
    assert _slots_and_origins(tiny_synced) == ([], [])
    assert legacy_fingerprint(tiny_synced) == legacy

    code, out, err = cli(tiny_synced, "reset", "--yes")  # nothing left: says so
    assert code == errors.OK and "nothing to drop" in out

    code, out, err = cli(tiny_synced, "run")
    assert code == errors.OK and "14/14 mappings validated" in out and " 0 rejected" in out, out[-2000:] + err
    assert checksums(tiny_synced) == first and rejects(tiny_synced) == 0
    assert legacy_fingerprint(tiny_synced) == legacy


def test_reset_is_refused_from_phase_2_on(phase2: str) -> None:
    before = _ours(phase2), _new_tables(phase2), _slots_and_origins(phase2)
    for args in (("reset",), ("reset", "--yes")):
        code, _, err = cli(phase2, *args)
        line = last_line(err)
        assert code == errors.TRANSITION_REFUSED, err
        assert line.startswith("error: reset refused: the database is in phase 2") and "rollback" in line, line
    assert (_ours(phase2), _new_tables(phase2), _slots_and_origins(phase2)) == before


def test_reset_is_refused_when_the_phase_record_was_lost_after_a_switch(phase2: str) -> None:
    q(phase2, "DROP TABLE public.migration_phase_events")
    code, _, err = cli(phase2, "reset", "--yes")
    assert code == errors.TRANSITION_REFUSED and "the database was switched" in last_line(err), err
    assert _new_tables(phase2) == len(TABLES)


def test_reset_cleans_up_partial_bookkeeping(tiny_synced: str) -> None:
    """What reset is for: our tables half gone (the issue's state), reset --yes, run."""
    first = checksums(tiny_synced)
    q(tiny_synced, "DROP TABLE public.migration_state, public.migration_log")
    code, out, err = cli(tiny_synced, "reset", "--yes")
    assert code == errors.OK, out + err
    code, out, err = cli(tiny_synced, "run")
    assert code == errors.OK and " 0 rejected" in out, out[-2000:] + err
    assert checksums(tiny_synced) == first


def test_reset_drops_nothing_when_something_else_depends_on_the_new_tables(tiny_synced: str) -> None:
    q(tiny_synced, "CREATE VIEW public.someones_view AS SELECT * FROM core_betting.teams")
    code, _, err = cli(tiny_synced, "reset", "--yes")
    line = last_line(err)
    assert code == errors.TRANSITION_REFUSED, err
    assert line.startswith("error: reset refused: other objects depend on what it drops (") and "someones_view" in line
    assert _ours(tiny_synced) == len(schema.NAMES) and _new_tables(tiny_synced) == len(TABLES)
    assert _slots_and_origins(tiny_synced)[0]  # the slot too: the drops come first, in one transaction
