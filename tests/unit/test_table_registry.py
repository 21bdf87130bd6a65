"""table_registry: what the application reads (no Pulumi, no database)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from catalog.registry import REGISTRY, table_registry
from table_registry import (
    ENV_VAR,
    RegistrySourceError,
    TableRegistryError,
    UnknownTableName,
    from_catalog,
    get_table_registry,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=[1, 2, 3])
def phase(request: pytest.FixtureRequest) -> int:
    return request.param


def test_every_logical_name_of_the_catalog_is_present(phase: int) -> None:
    registry = get_table_registry(table_registry(phase))
    for entry in REGISTRY:
        assert entry.logical in registry
        registry.get_table(entry.logical)
        if entry.legacy:
            assert registry.get_table("legacy_" + entry.logical) == entry.legacy[0]


def test_the_guides_example_switches_with_the_phase() -> None:
    assert get_table_registry(table_registry(1)).get_table("raw_betting_splits") == "splits.raw_mlb_betting_splits"
    assert get_table_registry(table_registry(2)).get_table("raw_betting_splits") == "raw_data.raw_mlb_betting_splits"
    assert get_table_registry(table_registry(3)).get_table("raw_betting_splits") == "raw_data.raw_mlb_betting_splits"


def test_phase_1_points_at_legacy_tables_and_phase_2_at_new_ones() -> None:
    one, two = from_catalog(1), from_catalog(2)
    for entry in REGISTRY:
        assert two.get_table(entry.logical) == entry.table
        assert one.get_table(entry.logical) == (entry.legacy[0] if entry.legacy else entry.table)
    # e.g. the merged games table, and a table the guide marks *New*
    assert one.get_table("games") == "public.games"
    assert two.get_table("games") == "core_betting.games"
    assert one.get_table("steam_moves") == two.get_table("steam_moves") == "core_betting.steam_moves"


def test_legacy_names_are_the_same_in_every_phase() -> None:
    legacy = {p: {n: from_catalog(p).get_table(n) for n in from_catalog(p).legacy_names()} for p in (1, 2, 3)}
    assert legacy[1] == legacy[2] == legacy[3]
    assert legacy[2]["legacy_raw_betting_splits"] == "splits.raw_mlb_betting_splits"
    assert legacy[2]["legacy_games"] == "public.games"
    assert legacy[2]["legacy_splits_games"] == "splits.games"  # the merge's second source


def test_unknown_name_lists_close_matches() -> None:
    registry = from_catalog(2)
    with pytest.raises(UnknownTableName) as caught:
        registry.get_table("raw_betting_split")
    error = caught.value
    assert isinstance(error, KeyError) and isinstance(error, TableRegistryError)
    assert "raw_betting_splits" in error.suggestions
    assert str(error).startswith("unknown table name 'raw_betting_split' (did you mean: raw_betting_splits")
    assert "\n" not in str(error)


def test_unknown_name_without_any_similar_one_says_so() -> None:
    with pytest.raises(UnknownTableName, match="no similar name among the"):
        from_catalog(2).get_table("zzzzqqqq")


def test_substring_suggestions() -> None:
    suggestions = from_catalog(2).close_matches("moneyline_table")
    assert "moneyline" in suggestions


def test_reads_the_exported_file(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(table_registry(2), indent=2))  # what `pulumi stack output --json` writes
    registry = get_table_registry(path)
    assert registry.get_table("raw_betting_splits") == "raw_data.raw_mlb_betting_splits"
    assert get_table_registry(str(path)).as_dict() == table_registry(2)


def test_reads_the_file_named_by_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(table_registry(1)))
    monkeypatch.setenv(ENV_VAR, str(path))
    assert get_table_registry().get_table("raw_betting_splits") == "splits.raw_mlb_betting_splits"
    # a phase change is a re-export: the next lookup sees it, no code change, no restart
    path.write_text(json.dumps(table_registry(2)))
    assert get_table_registry().get_table("raw_betting_splits") == "raw_data.raw_mlb_betting_splits"


def test_accepts_an_object_with_phase_and_tables() -> None:
    registry = get_table_registry({"phase": 2, "tables": table_registry(2)})
    assert registry.phase == 2
    assert registry.get_table("teams") == "core_betting.teams"


def test_missing_env_var_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(RegistrySourceError, match=f"{ENV_VAR} is not set"):
        get_table_registry()


def test_missing_file_names_the_export_command(tmp_path: Path) -> None:
    with pytest.raises(RegistrySourceError, match="pulumi stack output tableRegistry --json"):
        get_table_registry(tmp_path / "absent.json")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ("{}", "empty"),
        ('{"games": "games"}', "schema.table"),
        ('{"games": 3}', "schema.table"),
    ],
)
def test_bad_file_content(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "registry.json"
    path.write_text(content)
    with pytest.raises(RegistrySourceError, match=message):
        get_table_registry(path)


def test_the_registry_cannot_be_changed_by_the_application() -> None:
    registry = from_catalog(2)
    with pytest.raises(TypeError):
        registry.tables["games"] = "public.games"  # type: ignore[index]


def test_importable_without_pulumi(tmp_path: Path) -> None:
    """Application code has neither Pulumi nor psycopg: importing must not need them."""
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(table_registry(2)))
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('pulumi', 'psycopg', 'catalog'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from table_registry import get_table_registry\n"
        f"print(get_table_registry({str(path)!r}).get_table('raw_betting_splits'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "raw_data.raw_mlb_betting_splits"


def test_a_table_sent_back_resolves_to_legacy_in_phase_2_only() -> None:
    """consolidation:legacyTables: one table's rollback while phase 2 syncs it both ways."""
    back = table_registry(2, ("moneyline",))
    assert back["moneyline"] == "mlb_betting.moneyline"
    assert back["spreads"] == table_registry(2)["spreads"] == "core_betting.betting_lines_spreads"
    assert table_registry(3, ("moneyline",))["moneyline"] == "core_betting.betting_lines_moneyline"  # legacy is gone
