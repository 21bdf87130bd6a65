"""The incremental validation: only the keys written since the last full one (their record:
state/dirty_keys.py) are re-hashed, on both sides.

Why keys, not chunks, and what an incremental validation cannot see: chunks.py's docstring."""

from collections.abc import Iterable

import psycopg
from psycopg import sql

from data_copy.core.ident import ident
from data_copy.mapping_sql import key_sets
from data_copy.mapping_sql.projection import Part
from data_copy.state.ownership import baseline, target_hash
from data_copy.state.schema import CHUNKS, DIRTY
from data_copy.validation.chunks import (
    NUMERIC_KEY,
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


def _diff_dirty(conn: psycopg.Connection, part: Part, result: ChunkedCheck) -> None:
    """Missing, extra, changed or no longer copyable rows among the dirty keys (key_sets:
    by index a batch at a time, or in one hashed pass where legacy has no index)."""
    if not key_indexed(conn, part):
        explain(
            conn,
            part,
            result,
            source_cond=key_sets.among_all(source_key(part), _dirty_keys(part)),
            target_cond=key_sets.among_all(target_key(part), _dirty_keys(part)),
            copyable=True,
        )
        return
    for batch in key_sets.batches(conn, _dirty_keys(part)):
        found = PartCheck(part.name, 0, 0)
        explain(
            conn,
            part,
            found,
            source_cond=key_sets.among(source_key(part), batch, "bigint"),
            target_cond=key_sets.among(target_key(part), batch, "bigint"),
            copyable=True,
        )
        merge_differences(result, found)


def incremental_check(conn: psycopg.Connection, part: Part) -> ChunkedCheck | None:
    """Re-hashes only the part's dirty keys, on both sides. None when that cannot stand for
    a validation: no full one stored its chunks yet, the last full one differed, or a part
    that is not chunked by key has changes (its full check is cheap: a small table)."""
    row = conn.execute(
        sql.SQL(
            "SELECT count(*), sum(source_count), sum(target_count), sum(source_hash), sum(target_hash),"
            " bool_and(source_count = target_count AND source_hash = target_hash), min(validated_at)"
            " FROM {} WHERE part = %s"
        ).format(CHUNKS),
        (part.name,),
    ).fetchone()
    if not row or not row[0] or not row[5]:
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
    total, samples = 0, list[str]()
    for dirty, dirty_k in batches:
        query = sql.SQL(
            "SELECT count(*), (array_agg(k ORDER BY k))[1:{n}] FROM ("
            " SELECT coalesce(t.k, o.k) AS k FROM"
            " (SELECT CAST(t.{tk} AS text) AS k, {h} AS h FROM {t} AS t WHERE ({tw}) AND {dirty}) AS t"
            " FULL JOIN ({o}) AS o ON o.k = t.k"
            " WHERE t.h IS DISTINCT FROM o.h) AS x"
        ).format(
            n=sql.Literal(SAMPLES),
            tk=sql.Identifier(part.target_key),
            h=target_hash(part),
            t=ident(part.target.qualified),
            tw=part.target_where,
            dirty=dirty,
            o=baseline(part, dirty, dirty_k),
        )
        row = conn.execute(query).fetchone()
        if row:
            total += int(row[0])
            samples = sorted([*samples, *(row[1] or [])])[:SAMPLES]
    return total, samples


# ----------------------------------------------------------------------- cleanup guard
