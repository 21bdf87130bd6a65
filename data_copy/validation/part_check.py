"""Validation: exact counts and order-independent content checksums, computed server-side.

The source side is the mapping's own projection (cast to the target types, merge applied),
so equal checksums mean the target holds exactly what the legacy rows say it should. On a
mismatch the report names the kind (missing, extra, changed) and a few sample keys.
"""

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from catalog.mappings import Mapping
from data_copy.core import planner
from data_copy.mapping_sql.projection import TRUE, Part, parts
from data_copy.mapping_sql.row_hash import FORM, source_hash, target_hash
from data_copy.state.schema import REJECTS

SAMPLES = 5


@dataclass
class PartCheck:
    part: str
    source_count: int
    target_count: int
    source_checksum: str | None = None
    target_checksum: str | None = None
    rejected: int = 0
    differences: dict[str, list[str]] = field(default_factory=dict)  # kind -> sample keys
    difference_counts: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        same = self.source_count == self.target_count and self.rejected == 0
        return same and self.source_checksum == self.target_checksum

    def message(self) -> str:
        if self.passed:
            return ""
        bits = []
        if self.source_count != self.target_count:
            bits.append(f"count {self.source_count} legacy vs {self.target_count} new")
        if self.rejected:
            bits.append(f"{self.rejected} rejected rows (see public.migration_rejects)")
        for kind, keys in self.differences.items():
            bits.append(f"{self.difference_counts[kind]} {kind} e.g. keys {', '.join(map(str, keys))}")
        if not bits:
            bits.append("checksum differs")
        return f"{self.part}: " + "; ".join(bits)


# sum(bigint) is exact (its result is numeric) and, by an int128 accumulator, a third
# cheaper than summing the hashes cast to numeric; the text is the same
_SUM = "coalesce(sum({}){}, 0)::text"


def source_totals(
    conn: psycopg.Connection, part: Part, checksums: bool = True, form: int = FORM
) -> tuple[int, str | None]:
    """One scan: every legacy row of the part (copyable or not), and the checksum of what
    the copyable ones should become (cast, merged), in row hash `form`."""
    hashed = sql.SQL(_SUM).format(source_hash(part, form), sql.SQL(" FILTER (WHERE {})").format(part.fits_condition()))
    what = sql.SQL("count(*), {}").format(hashed if checksums else sql.SQL("NULL"))
    with planner.whole_table(conn):
        row = conn.execute(part.select(what, fitting=None)).fetchone()
    assert row is not None
    return int(row[0]), row[1]


def legacy_rows(conn: psycopg.Connection, part: Part) -> int:
    """Legacy rows of the part, read from legacy tables only: the game lookups are LEFT
    JOINs on a grouped key (never more than one match), so they cannot change the count,
    and leaving them out lets `plan` run before the consolidated tables exist."""
    row = conn.execute(part.select(sql.SQL("count(*)"), fitting=None, joins=False)).fetchone()
    return int(row[0]) if row else 0


def target_totals(conn: psycopg.Connection, part: Part, checksums: bool = True) -> tuple[int, str | None]:
    hashed = sql.SQL(_SUM).format(target_hash(part), sql.SQL(""))
    what = sql.SQL("count(*), {}").format(hashed if checksums else sql.SQL("NULL"))
    with planner.whole_table(conn):
        row = conn.execute(part.select_target(what)).fetchone()
    assert row is not None
    return int(row[0]), row[1]


def source_state(conn: psycopg.Connection, m: Mapping, form: int = FORM) -> tuple[int, str]:
    """(count, checksum) of a mapping's legacy side now, as validation records them (in row
    hash `form`: the one a recorded checksum was computed in)."""
    totals = [source_totals(conn, p, form=form) for p in parts(m)]
    return sum(n for n, _ in totals), "+".join(str(c) for _, c in totals)


def check(conn: psycopg.Connection, part: Part, checksums: bool = True) -> PartCheck:
    source_count, source_checksum = source_totals(conn, part, checksums)
    target_count, target_checksum = target_totals(conn, part, checksums)
    rejected = conn.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE mapping = %s").format(REJECTS), (part.name,)
    ).fetchone()
    assert rejected
    result = PartCheck(part.name, source_count, target_count, source_checksum, target_checksum, rejected[0])
    if not result.passed:
        explain(conn, part, result)
    return result


def explain(
    conn: psycopg.Connection,
    part: Part,
    result: PartCheck,
    source_cond: sql.Composable = TRUE,
    target_cond: sql.Composable = TRUE,
    copyable: bool = False,
) -> None:
    """Finds which keys are missing, extra or changed (only run when something differs),
    among the rows meeting source_cond / target_cond (a key range: chunks.bisect; a
    batch of keys: incremental.py). `copyable`: legacy rows that no longer fit the new table
    are a kind of their own ('not copyable'; a whole check's rejects explain them)."""
    fits = part.fits_condition() if copyable else TRUE
    src = part.select(
        sql.SQL("CAST({k} AS text) AS k, ({fits}) AS ok, CASE WHEN {fits} THEN {h} END AS h").format(
            k=part.key_expr(), fits=fits, h=source_hash(part)
        ),
        source_cond,
        fitting=None if copyable else True,
    )
    tgt = sql.SQL("{} AND ({})").format(
        part.select_target(
            sql.SQL("CAST(t.{} AS text) AS k, {} AS h").format(sql.Identifier(part.target_key), target_hash(part)),
        ),
        target_cond,
    )
    # each side hashed on its own (MATERIALIZED: in parallel workers, before the join); as
    # subqueries of the FULL JOIN their hashes were computed after it, by one process (a
    # large unindexed table's dirty keys: 4.5 s against 2.2 s)
    query = sql.SQL(
        "WITH src AS MATERIALIZED ({src}), tgt AS MATERIALIZED ({tgt})"
        " SELECT kind, count(*), (array_agg(k ORDER BY k))[1:{n}] FROM ("
        " SELECT CASE WHEN src.k IS NOT NULL AND NOT src.ok THEN 'not copyable'"
        " WHEN tgt.k IS NULL THEN 'missing' WHEN src.k IS NULL THEN 'extra' ELSE 'changed' END AS kind,"
        " coalesce(src.k, tgt.k) AS k"
        " FROM src FULL JOIN tgt ON src.k = tgt.k"
        " WHERE src.h IS DISTINCT FROM tgt.h OR (src.k IS NOT NULL AND NOT src.ok)) AS d GROUP BY kind"
    ).format(n=sql.Literal(SAMPLES), src=src, tgt=tgt)
    for kind, n, keys in conn.execute(query):
        result.differences[kind] = list(keys)
        result.difference_counts[kind] = n


def merge_differences(into: PartCheck, found: PartCheck) -> None:
    """Adds `found`'s differences to `into`'s (keys in text order, as one query's)."""
    for kind, keys in found.differences.items():
        into.differences[kind] = sorted({*into.differences.get(kind, []), *keys})[:SAMPLES]
        into.difference_counts[kind] = into.difference_counts.get(kind, 0) + found.difference_counts[kind]
