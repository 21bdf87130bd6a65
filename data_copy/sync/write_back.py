"""Carrying the application's rows of a new table back into its legacy table: the inverse
projection (where the mapping inverts exactly: catalog Mapping.invertible), the per-row
round trip (the inverted legacy row, projected forward again, gives the new row back bit for
bit), the write with the baseline in the same transaction, and the check that every written
row landed as it was (a legacy trigger, generated column or default could change it).

Used by phase 2's sync both ways (sync/both_ways.py), for the keys the application changed,
and by the rollback (switching/carry_back.py), for every row. `keys` (over the new table's
row `t`) and `key_text` (over a key as text, `k`) restrict them to some keys; TRUE: all.
"""

import psycopg
from psycopg import sql

from catalog.legacy import legacy_table
from catalog.mappings import Mapping
from data_copy.core.ident import ident
from data_copy.mapping_sql.projection import SOURCE, TRUE, Part
from data_copy.state import ownership, schema


def app_written(part: Part, keys: sql.Composable = TRUE) -> sql.Composed:
    """The new table's rows (of `keys`) that differ from the baseline (created or changed by others)."""
    return sql.SQL(
        "FROM {t} AS t LEFT JOIN {o} AS o ON o.part = {p} AND o.k = {k}"
        " WHERE ({tw}) AND ({keys}) AND (o.k IS NULL OR o.h <> {h})"
    ).format(
        keys=keys,
        t=ident(part.target.qualified),
        o=schema.OWNED,
        p=sql.Literal(part.name),
        k=ownership.target_key_text(part),
        tw=part.target_where,
        h=ownership.target_hash(part),
    )


def lost_keys(part: Part, key_text: sql.Composable = TRUE) -> sql.Composed:
    """The condition on baseline rows `o` (of `key_text`, over `o.k`) whose key the new table
    lost (the application deleted it)."""
    return sql.SQL("o.part = {p} AND ({kt}) AND NOT EXISTS (SELECT 1 FROM {t} AS t WHERE {k} = o.k)").format(
        p=sql.Literal(part.name), kt=key_text, t=ident(part.target.qualified), k=ownership.target_key_text(part)
    )


def app_deleted(part: Part, key_text: sql.Composable = TRUE) -> sql.Composed:
    """Baseline keys (of `key_text`) the new table lost (deleted by the application)."""
    return sql.SQL("FROM {o} AS o WHERE {lost}").format(o=schema.OWNED, lost=lost_keys(part, key_text))


def inverse_columns(m: Mapping) -> list[tuple[str, str, str]]:
    """(legacy column, its type, the target column it comes back from)."""
    source = legacy_table(m.source)
    back = {legacy: target for target, legacy in m.column_pairs() if legacy not in m.game_refs.values()}
    for legacy, target in m.keep.items():
        back[legacy] = target
    return [(c.name, c.type, back[c.name]) for c in source.columns]


def round_trip(part: Part, temp: sql.Identifier, keys: sql.Composable = TRUE) -> sql.Composed:
    """CREATE TEMP TABLE temp: the inverted legacy row of each application row (of `keys`),
    its key, and whether projecting it forward gives the new row back exactly."""
    cols = inverse_columns(part.mapping)
    inverted = sql.SQL("SELECT {cols}, {k} AS _k, {h} AS _h, {u} AS _u {app}").format(
        cols=sql.SQL(", ").join(
            sql.SQL("CAST(t.{} AS {}) AS {}").format(sql.Identifier(target), sql.SQL(typ), sql.Identifier(legacy))
            for legacy, typ, target in cols
        ),
        k=ownership.target_key_text(part),
        h=ownership.target_hash(part),
        u=ownership.unmapped_hash(part),
        app=app_written(part, keys),
    )
    return sql.SQL(
        "CREATE TEMP TABLE {temp} ON COMMIT DROP AS SELECT {s}.*, ({fh} = {s}._h AND {fits}) AS exact"
        " FROM ({inverted}) AS {s} {joins}"
    ).format(
        temp=temp,
        s=sql.Identifier(SOURCE),
        fh=ownership.source_hash(part),
        fits=part.fits_condition(),
        inverted=inverted,
        joins=part.joins,
    )


def generated_columns(conn: psycopg.Connection, table: str) -> set[str]:
    rows = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attgenerated <> ''", (table,)
    ).fetchall()
    return {r[0] for r in rows}


def not_landed(conn: psycopg.Connection, part: Part, temp: sql.Identifier) -> list[str]:
    """Keys of carried rows (the exact ones of `temp`) whose legacy row, projected forward as
    a sync would, does not give the new row back (a trigger, a generated column or a
    default changed it)."""
    key = legacy_table(part.source_table).column(part.source_key).type
    landed = part.select(
        sql.SQL("{} AS k, {} AS h").format(ownership.source_key_text(part), ownership.source_hash(part)),
        sql.SQL("{} IN (SELECT CAST(c._k AS {}) FROM {} AS c WHERE c.exact)").format(
            sql.Identifier(SOURCE, part.source_key), sql.SQL(key), temp
        ),
    )
    rows = conn.execute(
        sql.SQL(
            "SELECT c._k FROM {temp} AS c WHERE c.exact AND NOT EXISTS"
            " (SELECT 1 FROM ({landed}) AS x WHERE x.k = c._k AND x.h = c._h) ORDER BY 1 LIMIT 5"
        ).format(temp=temp, landed=landed)
    ).fetchall()
    return [str(r[0]) for r in rows]


def write(
    conn: psycopg.Connection, part: Part, temp: sql.Identifier, deleted: sql.Composable = TRUE
) -> tuple[int, int]:
    """Writes the exact rows of `temp` (round_trip) into legacy and deletes the legacy rows
    of the baseline keys (of `deleted`, over `o.k`) the new table lost; the baseline follows,
    in the caller's transaction. (rows written, rows deleted)."""
    generated = generated_columns(conn, part.source_table)
    cols = [legacy for legacy, _, _ in inverse_columns(part.mapping) if legacy not in generated]
    names = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
    values = sql.SQL(", ").join(sql.Identifier("c", c) for c in cols)
    legacy, key = ident(part.source_table), sql.Identifier(part.source_key)
    key_type = sql.SQL(legacy_table(part.source_table).column(part.source_key).type)
    updated = conn.execute(
        sql.SQL(
            "UPDATE {l} AS l SET ({names}) = ROW({values}) FROM {temp} AS c WHERE c.exact AND l.{key} = c.{key}"
        ).format(l=legacy, names=names, values=values, key=key, temp=temp)
    ).rowcount
    inserted = conn.execute(
        sql.SQL(
            "INSERT INTO {l} ({names}) SELECT {values} FROM {temp} AS c"
            " WHERE c.exact AND NOT EXISTS (SELECT 1 FROM {l} AS l WHERE l.{key} = c.{key})"
        ).format(l=legacy, names=names, values=values, key=key, temp=temp)
    ).rowcount
    conn.execute(
        sql.SQL(
            "INSERT INTO {o} (part, k, h, u) SELECT {p}, _k, _h, _u FROM {temp} WHERE exact AND _k IS NOT NULL"
            " ON CONFLICT (part, k) DO UPDATE SET h = EXCLUDED.h, u = EXCLUDED.u"
        ).format(o=schema.OWNED, p=sql.Literal(part.name), temp=temp)
    )
    gone = conn.execute(
        sql.SQL(
            "WITH gone AS (DELETE FROM {o} AS o WHERE {lost} RETURNING o.k)"
            " DELETE FROM {l} AS l USING gone WHERE l.{key} = CAST(gone.k AS {ty})"
        ).format(o=schema.OWNED, lost=lost_keys(part, deleted), l=legacy, key=key, ty=key_type)
    ).rowcount
    return max(updated, 0) + max(inserted, 0), max(gone, 0)
