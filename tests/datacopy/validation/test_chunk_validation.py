"""Validation by key-range chunk (data_copy/validation/chunks.py, hasher.py) on a real PostgreSQL:
parallel hashing equals serial and the whole-table check, an incremental validation
re-hashes only the changed keys and names a planted mismatch, a full one bisects every
differing chunk down to its rows, and cleanup wants a full one."""

import uuid

import psycopg
import pytest
from psycopg import sql

import legacy_fixture
from catalog.mappings import MAPPINGS
from data_copy import api
from data_copy.core import planner
from data_copy.core.connection import connect
from data_copy.mapping_sql import key_sets
from data_copy.mapping_sql.projection import parts
from data_copy.retire import guards, refusals
from data_copy.settings import Settings
from data_copy.state import dirty_keys
from data_copy.sync.copier import Copier
from data_copy.validation import chunks, incremental, part_check
from data_copy.validation import hasher as hashing

SPLITS = "raw_betting_splits"


@pytest.fixture
def copied_dsn(fresh_dsn: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The tiny legacy fixture copied and validated, with 64-key chunks (900 splits rows
    make 15 chunks) and bisection leaves of 8 keys."""
    monkeypatch.setattr(chunks, "CHUNK_BITS", 6)
    monkeypatch.setattr(chunks, "LEAF_KEYS", 8)
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        legacy_fixture.build(conn, "tiny", seed=42, awkward=False)
    api.bootstrap_structure(fresh_dsn)
    report = api.run(fresh_dsn)
    assert report.ok, [r.message for r in report.results if r.message]
    return fresh_dsn


def _part(name: str):  # noqa: ANN202 - a Part
    return parts(next(m for m in MAPPINGS if m.name == name))[0]


def _result(results: list[api.MappingResult], name: str) -> api.MappingResult:
    return next(r for r in results if r.name == name)


def _last_details(dsn: str, mapping: str) -> dict:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT details FROM migration_log WHERE step = 'validate' AND mapping = %s ORDER BY id DESC LIMIT 1",
            (mapping,),
        ).fetchone()
    assert row
    return row[0]


def test_slices_cover_the_range_on_chunk_boundaries() -> None:
    assert hashing.slices(0, 1023, 4, 6) == [(0, 255), (256, 511), (512, 767), (768, 1023)]
    assert hashing.slices(5, 70, 8, 6) == [(0, 63), (64, 127)]  # never more slices than chunks
    assert hashing.slices(-64, -1, 2, 6) == [(-64, -1)]
    assert planner._count_cpus("0-3,6\n") == 5


def test_parallel_hashing_equals_serial_and_the_whole_table_validator(copied_dsn: str) -> None:
    settings = Settings()
    conn = connect(copied_dsn, settings)
    compared = 0
    with conn, hashing.Hasher(conn, copied_dsn, settings, 3) as hasher:
        for m in MAPPINGS:
            for part in parts(m):
                if not chunks.chunked(part):
                    continue
                lo, hi = chunks.key_bounds(conn, part) or (0, 0)
                with conn.transaction():
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    serial = chunks.hash_range(conn, part, lo, hi, 6)
                    spread = hasher.hash(part, lo, hi, 6)
                    whole = part_check.check(conn, part)
                    full = chunks.full_check(conn, part, hasher)
                assert spread == serial, part.name
                assert (full.source_count, full.target_count) == (whole.source_count, whole.target_count)
                assert (full.source_checksum, full.target_checksum) == (whole.source_checksum, whole.target_checksum)
                assert full.passed
                compared += 1
    assert compared >= 8
    # the splits part really was cut into several chunks over several workers
    assert len(hashing.slices(1, 900, 3, 6)) == 3
    with psycopg.connect(copied_dsn) as c:
        row = c.execute("SELECT count(*) FROM public.migration_chunk_hashes WHERE part = %s", (SPLITS,)).fetchone()
    assert row and row[0] >= 14


def test_incremental_validation_rehashes_only_changed_keys_and_names_a_planted_mismatch(copied_dsn: str) -> None:
    part = _part(SPLITS)
    with psycopg.connect(copied_dsn, autocommit=True) as conn:
        # a legacy change the copy has not brought over yet, recorded as capture records it
        conn.execute("UPDATE splits.raw_mlb_betting_splits SET book = 'planted' WHERE id = 300")
        assert dirty_keys.mark_dirty(conn, part, [300]) == 1
        # a corruption of the new table nobody recorded, in another chunk
        conn.execute("UPDATE raw_data.raw_mlb_betting_splits SET book = 'unrecorded' WHERE id = 700")
    results = api.validate(copied_dsn, incremental=True)
    splits = _result(results, SPLITS)
    assert splits.status == "failed"
    assert "1 changed e.g. keys 300" in splits.message, splits.message
    assert "700" not in splits.message  # not re-hashed: only the recorded key was
    assert _last_details(copied_dsn, SPLITS)["incremental"] is True
    assert _last_details(copied_dsn, SPLITS)["verified_keys"] == 1
    others = [r for r in results if r.name != SPLITS]
    assert all(r.status == "passed" for r in others), [r.message for r in others if r.message]
    # the full validation hashes every chunk and bisects both differing chunks to their rows
    full = _result(api.validate(copied_dsn), SPLITS)
    assert full.status == "failed"
    assert "2 changed e.g. keys 300, 700" in full.message, full.message
    assert _last_details(copied_dsn, SPLITS)["incremental"] is False


def test_incremental_validation_counts_and_names_every_kind_among_many_dirty_keys(
    copied_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(key_sets, "BATCH", 2)  # splits has no index: one pass, whatever the batch
    part = _part(SPLITS)
    with psycopg.connect(copied_dsn, autocommit=True) as conn:
        conn.execute("UPDATE splits.raw_mlb_betting_splits SET book = 'planted' WHERE id IN (40, 300, 812)")
        conn.execute("DELETE FROM raw_data.raw_mlb_betting_splits WHERE id = 9")  # a new-table row lost
        assert dirty_keys.mark_dirty(conn, part, [9, 40, 41, 300, 812]) == 5
    splits = _result(api.validate(copied_dsn, incremental=True), SPLITS)
    assert splits.status == "failed"
    assert "3 changed e.g. keys 300, 40, 812" in splits.message, splits.message  # text order
    assert "1 missing e.g. keys 9" in splits.message, splits.message
    assert _last_details(copied_dsn, SPLITS)["verified_keys"] == 5


def test_an_incremental_validation_names_a_changed_new_table_row_in_any_key_batch(
    copied_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(key_sets, "BATCH", 2)  # keys 5, 6, 7 of an indexed table: two batches
    with psycopg.connect(copied_dsn, autocommit=True) as conn:
        conn.execute("UPDATE core_betting.betting_lines_moneyline SET home_ml = 4242 WHERE id = 7")  # by hand
        assert dirty_keys.mark_dirty(conn, _part("moneyline"), [5, 6, 7]) == 3
    moneyline = _result(api.validate(copied_dsn, incremental=True), "moneyline")
    assert moneyline.status == "failed"
    said = "1 row(s) in core_betting.betting_lines_moneyline (moneyline) differ from what data_copy wrote: keys 7"
    assert said in moneyline.message, moneyline.message
    assert "1 changed e.g. keys 7" in moneyline.message, moneyline.message
    assert _last_details(copied_dsn, "moneyline")["verified_keys"] == 3


def test_the_foreign_check_tells_every_way_a_row_left_its_baseline(
    copied_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ownership.departed reads the new table once: a recorded row changed or deleted, and a
    first-copied row changed, are not data_copy's; untouched rows of either kind are."""
    monkeypatch.setattr(key_sets, "BATCH", 4)  # keys 10-15: two batches
    part = _part(SPLITS)
    with psycopg.connect(copied_dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE splits.raw_mlb_betting_splits SET book = 'moved', updated_at = now() WHERE id IN (10, 11, 12)"
        )
    conn = connect(copied_dsn, Settings())
    with conn:
        with conn.transaction():
            assert Copier(conn, uuid.uuid4()).copy(part).copied == 3
        recorded = conn.execute("SELECT k FROM migration_owned_rows WHERE part = %s ORDER BY k", (SPLITS,)).fetchall()
        assert [k for (k,) in recorded] == ["10", "11", "12"]  # 13-15 stay first-copied
        conn.execute("UPDATE raw_data.raw_mlb_betting_splits SET book = 'by hand' WHERE id IN (10, 14)")
        conn.execute("DELETE FROM raw_data.raw_mlb_betting_splits WHERE id = 11")
        dirty_keys.mark_dirty(conn, part, [10, 11, 12, 13, 14, 15])
        conn.commit()
        assert incremental.dirty_foreign(conn, part) == (3, ["10", "11", "14"])
        conn.execute("DELETE FROM migration_owned_rows WHERE part = %s AND k = '12'", (SPLITS,))
        conn.commit()  # a re-written row whose record is gone is nobody's baseline
        assert incremental.dirty_foreign(conn, part) == (4, ["10", "11", "12", "14"])


def test_the_copier_marks_what_it_writes_and_validate_verifies_only_that(copied_dsn: str) -> None:
    part = _part(SPLITS)
    with psycopg.connect(copied_dsn, autocommit=True) as conn:
        conn.execute("UPDATE splits.raw_mlb_betting_splits SET book = 'moved', updated_at = now() WHERE id IN (5, 6)")
    conn = connect(copied_dsn, Settings())
    with conn:
        copier = Copier(conn, uuid.uuid4())
        with conn.transaction():
            assert copier.copy(part).copied == 2
        assert copier.scanned == {SPLITS}
        keys = [r[0] for r in conn.execute("SELECT k FROM migration_dirty_keys WHERE part = %s ORDER BY k", (SPLITS,))]
    assert keys == ["5", "6"]  # recorded by the upsert itself (RETURNING)
    splits = _result(api.validate(copied_dsn, incremental=True), SPLITS)
    assert splits.status == "passed", splits.message
    details = _last_details(copied_dsn, SPLITS)
    assert details["incremental"] is True and details["verified_keys"] == 2, details
    with psycopg.connect(copied_dsn) as c:
        left = c.execute("SELECT count(*) FROM migration_dirty_keys WHERE part = %s", (SPLITS,)).fetchone()
    assert left and left[0] == 2  # kept until the next full validation
    assert _result(api.validate(copied_dsn), SPLITS).status == "passed"
    with psycopg.connect(copied_dsn) as c:
        left = c.execute("SELECT count(*) FROM migration_dirty_keys WHERE part = %s", (SPLITS,)).fetchone()
    assert left and left[0] == 0


def test_a_capture_fed_resync_validates_only_the_changed_keys(copied_dsn: str) -> None:
    with psycopg.connect(copied_dsn, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = on")  # committed = flushed: the slot has it at once
        conn.execute("UPDATE mlb_betting.moneyline SET home_ml = 999 WHERE id = 5")  # no timestamp
        conn.execute("DELETE FROM mlb_betting.moneyline WHERE id = 200")
        # splits has no primary key: its delete carries no key, one anti-join finds it
        conn.execute("UPDATE splits.raw_mlb_betting_splits SET book = 'moved' WHERE id = 5")
        conn.execute("DELETE FROM splits.raw_mlb_betting_splits WHERE id = 800")
    report = api.run(copied_dsn, incremental=True)
    assert report.ok, [r.message for r in report.results if r.message]
    assert report.capture["moneyline"]["mode"] == "capture", report.capture
    details = _last_details(copied_dsn, "moneyline")
    assert details["incremental"] is True and details["verified_keys"] == 2, details
    splits_details = _last_details(copied_dsn, SPLITS)
    assert splits_details["incremental"] is True and splits_details["verified_keys"] == 2, splits_details
    with psycopg.connect(copied_dsn) as conn:
        ml = conn.execute("SELECT home_ml FROM core_betting.betting_lines_moneyline WHERE id = 5").fetchone()
        gone = conn.execute("SELECT count(*) FROM core_betting.betting_lines_moneyline WHERE id = 200").fetchone()
        splits = conn.execute("SELECT count(*), min(book) FROM raw_data.raw_mlb_betting_splits WHERE id IN (5, 800)")
        keys = [r[0] for r in conn.execute("SELECT k FROM migration_dirty_keys WHERE part = 'moneyline' ORDER BY k")]
        split_rows = splits.fetchone()
    assert ml == (999,) and gone == (0,) and split_rows == (1, "moved")
    assert keys == ["200", "5"]
    assert all(r.status == "passed" for r in api.validate(copied_dsn))  # and the full one agrees


def test_a_scanning_resync_validates_in_full_and_so_catches_a_legacy_delete(copied_dsn: str) -> None:
    api.capture_drop(copied_dsn)  # no change capture: the next run scans legacy, even asked for incremental
    with psycopg.connect(copied_dsn, autocommit=True) as conn:
        conn.execute("UPDATE splits.raw_mlb_betting_splits SET book = 'moved', updated_at = now() WHERE id = 5")
        conn.execute("DELETE FROM splits.raw_mlb_betting_splits WHERE id = 800")
    report = api.run(copied_dsn, incremental=True)
    splits = _result(report.results, SPLITS)
    assert report.capture.get(SPLITS, {}).get("mode", "scan").startswith("scan"), report.capture
    assert splits.status == "passed", splits.message
    assert _last_details(copied_dsn, SPLITS)["incremental"] is False
    with psycopg.connect(copied_dsn) as conn:
        gone = conn.execute("SELECT count(*) FROM raw_data.raw_mlb_betting_splits WHERE id = 800").fetchone()
        moved = conn.execute("SELECT book FROM raw_data.raw_mlb_betting_splits WHERE id = 5").fetchone()
    assert gone and gone[0] == 0 and moved == ("moved",)


def test_cleanup_requires_a_full_validation(copied_dsn: str) -> None:
    settings = Settings()
    api.validate(copied_dsn, incremental=True)  # nothing changed, nothing re-hashed
    with psycopg.connect(copied_dsn, autocommit=True) as conn:
        assert set(chunks.not_full(conn)) == {m.name for m in MAPPINGS}
        kinds = {(p.kind, p.subject) for p in guards.validation_problems(conn, settings)}
    assert ("validation_not_full", SPLITS) in kinds
    assert "without --incremental" in refusals.FIXES["validation_not_full"]
    api.validate(copied_dsn)
    with psycopg.connect(copied_dsn, autocommit=True) as conn:
        assert chunks.not_full(conn) == {}
        assert [p for p in guards.validation_problems(conn, settings) if p.kind == "validation_not_full"] == []


def _splits_source_conditions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The legacy-side conditions the incremental validation of splits reads by."""
    seen: list[str] = []
    real = incremental.explain

    def spy(conn, part, result, source_cond=part_check.TRUE, target_cond=part_check.TRUE, copyable=False):  # noqa: ANN001, ANN202
        if part.name == SPLITS:
            seen.append(source_cond.as_string(conn))
        return real(conn, part, result, source_cond, target_cond, copyable)

    monkeypatch.setattr(incremental, "explain", spy)
    return seen


def test_a_keyless_tables_changed_rows_are_read_where_the_sync_found_them(
    copied_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """splits has no index on its key: the sync records each changed key's ctid (or that it
    is gone), and the incremental validation reads just those rows; a row that moved since
    (updated again, not synced) sends it back to one pass over the whole table, which names
    it; a target row changed by hand is named either way."""
    with psycopg.connect(copied_dsn, autocommit=True) as conn:
        conn.execute("UPDATE splits.raw_mlb_betting_splits SET book = 'changed' WHERE id IN (40, 300, 812)")
        conn.execute("DELETE FROM splits.raw_mlb_betting_splits WHERE id IN (9, 501)")  # no key printed
    assert api.run(copied_dsn, incremental=True).ok
    recorded = dict(
        q_rows(copied_dsn, "SELECT k, tid IS NOT NULL OR gone FROM public.migration_dirty_keys WHERE part = %s", SPLITS)
    )
    assert {k for k, known in recorded.items() if known} >= {"40", "300", "812", "9", "501"}
    conditions = _splits_source_conditions(monkeypatch)
    splits = _result(api.validate(copied_dsn, incremental=True), SPLITS)
    assert splits.status == "passed", splits.message
    assert conditions and all("ctid = ANY" in c for c in conditions), conditions  # no pass over the table

    with psycopg.connect(copied_dsn, autocommit=True) as conn:
        conn.execute("UPDATE raw_data.raw_mlb_betting_splits SET book = 'by hand' WHERE id = 40")
    conditions.clear()
    splits = _result(api.validate(copied_dsn, incremental=True), SPLITS)
    assert splits.status == "failed" and "1 changed e.g. keys 40" in splits.message, splits.message
    assert all("ctid = ANY" in c for c in conditions), conditions

    with psycopg.connect(copied_dsn, autocommit=True) as conn:  # legacy changes again, not synced: the row moves
        conn.execute("UPDATE splits.raw_mlb_betting_splits SET book = 'again' WHERE id = 300")
    conditions.clear()
    splits = _result(api.validate(copied_dsn, incremental=True), SPLITS)
    assert splits.status == "failed" and "300" in splits.message, splits.message
    assert conditions and not any("ctid = ANY" in c for c in conditions), conditions  # the whole table, once


def test_a_keyless_tables_key_held_twice_is_rejected_not_a_failed_run(copied_dsn: str) -> None:
    """A changed legacy key that two rows of the keyless splits hold: one statement marks
    every changed key dirty with its row's place (change_apply._mark_changed), and it takes
    one of the two places; marking both would have ON CONFLICT update one mark twice, which
    PostgreSQL refuses, and the run would stop on it. The two rows are rejects, as in a copy."""
    with psycopg.connect(copied_dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO splits.raw_mlb_betting_splits SELECT * FROM splits.raw_mlb_betting_splits WHERE id = 40"
        )
        conn.execute("UPDATE splits.raw_mlb_betting_splits SET book = 'changed' WHERE id IN (40, 300)")
    report = api.run(copied_dsn, incremental=True)
    splits = _result(report.results, SPLITS)
    assert splits.status == "failed" and splits.rejected == 2, splits.message  # both rows: neither wins
    rejects = q_rows(copied_dsn, "SELECT legacy_key, reason FROM migration_rejects WHERE mapping = %s", SPLITS)
    assert set(rejects) == {("40", "duplicate legacy key (2 rows)")}, rejects
    assert [r.name for r in report.results if r.status != "passed"] == [SPLITS]


def q_rows(dsn: str, query: str, *args: object) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(query, args or None).fetchall()


@pytest.mark.parametrize(
    ("batch", "type_"),
    [
        ([5, -7, 2**40], "bigint"),
        (["a", 'b"c', "d'e", "f\\g", "", "x y", "NULL", "{}", "ü", "1,2"], "text"),
        ([], "integer"),
    ],
)
def test_a_batch_of_keys_is_one_array_constant_that_holds_exactly_the_keys(
    fresh_dsn: str, batch: list, type_: str
) -> None:
    """key_sets.among dumps the batch once into array text: every key comes back as it was,
    quotes, backslashes, braces, commas and the word NULL included."""
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        found = conn.execute(
            sql.SQL(
                "SELECT array_agg(k ORDER BY o) FROM unnest(CAST(%s AS {}[])) WITH ORDINALITY AS u (k, o) WHERE {}"
            ).format(sql.SQL(type_), key_sets.among(sql.Identifier("k"), batch, type_)),
            (batch,),
        ).fetchone()
    assert found is not None and (found[0] or []) == batch
