"""The games merge's decisions, counted: per column, how many matched pairs disagree.

core_betting.games takes public.games' value where it has one and fills NULLs from the
matched splits.games row (catalog: public wins). Where both have a value and they differ
that is a conflict: counted per column with sample keys (public.games ids), shown in the
run report and written to the games validation's migration_log details.
"""

import psycopg
from psycopg import sql

from catalog.legacy import legacy_table
from catalog.mappings import Mapping
from catalog.tables import table
from data_copy.core.ident import ident
from data_copy.errors import first_line
from data_copy.mapping_sql.projection import pairs_cte

SAMPLES = 5


def columns(m: Mapping) -> list[tuple[str, str, str, str]]:
    """(target column, primary legacy column, secondary legacy column, target type)."""
    merge = m.merge
    assert merge is not None
    target = table(m.target)
    secondary = {merge.renames.get(c.name, c.name): c.name for c in legacy_table(merge.source).columns}
    found = []
    for target_col, primary_col in m.column_pairs():
        # bookkeeping timestamps (changed_at) always differ between two systems: not a conflict
        if target_col in secondary and target_col != merge.key[0] and primary_col not in m.changed_at:
            found.append((target_col, primary_col, secondary[target_col], target.column(target_col).type))
    return found


def count(conn: psycopg.Connection, m: Mapping) -> dict[str, dict[str, object]]:
    """target column -> {"count": n, "sample_keys": [public ids]} for columns with conflicts."""
    if m.merge is None:
        return {}
    merge = m.merge
    cols = columns(m)
    if not cols:
        return {}
    aggregates = []
    for _, primary_col, secondary_col, type_ in cols:
        differs = sql.SQL("CAST(p.{} AS {t}) <> CAST(x.{} AS {t})").format(
            sql.Identifier(primary_col), sql.Identifier(secondary_col), t=sql.SQL(type_)
        )
        aggregates.append(
            sql.SQL("count(*) FILTER (WHERE {d}), (array_agg(p.id ORDER BY p.id) FILTER (WHERE {d}))[1:{n}]").format(
                d=differs, n=sql.Literal(SAMPLES)
            )
        )
    query = sql.SQL(
        "WITH {pairs} SELECT {aggs} FROM pairs JOIN {primary} AS p ON p.id = pairs.pid"
        " JOIN {secondary} AS x ON x.{skey} = pairs.sid"
    ).format(
        pairs=pairs_cte(m),
        aggs=sql.SQL(", ").join(aggregates),
        primary=ident(m.source),
        secondary=ident(merge.source),
        skey=sql.Identifier(merge.key[1]),
    )
    try:
        with conn.transaction():  # a savepoint: a value that does not cast spoils nothing
            row = conn.execute(query).fetchone()
    except psycopg.errors.DataError as error:
        return {"(not counted)": {"count": 0, "sample_keys": [], "error": first_line(error)}}
    assert row is not None
    found: dict[str, dict[str, object]] = {}
    for i, (target_col, _, _, _) in enumerate(cols):
        n, keys = row[2 * i], row[2 * i + 1]
        if n:
            found[target_col] = {"count": int(n), "sample_keys": [str(k) for k in keys or []]}
    return found


def describe(conflicts: dict[str, dict[str, object]]) -> str:
    return "; ".join(
        f"{col} {c['count']:,} e.g. ids {', '.join(c['sample_keys'])}"  # type: ignore[arg-type]
        for col, c in sorted(conflicts.items(), key=lambda kv: -int(kv[1]["count"]))  # type: ignore[call-overload]
    )
