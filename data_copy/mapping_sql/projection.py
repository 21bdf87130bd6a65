"""A mapping as SQL: which legacy rows become which target rows, composed with psycopg.sql.

A `Part` is one INSERT ... SELECT shape: most mappings have one; the games merge has two
(public.games rows keyed by id, and splits.games rows that match no public game, keyed by
legacy_splits_id). The copier, the validation and the planner all read the same Part, so a
mapping's SQL exists once.
"""

import re
from dataclasses import dataclass, field

from psycopg import sql

from catalog.legacy import legacy_table
from catalog.mappings import Mapping
from catalog.tables import Table, table
from data_copy.core.ident import ident

SOURCE = "s"  # alias of the legacy table in every SELECT
GAMES = "core_betting.games"
INTEGER_TYPES = {"integer", "bigint", "smallint"}
TRUE = sql.SQL("TRUE")


def col(name: str, alias: str = SOURCE) -> sql.Identifier:
    return sql.Identifier(alias, name)


@dataclass(frozen=True)
class Fit:
    """A condition a legacy row must meet to be copied faithfully, and why."""

    condition: sql.Composable
    reason: str
    detail: sql.Composable | None = None  # appended to the reason, per row (e.g. the missing key)


@dataclass
class Part:
    mapping: Mapping
    label: str
    target: Table
    target_key: str
    source_table: str
    source_key: str  # legacy column the target key comes from (chunking, samples)
    source_key_is_int: bool
    columns: list[str]  # target columns written
    exprs: list[sql.Composable]  # their values, over the legacy row aliased `s`
    joins: sql.Composable = field(default_factory=lambda: sql.SQL(""))
    with_clause: sql.Composable = field(default_factory=lambda: sql.SQL(""))
    where: sql.Composable = field(default_factory=lambda: TRUE)
    target_where: sql.Composable = field(default_factory=lambda: TRUE)
    fits: list[Fit] = field(default_factory=list)
    changed_at: tuple[str, ...] = ()
    # written on insert only, never updated nor compared (ids the target assigns)
    assigned: dict[str, sql.Composable] = field(default_factory=dict)
    # new tables its statements read (game lookups, parent rows): filled before this part
    reads: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.mapping.name if self.label == "" else f"{self.mapping.name}/{self.label}"

    @property
    def joined(self) -> bool:
        """Its legacy rows are read with a join (a game lookup, the merge's pairs): keyed
        statements over it get no nested loops (planner.keyed)."""
        return bool(self.joins.as_string(None).strip())

    def fits_condition(self) -> sql.Composable:
        if not self.fits:
            return TRUE
        return sql.SQL(" AND ").join(sql.SQL("({})").format(f.condition) for f in self.fits)

    def select(
        self,
        what: sql.Composable,
        cond: sql.Composable = TRUE,
        *,
        fitting: bool | None = True,
        with_: bool = True,
        joins: bool = True,
    ) -> sql.Composed:
        """The part's one projection template, over the legacy row aliased `s`:
        `WITH ... SELECT what FROM source AS s joins WHERE (where) AND (fits) AND (cond)`.

        fitting: True keeps the rows that can be copied faithfully, False only those that
        cannot, None every row. with_=False leaves the WITH clause to the caller (who puts
        it before an enclosing statement); joins=False reads the legacy table alone (the
        game lookups are LEFT JOINs on a grouped key, so they never change which rows)."""
        if fitting is None:
            fits: sql.Composable = TRUE
        elif fitting:
            fits = self.fits_condition()
        else:
            fits = sql.SQL("NOT ({})").format(self.fits_condition())
        return sql.SQL(
            "{with_}SELECT {what} FROM {src} AS {s} {joins} WHERE ({where}) AND ({fits}) AND ({cond})"
        ).format(
            with_=self.with_clause if with_ else sql.SQL(""),
            what=what,
            src=ident(self.source_table),
            s=sql.Identifier(SOURCE),
            joins=self.joins if joins else sql.SQL(""),
            where=self.where,
            fits=fits,
            cond=cond,
        )

    def select_target(self, what: sql.Composable, alias: str = "t") -> sql.Composed:
        """`SELECT what FROM target AS t WHERE (target_where)`: the part's rows of the new table."""
        return sql.SQL("SELECT {what} FROM {t} AS {a} WHERE ({tw})").format(
            what=what, t=ident(self.target.qualified), a=sql.Identifier(alias), tw=self.target_where
        )

    def key_expr(self) -> sql.Composable:
        return self.exprs[self.columns.index(self.target_key)]

    def hashed_columns(self) -> list[str]:
        """Columns compared by checksum: every mapped column (assigned ids are not mapped)."""
        return self.columns


def _float_fits_numeric(value: sql.Composable, limit: int, scale: int) -> sql.Composed:
    """The numeric test above for a double precision value, with one conversion where it
    took three (a conversion prints the float to 15 digits: about 0.1 s a column per
    100,000 rows). The value becomes those 15 digits, which carry no trailing zero, so it
    has at most `scale` decimals exactly when its numeric's scale() says so; and it is
    within 5e-15 of the float, so the float decides the limit outside a band 1e-14 wide
    around it (NaN and infinities sort above every limit: they never fit)."""
    return sql.SQL(
        "CASE WHEN abs({v}) < CAST({below} AS double precision) THEN scale(CAST({v} AS numeric)) <= {scale}"
        " WHEN abs({v}) >= CAST({above} AS double precision) THEN false"
        " ELSE abs(CAST({v} AS numeric)) < {limit} AND scale(CAST({v} AS numeric)) <= {scale} END"
    ).format(
        v=value,
        below=sql.Literal(repr(limit * (1 - 1e-14))),
        above=sql.Literal(repr(limit * (1 + 1e-14))),
        limit=sql.Literal(limit),
        scale=sql.Literal(scale),
    )


def _type_fits(value: sql.Composable, source_type: str, target_type: str) -> sql.Composable | None:
    """A condition that is true when `value` survives the cast unchanged, or None if it always does."""
    if source_type == target_type:
        return None
    m = re.fullmatch(r"(?:character varying|character)\((\d+)\)", target_type)
    if m:
        return sql.SQL("length({}) <= {}").format(value, sql.Literal(int(m.group(1))))
    m = re.fullmatch(r"numeric\((\d+),(\d+)\)", target_type)
    if m:
        precision, scale = int(m.group(1)), int(m.group(2))
        src_numeric = re.fullmatch(r"numeric\((\d+),(\d+)\)", source_type)
        if (
            src_numeric
            and int(src_numeric.group(2)) <= scale
            and (int(src_numeric.group(1)) - int(src_numeric.group(2)) <= precision - scale)
        ):
            return None
        limit = 10 ** (precision - scale)
        if source_type == "double precision":
            return _float_fits_numeric(value, limit, scale)
        return sql.SQL(
            "abs(CAST({v} AS numeric)) < {limit} AND CAST({v} AS numeric) = round(CAST({v} AS numeric), {scale})"
        ).format(v=value, limit=sql.Literal(limit), scale=sql.Literal(scale))
    if target_type == "integer" and source_type == "bigint":
        return sql.SQL("{} BETWEEN -2147483648 AND 2147483647").format(value)
    if target_type == "integer" and source_type in ("character varying", "text"):
        return sql.SQL("{} ~ '^-?[0-9]{{1,9}}$'").format(value)
    return None


def _cast(value: sql.Composable, target_type: str) -> sql.Composed:
    return sql.SQL("CAST({} AS {})").format(value, sql.SQL(target_type))


def _derived(template: str) -> sql.Composed:
    names = set(re.findall(r"{(\w+)}", template))
    return sql.SQL(template).format(**{n: col(n) for n in names})


def _not_null(part: Part, target_col: str, value: sql.Composable) -> None:
    if not part.target.column(target_col).nullable:
        part.fits.append(Fit(sql.SQL("{} IS NOT NULL").format(value), f"NULL into NOT NULL {target_col}"))


def _copy_column(part: Part, target_col: str, legacy_col: str, source: str) -> None:
    target_type = part.target.column(target_col).type
    source_type = legacy_table(source).column(legacy_col).type
    value = col(legacy_col)
    part.columns.append(target_col)
    part.exprs.append(_cast(value, target_type))
    fit = _type_fits(value, source_type, target_type)
    if fit is not None:
        part.fits.append(
            Fit(
                sql.SQL("{} IS NULL OR ({})").format(value, fit),
                f"{legacy_col} does not fit {target_type}",
            )
        )
    if legacy_table(source).column(legacy_col).nullable:
        _not_null(part, target_col, value)


def _game_lookup(alias: str, legacy_col: str) -> tuple[sql.Composable, sql.Composable]:
    """Join resolving a legacy text game id to exactly one unified game, and the id expr."""
    join = sql.SQL(
        " LEFT JOIN (SELECT mlb_stats_api_game_id AS k, min(id) AS id, count(*) AS n"
        " FROM {games} WHERE mlb_stats_api_game_id IS NOT NULL GROUP BY 1) AS {a}"
        " ON {a}.k = CAST({src} AS text)"
    ).format(games=ident(GAMES), a=sql.Identifier(alias), src=col(legacy_col))
    return join, sql.SQL("{}.id").format(sql.Identifier(alias))


def _empty_part(m: Mapping, label: str, source: str, key: tuple[str, str]) -> Part:
    """A Part of `m` reading legacy `source`, keyed by (target column, legacy column), no columns yet."""
    return Part(
        mapping=m,
        label=label,
        target=table(m.target),
        target_key=key[0],
        source_table=source,
        source_key=key[1],
        source_key_is_int=legacy_table(source).column(key[1]).type in INTEGER_TYPES,
        columns=[],
        exprs=[],
        changed_at=m.changed_at,
    )


def _simple_part(m: Mapping) -> Part:
    target = table(m.target)
    part = _empty_part(m, "", m.source, m.key)
    for target_col, legacy_col in m.column_pairs():
        _copy_column(part, target_col, legacy_col, m.source)
    for target_col, template in m.derived.items():
        part.columns.append(target_col)
        part.exprs.append(_cast(_derived(template), target.column(target_col).type))
    joins = []
    for i, (target_col, legacy_col) in enumerate(m.game_refs.items()):
        alias = f"g{i}"
        join, expr = _game_lookup(alias, legacy_col)
        part.reads.add(GAMES)
        joins.append(join)
        part.columns.append(target_col)
        part.exprs.append(expr)
        part.fits.append(
            Fit(
                sql.SQL("{a}.id IS NOT NULL AND {a}.n = 1").format(a=sql.Identifier(alias)),
                f"{legacy_col} matches no game (or several) in {GAMES}",
            )
        )
    part.joins = sql.SQL("").join(joins)
    _parents_exist(part, dict(m.column_pairs()))
    return part


def _parents_exist(part: Part, copied: dict[str, str]) -> None:
    """A row whose foreign key (copied as is from legacy) has no parent row is an orphan:
    kept out with its reason, so the foreign key can be created after the load."""
    for fk in part.target.foreign_keys:
        if not all(c in copied for c in fk.columns):
            continue  # resolved by a game lookup, which has its own fit
        values = [part.exprs[part.columns.index(c)] for c in fk.columns]
        part.reads.add(fk.references)
        # IN over an uncorrelated subquery: one hashed subplan per statement, not a probe per row
        part.fits.append(
            Fit(
                sql.SQL("({}) OR ({}) IN (SELECT {} FROM {})").format(
                    sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(v) for v in values),
                    sql.SQL(", ").join(values),
                    sql.SQL(", ").join(sql.Identifier(r) for r in fk.ref_columns),
                    ident(fk.references),
                ),
                f"orphan: no row in {fk.references} ({', '.join(fk.ref_columns)}) for ({', '.join(fk.columns)}) = ",
                sql.SQL("CAST(ROW({}) AS text)").format(sql.SQL(", ").join(values)),
            )
        )


# Matched (primary id, secondary key) pairs: the id match wins over the natural-key match,
# then the lowest primary id; each side is used at most once. Two equi-joins (hash joins)
# rather than one join on "a OR b", which only a nested loop can run. `matches` keeps every
# candidate: a secondary row that matches a primary game already paired with another
# secondary row is a duplicate of that game (reported), never a game of its own.
_PAIRS = """matches AS MATERIALIZED (
  SELECT s2.{s_key} AS sid, p2.id AS pid, true AS by_id
  FROM {secondary} AS s2 JOIN {primary} AS p2 ON p2.{p_id} = s2.{s_id}
  UNION ALL
  SELECT s2.{s_key}, p2.id, false
  FROM {secondary} AS s2 JOIN {primary} AS p2 ON {fields}
), pairs AS (
  SELECT DISTINCT ON (pid) pid, sid FROM (
    SELECT DISTINCT ON (sid) sid, pid, by_id FROM matches ORDER BY sid, by_id DESC, pid
  ) AS candidates ORDER BY pid, by_id DESC, sid
)"""


def pairs_cte(m: Mapping) -> sql.Composed:
    merge = m.merge
    assert merge is not None
    fields = sql.SQL(" AND ").join(
        sql.SQL("p2.{} = CAST(s2.{} AS {})").format(
            sql.Identifier(p),
            sql.Identifier(s),
            sql.SQL(legacy_table(m.source).column(p).type),
        )
        for p, s in merge.match_on_fields
    )
    return sql.SQL(_PAIRS).format(
        s_key=sql.Identifier(merge.key[1]),
        p_id=sql.Identifier(merge.match_on_id[0]),
        s_id=sql.Identifier(merge.match_on_id[1]),
        secondary=ident(merge.source),
        primary=ident(m.source),
        fields=fields,
    )


def _merge_parts(m: Mapping) -> list[Part]:
    """core_betting.games: public.games rows (secondary fills their NULLs) + unmatched splits rows."""
    merge = m.merge
    assert merge is not None
    target = table(m.target)
    secondary = legacy_table(merge.source)
    pairs = pairs_cte(m)
    with_clause = sql.SQL("WITH {} ").format(pairs)
    # Part A: every primary row; the matched secondary row (alias x) fills NULLs.
    primary = _simple_part(m)
    primary.label = "public"
    primary.with_clause = with_clause
    primary.joins = sql.SQL(
        " LEFT JOIN pairs ON pairs.pid = {s}.id LEFT JOIN {sec} AS x ON x.{skey} = pairs.sid"
    ).format(s=sql.Identifier(SOURCE), sec=ident(merge.source), skey=sql.Identifier(merge.key[1]))
    from_secondary = {merge.renames.get(c.name, c.name): c for c in secondary.columns}
    for i, target_col in enumerate(primary.columns):
        sec_col = from_secondary.get(target_col)
        if sec_col is None:
            continue
        filler = _cast(col(sec_col.name, "x"), target.column(target_col).type)
        primary.exprs[i] = sql.SQL("COALESCE({}, {})").format(primary.exprs[i], filler)
    # the secondary's own id column, kept for every matched row
    if merge.key[0] not in primary.columns:
        primary.columns.append(merge.key[0])
        primary.exprs.append(_cast(col(merge.key[1], "x"), target.column(merge.key[0]).type))
    primary.target_where = sql.SQL("{} IN (SELECT id FROM {})").format(sql.Identifier("id"), ident(m.source))
    # Part B: secondary rows that match no primary row; their id is assigned by the target.
    only = _empty_part(m, "splits_only", merge.source, merge.key)
    only.with_clause = with_clause
    only.where = sql.SQL("NOT EXISTS (SELECT 1 FROM pairs WHERE pairs.sid = {}.{})").format(
        sql.Identifier(SOURCE), sql.Identifier(merge.key[1])
    )
    only.target_where = sql.SQL("id NOT IN (SELECT id FROM {})").format(ident(m.source))
    for c in secondary.columns:
        _copy_column(only, merge.renames.get(c.name, c.name), c.name, merge.source)
    only.fits.append(
        Fit(
            # IN, not EXISTS: in a select list an EXISTS runs once per row over the CTE
            # (409 rows x 2.3 ms in the medium fixture's re-sync), IN is one hashed subplan
            sql.SQL(
                "({k} IS NULL OR {k} NOT IN (SELECT matches.sid FROM matches WHERE matches.sid IS NOT NULL))"
            ).format(k=sql.Identifier(SOURCE, merge.key[1])),
            f"duplicate: the same game as {m.source} id ",
            sql.SQL(
                "coalesce((SELECT min(matches.pid)::text FROM matches WHERE matches.sid = {}.{}), '?') || {}"
            ).format(
                sql.Identifier(SOURCE),
                sql.Identifier(merge.key[1]),
                sql.Literal(f", which is merged with another {merge.source} row"),
            ),
        )
    )
    for target_col, template in merge.derived.items():
        only.columns.append(target_col)
        only.exprs.append(_cast(_derived(template), target.column(target_col).type))
    if merge.id_sequence:
        only.assigned["id"] = sql.SQL("nextval({})").format(sql.Literal(merge.id_sequence))
    for column in target.columns:  # NOT NULL target columns the secondary cannot fill
        if not column.nullable and column.name not in only.columns and not column.identity and column.default is None:
            raise ValueError(f"{m.target}.{column.name} has no source in {merge.source}")
    return [primary, only]


def parts(m: Mapping) -> list[Part]:
    return _merge_parts(m) if m.merge else [_simple_part(m)]
