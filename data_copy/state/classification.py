"""Every key of a Part, three ways: legacy now (s), the new table now (t), the baseline of
what data_copy wrote (o, state/ownership.py). Each key is one kind (in sync, legacy
changed, the application's, a conflict...): phase 2's validation, the conflicts list, the
rollback and carry-back classify keys here, all of them or some (`Keys`: by index, a batch
of constant arrays at a time)."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import psycopg
from psycopg import sql

from catalog.legacy import legacy_table
from data_copy.mapping_sql import key_sets
from data_copy.mapping_sql.projection import SOURCE, Part
from data_copy.state.ownership import (
    SAMPLES,
    baseline,
    source_hash,
    source_key_text,
    target_hash,
    target_key_text,
    unmapped_hash,
)
from data_copy.state.schema import OWNED

_TRUE = sql.SQL("TRUE")

# kind of a key, from the three sides (s = legacy, t = new table, o = baseline); the new
# row is the baseline's only if its unmapped columns are too (t.u = o.u): a row the
# application changed only there is its own, and a legacy change to it a conflict
_KIND = """CASE
  WHEN s.k IS NOT NULL AND t.k IS NOT NULL AND t.h = s.h AND o.h IS DISTINCT FROM s.h THEN 'in_sync_unrecorded'
  WHEN s.k IS NOT NULL AND t.k IS NOT NULL AND t.h = s.h THEN 'in_sync'
  WHEN s.k IS NOT NULL AND t.k IS NOT NULL AND o.k IS NOT NULL AND t.h = o.h AND t.u = o.u THEN 'legacy_changed'
  WHEN s.k IS NOT NULL AND t.k IS NOT NULL AND o.k IS NOT NULL AND s.h = o.h THEN 'app_changed'
  WHEN s.k IS NOT NULL AND t.k IS NOT NULL AND o.k IS NOT NULL THEN 'conflict_both_changed'
  WHEN s.k IS NOT NULL AND t.k IS NOT NULL THEN 'conflict_both_inserted'
  WHEN s.k IS NOT NULL AND o.k IS NOT NULL AND s.h = o.h THEN 'app_deleted'
  WHEN s.k IS NOT NULL AND o.k IS NOT NULL THEN 'conflict_deleted_changed'
  WHEN s.k IS NOT NULL THEN 'legacy_inserted'
  WHEN t.k IS NOT NULL AND o.k IS NOT NULL AND t.h = o.h AND t.u = o.u THEN 'legacy_deleted'
  WHEN t.k IS NOT NULL AND o.k IS NOT NULL THEN 'conflict_changed_deleted'
  WHEN t.k IS NOT NULL THEN 'app_created'
  ELSE 'both_deleted' END"""

# the kinds of a key legacy holds a row for (a row that fits: one that does not has no kind)
LEGACY_SIDE = (
    "in_sync_unrecorded",
    "in_sync",
    "legacy_changed",
    "app_changed",
    "conflict_both_changed",
    "conflict_both_inserted",
    "app_deleted",
    "conflict_deleted_changed",
    "legacy_inserted",
)
# equal on both sides, the baseline behind (repair_baseline records them)
UNRECORDED = ("in_sync_unrecorded", "both_deleted")
# still to bring over (a sync leaves none: validation fails while any remain)
PENDING = ("legacy_changed", "legacy_inserted", "legacy_deleted")
APP = ("app_created", "app_changed", "app_deleted")
CONFLICTS = (
    "conflict_both_changed",
    "conflict_both_inserted",
    "conflict_deleted_changed",
    "conflict_changed_deleted",
)


@dataclass(frozen=True)
class Keys:
    """Some keys of a part, as each side looks them up: a condition over the legacy row `s`,
    over the new table's row `t`, over a key as text `k` (the baseline's, a conflict's).
    All keys by default."""

    source: sql.Composable = field(default_factory=lambda: _TRUE)
    target: sql.Composable = field(default_factory=lambda: _TRUE)
    text: sql.Composable = field(default_factory=lambda: _TRUE)


ALL_KEYS = Keys()


def keys_in(part: Part, batch: list[str], located: sql.Identifier | None = None) -> Keys:
    """The key texts of `batch` as constant arrays (the planner sees how many: index lookups
    for a few, where a subquery's estimate comes from statistics our own marks outdate); the
    legacy rows, for a table no index looks keys up in, at the ctids `located` holds
    (key_sets.located_rows)."""
    source_type = legacy_table(part.source_table).column(part.source_key).type
    target_type = part.target.column(part.target_key).type
    source = key_sets.among(sql.Identifier(SOURCE, part.source_key), batch, source_type)
    if located is not None:
        source = sql.SQL("{}.ctid = ANY(ARRAY(SELECT c FROM {} WHERE {}))").format(
            sql.Identifier(SOURCE), located, key_sets.among(sql.Identifier("k"), batch, "text")
        )
    return Keys(
        source=source,
        target=key_sets.among(sql.Identifier("t", part.target_key), batch, target_type),
        text=key_sets.among(sql.Identifier("k"), batch, "text"),
    )


def key_batches(conn: psycopg.Connection, part: Part, texts: sql.Composable) -> Iterator[Keys]:
    """The key texts `texts` (a SELECT ordered by k) as `keys_in`, a batch at a time; for a
    legacy table no index looks keys up in, its rows are located by one parallel pass first
    (inside a REPEATABLE READ transaction; else each batch is its own hashed pass)."""
    located = None
    if not key_sets.indexed(conn, part.source_table, part.source_key):
        as_source = sql.SQL("SELECT CAST(k AS {}) FROM ({}) AS c").format(
            sql.SQL(legacy_table(part.source_table).column(part.source_key).type), texts
        )
        _, located = key_sets.located_rows(conn, part.source_table, SOURCE, part.source_key, as_source)
    for batch in key_sets.batches(conn, sql.SQL("SELECT k FROM ({}) AS w ORDER BY k").format(texts)):
        yield keys_in(part, batch, located)


def _sides(part: Part, keys: Keys = ALL_KEYS) -> sql.Composed:
    """FROM clause joining the three sides by key text: s(k, h), t(k, h, u, tk), o(k, h, u)."""
    src = part.select(sql.SQL("{} AS k, {} AS h").format(source_key_text(part), source_hash(part)), keys.source)
    tgt = sql.SQL("{} AND ({})").format(
        part.select_target(
            sql.SQL("{} AS k, {} AS h, {} AS u, CAST(t.{} AS text) AS tk").format(
                target_key_text(part),
                target_hash(part),
                unmapped_hash(part),
                sql.Identifier(part.target.primary_key[0]),
            ),
        ),
        keys.target,
    )
    own = baseline(part, keys.target, keys.text)
    return sql.SQL(
        "({src}) AS s FULL JOIN ({tgt}) AS t ON t.k = s.k FULL JOIN ({own}) AS o ON o.k = coalesce(s.k, t.k)"
    ).format(src=src, tgt=tgt, own=own)


@dataclass
class Classes:
    """Per kind: how many keys, and a few samples (the key, or the new table's primary key
    for rows without one)."""

    counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[str]] = field(default_factory=dict)
    # checksums in part_check's format (sum of the row hashes), legacy side and new side
    source_checksum: str = "0"
    target_checksum: str = "0"

    def add(self, kind: str, n: int, samples: list | None) -> None:
        self.counts[kind] = n
        self.samples[kind] = [str(s) for s in samples or []]

    def merge(self, other: "Classes") -> None:
        """Adds another batch of keys' classes (counts, the first samples, checksums)."""
        for kind, n in other.counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + n
            self.samples[kind] = sorted([*self.samples.get(kind, []), *other.samples.get(kind, [])])[:SAMPLES]
        self.source_checksum = str(Decimal(self.source_checksum) + Decimal(other.source_checksum))
        self.target_checksum = str(Decimal(self.target_checksum) + Decimal(other.target_checksum))

    def n(self, *kinds: str) -> int:
        return sum(self.counts.get(k, 0) for k in kinds)

    def describe(self, kinds: tuple[str, ...]) -> str:
        return "; ".join(
            f"{self.counts[k]} {k.replace('_', ' ')} e.g. keys {', '.join(self.samples[k])}"
            for k in kinds
            if self.counts.get(k)
        )


def classified(part: Part, keys: Keys = ALL_KEYS) -> sql.Composed:
    """SELECT kind, label (the key, or the new table's primary key for rows without one)
    for every key of the part (of `keys`)."""
    return sql.SQL(
        "SELECT {kind} AS kind, coalesce(s.k, t.k, o.k, 'new id ' || t.tk) AS label, s.h AS sh, t.h AS th FROM {sides}"
    ).format(kind=sql.SQL(_KIND), sides=_sides(part, keys))


def _tally(conn: psycopg.Connection, rows: sql.Composable, quiet: tuple[str, ...] = ()) -> Classes:
    """Counts, samples (none for the `quiet` kinds) and checksums per kind of `rows`
    (SELECT kind, label, sh, th ...)."""
    query = sql.SQL(
        "SELECT kind, count(*), (array_agg(label ORDER BY label) FILTER (WHERE kind <> ALL({quiet})))[1:{n}],"
        " coalesce(sum(sh), 0), coalesce(sum(th), 0)"
        " FROM ({rows}) AS x GROUP BY kind"
    ).format(quiet=sql.Literal(list(quiet)), n=sql.Literal(SAMPLES), rows=rows)
    result = Classes()
    source_sum = target_sum = Decimal(0)
    for kind, n, samples, sh, th in conn.execute(query):
        result.add(kind, n, samples)
        source_sum, target_sum = source_sum + sh, target_sum + th
    result.source_checksum, result.target_checksum = str(source_sum), str(target_sum)
    return result


def classify(conn: psycopg.Connection, part: Part, keys: Keys = ALL_KEYS) -> Classes:
    return _tally(conn, classified(part, keys), quiet=("in_sync", "in_sync_unrecorded"))


def foreign_rows(conn: psycopg.Connection, part: Part) -> Classes:
    """Phase 1: rows of the new table equal neither to what data_copy wrote nor to what
    legacy says now, and recorded rows whose unmapped columns someone changed (legacy
    has nothing to compare them with). Rows equal to legacy now are adopted into the
    baseline by `repair_baseline`."""
    rows = sql.SQL(
        "SELECT CASE WHEN o.k IS NULL THEN 'not_written_by_data_copy' ELSE 'changed_by_someone_else' END AS kind,"
        " coalesce(t.k, 'new id ' || t.tk) AS label, s.h AS sh, t.h AS th FROM {sides}"
        " WHERE t.tk IS NOT NULL AND ((t.h IS DISTINCT FROM o.h AND t.h IS DISTINCT FROM s.h)"
        " OR (o.k IS NOT NULL AND t.u IS DISTINCT FROM o.u))"
    ).format(sides=_sides(part))
    return _tally(conn, rows)


def repair_baseline(conn: psycopg.Connection, part: Part, keys: Keys = ALL_KEYS) -> int:
    """Keys (of `keys`) where legacy and the new table agree become in sync in the baseline
    (rows copied before the baseline existed, or both sides changed the same way: a
    recorded unmapped hash stays, so the application's change there stays its own);
    baseline keys gone from both sides are forgotten."""
    agree = sql.SQL(
        "INSERT INTO {o} AS b (part, k, h, u) SELECT {p}, s.k, s.h, t.u FROM {sides}"
        " WHERE s.k IS NOT NULL AND t.h = s.h AND o.h IS DISTINCT FROM s.h"
        " ON CONFLICT (part, k) DO UPDATE SET h = EXCLUDED.h, u = coalesce(b.u, EXCLUDED.u)"
    ).format(o=OWNED, p=sql.Literal(part.name), sides=_sides(part, keys))
    gone = sql.SQL(
        "DELETE FROM {o} AS b USING (SELECT o.k FROM {sides}"
        " WHERE s.k IS NULL AND t.k IS NULL AND o.k IS NOT NULL) AS g"
        " WHERE b.part = {p} AND b.k = g.k"
    ).format(o=OWNED, p=sql.Literal(part.name), sides=_sides(part, keys))
    with conn.transaction():
        n = conn.execute(agree).rowcount
        n += conn.execute(gone).rowcount
    return max(n, 0)
