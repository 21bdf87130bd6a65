"""Legacy -> consolidated mappings: the guide's "Source Schema.Table" column, column by column.

Every legacy column lands in a target column: by default the one with the same name,
else the one named in `renames`. Values are cast explicitly to the target column's type;
a value the cast would change (too long, rounded, out of range, NULL into NOT NULL) is
reported with its key instead of being copied. `derived` fills target columns that have
no legacy column of their own from an SQL expression over legacy columns ({name} stands
for a legacy column; naive timestamps are read in the configured legacy time zone).
`game_refs` resolve a legacy text game id to the unified core_betting.games id.
"""

from dataclasses import dataclass, field

from catalog.legacy import legacy_table
from catalog.tables import table


@dataclass(frozen=True)
class GamesMerge:
    """How splits.games joins public.games in core_betting.games (see that table's notes)."""

    source: str  # the secondary legacy table
    key: tuple[str, str]  # (target column, legacy column) that identifies its rows
    renames: dict[str, str]  # legacy column -> target column
    match_on_id: tuple[str, str]  # (primary legacy column, secondary legacy column)
    match_on_fields: tuple[tuple[str, str], ...]  # fallback natural key, pairwise equal
    derived: dict[str, str] = field(default_factory=dict)
    # Ids for secondary-only rows come from this descending sequence (-1, -2, ...): the
    # primary's ids are kept and keep growing while the application writes legacy, so a
    # positive id given to a secondary-only row could later collide with a new primary row.
    id_sequence: str = ""


INVERTS_BY_COLUMNS = (
    "every legacy column lands in one target column (renamed, cast losslessly) and the key is"
    " kept, so casting each back rebuilds the legacy row; derived columns are recomputed from"
    " those (a row whose derived values differ does not round-trip and is refused)"
)
INVERTS_BY_KEPT_GAME_ID = (
    "as by columns, and the legacy text game id is kept in legacy_game_id: a row whose game_id"
    " does not resolve from it (a game only the new tables know) does not round-trip and is refused"
)


@dataclass(frozen=True)
class Mapping:
    name: str  # the registry's logical name of the target
    target: str
    source: str
    key: tuple[str, str] = ("id", "id")  # (target column, legacy column): the row identity across both
    renames: dict[str, str] = field(default_factory=dict)
    derived: dict[str, str] = field(default_factory=dict)
    game_refs: dict[str, str] = field(default_factory=dict)  # target col -> legacy text id
    keep: dict[str, str] = field(default_factory=dict)  # extra copy: legacy col -> target col
    # legacy columns that advance when a row is inserted or changed (re-sync reads rows
    # whose greatest value is recent; validation backs it up for rows that do not set them)
    changed_at: tuple[str, ...] = ()
    merge: GamesMerge | None = None
    # Rollback 2 -> 1 carries the application's rows back into legacy only where the
    # projection inverts exactly; `inversion` says why it does (or why not). Per row, the
    # round trip is checked too: forward(inverse(row)) must give the row back.
    invertible: bool = True
    inversion: str = INVERTS_BY_COLUMNS

    def column_pairs(self) -> list[tuple[str, str]]:
        """(target column, legacy column) for every plainly copied legacy column."""
        source = legacy_table(self.source)
        pairs = []
        for col in source.columns:
            if col.name in self.game_refs.values():
                continue
            pairs.append((self.renames.get(col.name, col.name), col.name))
        pairs.extend((target, legacy) for legacy, target in self.keep.items())
        return pairs

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source, self.merge.source) if self.merge else (self.source,)


_LEGACY_STATUS_TO_PROCESSING = (
    "CASE WHEN {status} IN ('pending', 'processed', 'failed', 'skipped') THEN {status}"
    " WHEN {status} = 'new' THEN 'pending' WHEN {status} IN ('parsed', 'done') THEN 'processed'"
    " WHEN {status} IN ('error', 'failed') THEN 'failed' ELSE 'skipped' END"
)

# a legacy text game_id resolved to the unified game (game_refs), its text kept (keep)
_BY_LEGACY_GAME_ID: dict = {
    "game_refs": {"game_id": "game_id"},
    "keep": {"game_id": "legacy_game_id"},
    "inversion": INVERTS_BY_KEPT_GAME_ID,
}
# the legacy columns most tables set on insert and update (re-sync reads rows changed since)
UPDATED_CREATED = ("updated_at", "created_at")

MAPPINGS: tuple[Mapping, ...] = (
    Mapping(
        "sbr_raw_html",
        "raw_data.sbr_raw_html",
        "public.sbr_raw_html",
        renames={
            "source_url": "url",
            "html_content": "response_html",
            "scraped_at": "scrape_timestamp",
            "status": "legacy_status",
        },
        derived={
            "date_scraped": "CAST({scraped_at} AS date)",
            "processing_status": _LEGACY_STATUS_TO_PROCESSING,
        },
        changed_at=("scraped_at",),
    ),
    Mapping(
        "sbr_parsed_games",
        "raw_data.sbr_parsed_games",
        "public.sbr_parsed_games",
        renames={
            "game_data": "parsed_data",
            "parsed_at": "parsing_timestamp",
            "status": "legacy_status",
        },
        derived={
            "game_date": "CASE WHEN {game_data}->>'game_date' ~ '^\\d{{4}}-\\d{{2}}-\\d{{2}}$' THEN CAST({game_data}->>'game_date' AS date) END",
            "home_team": "CASE WHEN length({game_data}->>'home_team') <= 10 THEN {game_data}->>'home_team' END",
            "away_team": "CASE WHEN length({game_data}->>'away_team') <= 10 THEN {game_data}->>'away_team' END",
            "game_time": "CASE WHEN length({game_data}->>'game_time') <= 20 THEN {game_data}->>'game_time' END",
        },
        changed_at=("parsed_at",),
    ),
    Mapping(
        "raw_betting_splits",
        "raw_data.raw_mlb_betting_splits",
        "splits.raw_mlb_betting_splits",
        changed_at=("updated_at", "last_updated", "created_at"),
    ),
    Mapping("teams", "core_betting.teams", "action.dim_teams", changed_at=UPDATED_CREATED),
    Mapping(
        "games",
        "core_betting.games",
        "public.games",
        changed_at=UPDATED_CREATED,
        merge=GamesMerge(
            source="splits.games",
            key=("legacy_splits_id", "id"),
            renames={
                "id": "legacy_splits_id",
                "game_id": "mlb_stats_api_game_id",
                "status": "game_status",
                "venue": "venue_name",
                "weather_conditions": "weather_condition",
            },
            match_on_id=("mlb_stats_api_game_id", "game_id"),
            match_on_fields=(
                ("home_team", "home_team"),
                ("away_team", "away_team"),
                ("game_datetime", "game_datetime"),
            ),
            id_sequence="core_betting.games_splits_only_id_seq",
            derived={
                # public.games.game_date is the US Eastern local date of the game
                "game_date": "CAST(timezone('America/New_York', CAST({game_datetime} AS timestamptz)) AS date)",
                "season": "CAST(extract(year FROM {game_datetime}) AS integer)",
            },
        ),
        invertible=False,
        inversion=(
            "a merge of public.games and splits.games: a new row cannot be split back (which"
            " table, which columns were filled from which), and splits-only rows carry ids the"
            " new table assigned"
        ),
    ),
    Mapping(
        "game_outcomes",
        "core_betting.game_outcomes",
        "public.game_outcomes",
        changed_at=UPDATED_CREATED,
        **_BY_LEGACY_GAME_ID,
    ),
    Mapping("moneyline", "core_betting.betting_lines_moneyline", "mlb_betting.moneyline", changed_at=UPDATED_CREATED),
    Mapping("spreads", "core_betting.betting_lines_spreads", "mlb_betting.spreads", changed_at=UPDATED_CREATED),
    Mapping(
        "totals",
        "core_betting.betting_lines_totals",
        "mlb_betting.totals",
        renames={"final_total": "total_score"},
        changed_at=UPDATED_CREATED,
    ),
    Mapping(
        "betting_recommendations",
        "analytics.betting_recommendations",
        "clean.betting_recommendations",
        changed_at=("last_updated", "created_at"),
        **_BY_LEGACY_GAME_ID,
    ),
    Mapping(
        "timing_analysis_results",
        "analytics.timing_analysis_results",
        "timing_analysis.timing_bucket_performance",
        derived={
            "analysis_name": "{timing_bucket} || ' ' || {analysis_start_date} || '..' || {analysis_end_date}",
        },
        changed_at=UPDATED_CREATED,
    ),
    Mapping(
        "strategy_performance",
        "operational.strategy_performance",
        "backtesting.strategy_performance",
        changed_at=("last_updated", "created_at"),
    ),
    Mapping(
        "pre_game_recommendations",
        "operational.pre_game_recommendations",
        "tracking.pre_game_recommendations",
        key=("recommendation_id", "recommendation_id"),
        changed_at=UPDATED_CREATED,
    ),
    Mapping(
        "orchestrator_update_triggers",
        "operational.orchestrator_update_triggers",
        "backtesting.orchestrator_update_triggers",
        renames={"status": "legacy_status"},
        derived={
            "status": "CASE upper({status}) WHEN 'PENDING' THEN 'pending' WHEN 'FAILED' THEN 'failed' ELSE 'processed' END",
        },
        changed_at=("triggered_at",),
    ),
)

MAPPINGS_BY_TARGET: dict[str, Mapping] = {m.target: m for m in MAPPINGS}
# every legacy table some mapping copies from, in MAPPINGS order (what phase 3 drops)
MAPPED_SOURCES: tuple[str, ...] = tuple(dict.fromkeys(s for m in MAPPINGS for s in m.sources))
MAPPING_OF_SOURCE: dict[str, Mapping] = {s: m for m in MAPPINGS for s in m.sources}


def copy_order() -> tuple[Mapping, ...]:
    """Mappings ordered so every foreign key's referenced mapped table is filled first."""
    targets = {m.target for m in MAPPINGS}
    done: list[Mapping] = []
    pending = list(MAPPINGS)
    while pending:
        filled = {m.target for m in done}
        for m in pending:
            refs = {fk.references for fk in table(m.target).foreign_keys} & targets
            if refs - {m.target} <= filled:
                done.append(m)
                pending.remove(m)
                break
        else:  # pragma: no cover - a cycle would be a catalog mistake
            raise ValueError("foreign keys between mapped tables form a cycle")
    return tuple(done)
