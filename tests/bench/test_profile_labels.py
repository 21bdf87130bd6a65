"""bench.profile.category names each statement by what it does (pure logic): a copy's or an
apply's write by its target (not by the baseline insert that ends the statement), change
capture's slot read, buffer and advance by those names (not as validation or journal)."""

from bench.profile import category


def test_statements_are_named_by_what_they_do() -> None:
    apply = (
        'WITH w AS (INSERT INTO "raw_data"."raw_mlb_betting_splits" AS t ("id") SELECT 1 RETURNING id)'
        ' INSERT INTO "public"."migration_owned_rows" (part, k, h) SELECT 1'
    )
    assert category(apply) == "copy raw_data.raw_mlb_betting_splits"
    merge = (
        'WITH w AS (WITH matches AS MATERIALIZED (SELECT 1) INSERT INTO "core_betting"."games" AS t SELECT 1) SELECT 1'
    )
    assert category(merge) == "copy core_betting.games"
    gone = (
        'WITH d AS (DELETE FROM "core_betting"."betting_lines_totals" AS t USING x)'
        ' DELETE FROM "public"."migration_owned_rows"'
    )
    assert category(gone) == "delete gone core_betting.betting_lines_totals"
    assert category('FETCH FORWARD 5000 FROM "slot_abc"') == "change capture: slot read"
    assert category('FETCH FORWARD 10000 FROM "keys_abc"') == "apply: keys read"
    assert category('COPY "migration_incoming" (change_lsn, xid, tbl, k, op) FROM STDIN') == "change capture: slot read"
    assert (
        category("SELECT pg_replication_slot_advance(s.slot_name, c.pulled_lsn) FROM x")
        == "change capture: slot advance"
    )
    assert category("SELECT pg_create_logical_replication_slot($1, $2, $3)") == "change capture: running-xacts mark"
    assert category('WITH ref AS (SELECT 1) INSERT INTO "public"."migration_capture_changes" SELECT 1') == (
        "change capture: buffer"
    )
    assert category('INSERT INTO "public"."migration_dirty_keys" (part, k) SELECT 1') == "dirty keys"
    assert (
        category('CREATE TEMP TABLE "gone_keys_1" ON COMMIT DROP AS SELECT 1') == "delete gone: keys of the whole table"
    )
    assert category('INSERT INTO "public"."migration_log" (run_id) VALUES (1)') == "journal"
    assert (
        category("SELECT count(*), coalesce(sum(hash_record_extended(ROW(1), 0)), 0) FROM t") == "validate: checksums"
    )
