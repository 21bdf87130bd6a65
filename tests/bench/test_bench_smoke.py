"""The benchmark works end to end at the tiny scale (a check that it runs, not of any time)."""

import json
import math

import pytest

from bench import cli, report

pytestmark = pytest.mark.integration


def test_bench_tiny_end_to_end(fresh_dsn, tmp_path):
    results = tmp_path / "results.json"
    page = tmp_path / "RESULTS.md"

    status = cli.main(
        [
            "--scale",
            "tiny",
            "--dsn",
            fresh_dsn,
            "--json",
            str(results),
            "--markdown",
            str(page),
            "--idle-seconds",
            "1",
        ]
    )

    data = json.loads(results.read_text())
    entry = data["tiny"]
    assert status == 0, entry["errors"]
    for key in report.REQUIRED_KEYS:
        value = entry[key]
        assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
        assert math.isfinite(value), (key, value)
    assert entry["rows_raw_splits"] > 0 and entry["rows_betting_lines"] > 0
    assert entry["baseline_s"] > 0 and entry["peak_rss_mb"] > 0
    # issue 12: the re-sync's mix has deletes, the incremental validation re-hashed the
    # keys the re-sync changed, and a paced copy ran under the writer
    assert entry["activity_deleted_rows"] > 0 and entry["validate_incremental_keys"] > 0
    assert 0 < entry["validate_incremental_s"] and 0 < entry["copy_paced_s"]
    assert set(entry["targets"]) == {t.key for t in report.TARGETS}
    assert data["machine"]["nproc"] >= 1 and data["machine"]["postgresql"]
    text = page.read_text()
    assert "| tiny |" in text and "PostgreSQL" in text


def test_baseline_script_is_the_timed_statements():
    script = cli.baseline.script("UTC")
    statements = cli.baseline.statements()
    assert script.count("INSERT INTO") == sum(s.phase == "insert" for s in statements)
    assert "core_betting" in script and "splits_only" in script
