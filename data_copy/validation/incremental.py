"""The incremental validation: only the keys written since the last full one (their record:
state/dirty_keys.py) are re-hashed, on both sides.

Why keys, not chunks, and what an incremental validation cannot see: chunks.py's docstring."""

from collections.abc import Iterable

import psycopg
from psycopg import sql

from data_copy.core import planner
from data_copy.core.ident import ident
from data_copy.mapping_sql import key_sets
from data_copy.mapping_sql.key_sets import NUMERIC_KEY
from data_copy.mapping_sql.projection import SOURCE, Part
from data_copy.state.ownership import departed
from data_copy.state.schema import CHUNKS, DIRTY, EVENTS
from data_copy.validation.chunks import (
    ChunkedCheck,
    chunked,
    key_indexed,
    rejected_rows,
    source_key,
    target_key,
)
from data_copy.validation.part_check import SAMPLES, PartCheck, explain, merge_differences


def _dirty_keys(part: Part) -> sql.Composed:
    """SELECT the part's (numeric) dirty keys as bigint."""
    return sql.SQL("SELECT CAST(d.k AS bigint) FROM {d} AS d WHERE d.part = {p} AND d.k ~ {num}").format(
        d=DIRTY, p=sql.Literal(part.name), num=sql.Literal(NUMERIC_KEY)
    )


def _dirty_text(part: Part) -> sql.Composed:
    return sql.SQL("SELECT d.k FROM {} AS d WHERE d.part = {}").format(DIRTY, sql.Literal(part.name))


def _recorded_where(conn: psycopg.Connection, part: Part) -> bool:
    """Whether the sync's record of where the part's dirty keys' legacy rows are still
    holds (change_apply: a table no index can look keys up in): every key's row is where
    it was (a visible row with that key at that ctid) or the key was gone. Not after a key
    with no record, a row updated or moved since, a VACUUM FULL: then one pass over the
    whole table reads them."""
    row = conn.execute(
        sql.SQL(
            "SELECT count(*) FILTER (WHERE d.tid IS NULL AND d.gone IS NOT TRUE),"
            " count(*) FILTER (WHERE d.tid IS NOT NULL AND r.c IS NULL)"
            " FROM {d} AS d LEFT JOIN (SELECT s.ctid AS c, CAST(s.{key} AS text) AS k FROM {legacy} AS s"
            " WHERE s.ctid = ANY(ARRAY(SELECT tid FROM {d} WHERE part = {p} AND tid IS NOT NULL))) AS r"
            " ON r.c = d.tid AND r.k = d.k WHERE d.part = {p}"
        ).format(
            d=DIRTY, key=sql.Identifier(part.source_key), legacy=ident(part.source_table), p=sql.Literal(part.name)
        )
    ).fetchone()
    return row is not None and int(row[0]) == 0 and int(row[1]) == 0


def _diff_batch(
    conn: psycopg.Connection, part: Part, result: ChunkedCheck, source_cond: sql.Composable, keys: list
) -> None:
    found = PartCheck(part.name, 0, 0)
    target_cond = key_sets.among(target_key(part), keys, "bigint")  # by the new table's key index
    explain(conn, part, found, source_cond=source_cond, target_cond=target_cond, copyable=True)
    merge_differences(result, found)


def _diff_dirty(conn: psycopg.Connection, part: Part, result: ChunkedCheck) -> None:
    """Missing, extra, changed or no longer copyable rows among the dirty keys (key_sets:
    by index a batch at a time; where legacy has no index, at the ctids the sync recorded,
    else in one hashed pass)."""
    if key_indexed(conn, part):
        for batch in key_sets.batches(conn, _dirty_keys(part)):
            _diff_batch(conn, part, result, key_sets.among(source_key(part), batch, "bigint"), batch)
        return
    if _recorded_where(conn, part):  # the legacy rows by their ctids, the new ones by index
        recorded = sql.SQL("SELECT CAST(k AS bigint), tid FROM {} WHERE part = {} ORDER BY 1").format(
            DIRTY, sql.Literal(part.name)
        )
        for rows in key_sets.row_batches(conn, recorded):
            ctids = [str(tid) for _, tid in rows if tid is not None]
            where = key_sets.among(sql.SQL("{}.ctid").format(sql.Identifier(SOURCE)), ctids, "tid")
            _diff_batch(conn, part, result, where, [k for k, _ in rows])
        return
    explain(
        conn,
        part,
        result,
        source_cond=key_sets.among_all(source_key(part), _dirty_keys(part)),
        target_cond=key_sets.among_all(target_key(part), _dirty_keys(part)),
        copyable=True,
    )


def incremental_check(conn: psycopg.Connection, part: Part) -> ChunkedCheck | None:
    """Re-hashes only the part's dirty keys, on both sides. None when that cannot stand for
    a validation: no full one stored its chunks yet, or not since the phase last changed (in
    phase 2 the application wrote keys nobody marked), the last full one differed, or a part
    that is not chunked by key has changes (its full check is cheap: a small table)."""
    row = conn.execute(
        sql.SQL(
            "SELECT count(*), sum(source_count), sum(target_count), sum(source_hash), sum(target_hash),"
            " bool_and(source_count = target_count AND source_hash = target_hash), min(validated_at),"
            " min(validated_at) > (SELECT max(recorded_at) FROM {})"
            " FROM {} WHERE part = %s"
        ).format(EVENTS, CHUNKS),
        (part.name,),
    ).fetchone()
    if not row or not row[0] or not row[5] or row[7] is False:  # the phase changed since: the app wrote
        return None
    dirty = conn.execute(
        sql.SQL("SELECT count(*), count(*) FILTER (WHERE k !~ %s) FROM {} WHERE part = %s").format(DIRTY),
        (NUMERIC_KEY, part.name),
    ).fetchone()
    n_dirty, odd = (int(dirty[0]), int(dirty[1])) if dirty else (0, 0)
    if n_dirty and (odd or not chunked(part)):
        return None
    result = ChunkedCheck(
        part.name,
        int(row[1]),
        int(row[2]),
        str(row[3]),
        str(row[4]),
        rejected_rows(conn, part),
        incremental=True,
        verified_keys=n_dirty,
        chunks=int(row[0]),
        full_at=row[6],
    )
    if n_dirty:
        with planner.keyed(conn):
            _diff_dirty(conn, part, result)
    return result


def dirty_foreign(conn: psycopg.Connection, part: Part) -> tuple[int, list[str]]:
    """Phase 1, incremental: dirty keys whose new-table row is not what data_copy wrote
    (differs from, or is missing from, its ownership baseline, or was deleted from the table)."""
    if chunked(part):  # per batch (the target's key index): over the row t, over the key text k
        batches: Iterable[tuple[sql.Composable, sql.Composable]] = (
            (
                key_sets.among(target_key(part), batch, "bigint"),
                key_sets.among(sql.Identifier("k"), [str(k) for k in batch], "text"),
            )
            for batch in key_sets.batches(conn, _dirty_keys(part))
        )
    else:
        batches = [
            (
                sql.SQL("CAST(t.{} AS text) IN ({})").format(sql.Identifier(part.target_key), _dirty_text(part)),
                sql.SQL("k IN ({})").format(_dirty_text(part)),
            )
        ]
    with planner.keyed(conn):
        return _foreign_batches(conn, part, batches)


def _foreign_batches(
    conn: psycopg.Connection, part: Part, batches: Iterable[tuple[sql.Composable, sql.Composable]]
) -> tuple[int, list[str]]:
    total, samples = 0, list[str]()
    for dirty, dirty_k in batches:
        query = sql.SQL("SELECT count(*), (array_agg(k ORDER BY k))[1:{n}] FROM ({departed}) AS x").format(
            n=sql.Literal(SAMPLES), departed=departed(part, dirty, dirty_k)
        )
        row = conn.execute(query).fetchone()
        if row:
            total += int(row[0])
            samples = sorted([*samples, *(row[1] or [])])[:SAMPLES]
    return total, samples


# ----------------------------------------------------------------------- cleanup guard
