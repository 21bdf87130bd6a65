"""Phase 2 both ways (consolidation:carryBack, sync/both_ways.py) on a real PostgreSQL: the
application's writes to a new table go back into legacy with each sync, so code still
reading legacy sees them; old code's legacy writes still come over; a key both sides changed
is a conflict, listed and written in neither direction; our own writes never come back as
changes; a legacy trigger that changes carried rows makes the mapping refuse, named; random
interleavings of both sides end with both sides equal but for the listed conflicts."""

from __future__ import annotations

import random

import both_sides
import psycopg
import pytest
from psycopg import sql
from test_phases import LEGACY_ML, ML, app_insert_ml, content_md5, legacy_insert_ml, ml, q, result

from data_copy import api
from data_copy.core.ident import ident
from data_copy.settings import Settings

BACK = Settings(carry_back=("moneyline",))


def ids(dsn: str, table: str, n: int, offset: int = 0) -> list[int]:
    return [r[0] for r in q(dsn, f"SELECT id FROM {table} ORDER BY id LIMIT {n} OFFSET {offset}")]  # noqa: S608


def conflicts(dsn: str, part: str = "moneyline") -> set[str]:
    return {r[0] for r in q(dsn, "SELECT k FROM migration_conflicts WHERE part = %s AND resolved_at IS NULL", part)}


def test_the_applications_writes_go_back_and_old_codes_come_over(phase2: str) -> None:
    dsn = phase2
    created = app_insert_ml(dsn, "APP")
    changed, gone, legacy_changed = ids(dsn, ML, 3, 5)
    q(dsn, f"UPDATE {ML} SET home_ml = 4242 WHERE id = %s", changed)  # noqa: S608
    q(dsn, f"DELETE FROM {ML} WHERE id = %s", gone)  # noqa: S608
    q(dsn, f"UPDATE {LEGACY_ML} SET away_ml = -777 WHERE id = %s", legacy_changed)  # noqa: S608
    old = legacy_insert_ml(dsn, "OLD")
    report = api.run(dsn, BACK)
    assert report.ok, [r.message for r in report.results if r.message]
    figures = result(report, "moneyline").figures
    assert figures["carried_back"] == 2 and figures["deleted_back"] == 1, figures
    assert ml(dsn, LEGACY_ML, created) == (created, "APP", 111)  # legacy readers see the application's rows
    assert ml(dsn, LEGACY_ML, changed)[2] == 4242
    assert ml(dsn, LEGACY_ML, gone) is None
    assert ml(dsn, ML, old) == (old, "OLD", 222)  # and the new readers old code's
    assert q(dsn, f"SELECT away_ml FROM {ML} WHERE id = %s", legacy_changed) == [(-777,)]  # noqa: S608
    assert content_md5(dsn, ML) == content_md5(dsn, LEGACY_ML)
    again = api.run(dsn, BACK)  # our writes in either direction are not read back as changes
    assert again.ok and again.capture["moneyline"]["keys"] == 0
    assert result(again, "moneyline").figures["carried_back"] == 0
    assert content_md5(dsn, ML) == content_md5(dsn, LEGACY_ML)


def test_a_key_both_sides_changed_is_listed_and_written_in_neither_direction(phase2: str) -> None:
    dsn = phase2
    key = ids(dsn, ML, 1, 3)[0]
    q(dsn, f"UPDATE {ML} SET home_ml = 1111 WHERE id = %s", key)  # noqa: S608
    q(dsn, f"UPDATE {LEGACY_ML} SET home_ml = 2222 WHERE id = %s", key)  # noqa: S608
    report = api.run(dsn, BACK)
    assert result(report, "moneyline").figures["not_carried_back"] >= 1
    assert str(key) in conflicts(dsn)
    assert ml(dsn, ML, key)[2] == 1111 and ml(dsn, LEGACY_ML, key)[2] == 2222  # neither overwritten
    api.run(dsn, BACK)
    assert ml(dsn, ML, key)[2] == 1111 and ml(dsn, LEGACY_ML, key)[2] == 2222


@pytest.mark.parametrize("app", ["update", "delete"])
def test_a_conflict_whose_legacy_side_goes_back_is_the_applications_change_and_goes_back(phase2: str, app: str) -> None:
    """A key both sides changed is listed; old code then writes legacy back to what was
    synced: the application's change (already read from the stream while it conflicted)
    now goes back into legacy like any other, and the conflict is resolved."""
    dsn = phase2
    key = ids(dsn, ML, 1, 7)[0]
    q(dsn, f"UPDATE {LEGACY_ML} SET sportsbook = 'SYNCED' WHERE id = %s", key)  # noqa: S608
    api.run(dsn, BACK)
    if app == "update":
        q(dsn, f"UPDATE {ML} SET sportsbook = 'APP' WHERE id = %s", key)  # noqa: S608
    else:
        q(dsn, f"DELETE FROM {ML} WHERE id = %s", key)  # noqa: S608
    q(dsn, f"UPDATE {LEGACY_ML} SET sportsbook = 'OLD' WHERE id = %s", key)  # noqa: S608
    api.run(dsn, BACK)
    assert str(key) in conflicts(dsn)
    q(dsn, f"UPDATE {LEGACY_ML} SET sportsbook = 'SYNCED' WHERE id = %s", key)  # noqa: S608
    report = api.run(dsn, BACK, incremental=True)
    assert report.ok, [r.message for r in report.results if r.message]
    expected = ("APP",) if app == "update" else None
    assert (q(dsn, f"SELECT sportsbook FROM {LEGACY_ML} WHERE id = %s", key) or [None])[0] == expected  # noqa: S608
    assert str(key) not in conflicts(dsn)
    moneyline = next(s for s in both_sides.invertible(dsn) if s.mapping == "moneyline")
    assert both_sides.differing(dsn, moneyline) == set()


ML_BOOKS = (LEGACY_ML, ML, "moneyline", "sportsbook")
SPLITS = ("splits.raw_mlb_betting_splits", "raw_data.raw_mlb_betting_splits", "raw_betting_splits", "book")


@pytest.mark.parametrize(
    ("tables", "settings", "old_code"),
    [
        (ML_BOOKS, Settings(), "update"),
        (ML_BOOKS, BACK, "update"),
        (SPLITS, Settings(), "update"),  # keyless legacy: its rows located by one pass
        (ML_BOOKS, BACK, "delete"),
    ],
    ids=["one way", "both ways", "keyless", "legacy deleted"],
)
def test_a_conflict_whose_application_side_goes_back_brings_legacys_change_over_by_key(
    phase2: str, tables: tuple[str, str, str, str], settings: Settings, old_code: str
) -> None:
    """The mirror case: the application writes its row back to what was synced; legacy's
    change, read from the stream while the key conflicted, comes over in the next sync by
    key (not by a whole-table reconcile after its check failed)."""
    dsn = phase2
    legacy, new, mapping, column = tables
    key = ids(dsn, new, 1, 7)[0]

    def write(table: str, value: str) -> None:
        q(dsn, sql.SQL("UPDATE {} SET {} = %s WHERE id = %s").format(ident(table), sql.Identifier(column)), value, key)

    write(legacy, "SYNCED")
    api.run(dsn, settings)
    write(new, "APP")
    if old_code == "delete":
        q(dsn, sql.SQL("DELETE FROM {} WHERE id = %s").format(ident(legacy)), key)
    else:
        write(legacy, "OLD")
    api.run(dsn, settings)
    assert str(key) in conflicts(dsn, mapping)
    write(new, "SYNCED")
    report = api.run(dsn, settings, incremental=True)
    assert report.ok, [r.message for r in report.results if r.message]
    assert report.capture[mapping]["mode"] == "capture", report.capture[mapping]
    now = sql.SQL("SELECT {} FROM {} WHERE id = %s").format(sql.Identifier(column), ident(new))
    assert q(dsn, now, key) == ([] if old_code == "delete" else [("OLD",)])
    assert str(key) not in conflicts(dsn, mapping)


def test_a_legacy_trigger_that_changes_carried_rows_refuses_carry_back_named(phase2: str) -> None:
    dsn = phase2
    q(
        dsn,
        "CREATE FUNCTION mlb_betting.stamp() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN NEW.away_ml := 9; RETURN NEW; END $$;"
        f" CREATE TRIGGER stamp BEFORE INSERT OR UPDATE ON {LEGACY_ML}"
        " FOR EACH ROW EXECUTE FUNCTION mlb_betting.stamp()",
    )
    key = ids(dsn, ML, 1, 2)[0]
    before = ml(dsn, LEGACY_ML, key)
    q(dsn, f"UPDATE {ML} SET home_ml = 3131 WHERE id = %s", key)  # noqa: S608
    report = api.run(dsn, BACK)
    moneyline = result(report, "moneyline")
    assert moneyline.status == "failed" and "carry-back refused" in moneyline.message, moneyline.message
    assert ml(dsn, LEGACY_ML, key) == before  # nothing of it written back
    assert ml(dsn, ML, key)[2] == 3131  # the application's row kept


def test_random_interleavings_end_equal_but_for_the_listed_conflicts(phase2: str) -> None:
    """1,000 writes in random order on both sides of every invertible mapping (updates on
    ten keys of each, so both sides often change one key), a sync every 50: after the last
    sync the two sides of each are equal, but for keys listed as open conflicts."""
    dsn = phase2
    sides = both_sides.invertible(dsn)
    both_sides.key_sequence(dsn)
    hot = {s.mapping: both_sides.first_keys(dsn, s, 10) for s in sides}
    back = Settings(carry_back=tuple(s.mapping for s in sides))
    rng = random.Random(23)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for step in range(1000):
            s = rng.choice(sides)
            kind = rng.choice(("update", "update", "insert", "delete"))
            both_sides.write(conn, s, rng.random() < 0.5, kind, f"S{step}", rng.choice(hot[s.mapping]))
            if step % 50 == 49:
                api.run(dsn, back)
    api.run(dsn, back)
    listed = q(dsn, "SELECT count(DISTINCT part) FROM migration_conflicts")[0][0]
    assert listed >= len(sides) // 2, listed  # both sides did change the same keys
    for s in sides:
        missed = both_sides.differing(dsn, s) - conflicts(dsn, s.part)
        tables = ((s.legacy, s.keys[0]), (s.new, s.keys[1]))
        assert not missed, (s.mapping, missed, both_sides.explain(dsn, s.part, tables, missed))


@pytest.mark.parametrize("mapping", ["games"])
def test_a_mapping_that_does_not_invert_is_refused_in_one_line(phase2: str, mapping: str) -> None:
    import subprocess
    import sys

    from test_phases import ROOT

    proc = subprocess.run(
        [sys.executable, "-m", "data_copy", "run", "--dsn", phase2, "--carry-back", mapping],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "cannot go back into legacy" in proc.stderr


def test_plan_says_which_mappings_go_both_ways_and_why_the_others_cannot(phase2: str) -> None:
    lines = api.phase_plan(phase2, Settings(carry_back=("moneyline", "spreads")))
    assert "phase 2 both ways (consolidation:carryBack): moneyline, spreads" in lines
    assert any(line.startswith("  one way only: games (it does not invert: a merge") for line in lines), lines
    assert "  one way only: totals (not asked for)" in lines
