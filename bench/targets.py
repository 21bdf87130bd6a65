"""The issues' targets (issue 12, "Targets at large scale"; issue 23, phase 2's sync at the
cost of the change) and the keys every scale carries."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The keys every scale carries in results.json (the list), all numeric.
REQUIRED_KEYS = (
    "baseline_s",
    "resync_ratio",
    "resync_ri_ratio",
    "validate_incremental_ratio",
    "validate_vs_count_ratio",
    "validate_vs_read_ratio",
    "copy_count_ratio",
    "copy_checksum_ratio",
    "both_ways_ratio",
    "follow_lag_p99_s",
    "writer_p99_paced_ratio",
    "paced_copy_ratio",
    "peak_rss_mb",
    "writer_p99_ratio",
    "writer_max_wait_ms",
    "rows_raw_splits",
    "rows_betting_lines",
    "rows_legacy_mapped",
)


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    passes: Callable[[dict[str, float]], bool]
    profile_steps: tuple[str, ...]  # which profiles explain a miss


def num(m: dict[str, Any], key: str) -> float:
    value = m.get(key)
    return float(value) if isinstance(value, int | float) else math.nan


def _at_most(key: str, limit: float) -> Callable[[dict[str, float]], bool]:
    return lambda m: num(m, key) <= limit


TARGETS: tuple[Target, ...] = (
    Target("resync_ratio", "re-sync (1 %) ≤ 0.08× full copy", _at_most("resync_ratio", 0.08), ("resync_checksum",)),
    Target(
        "resync_ri_ratio",
        "re-sync (1 %), replica identity opt-in ≤ 0.05× full copy",
        _at_most("resync_ri_ratio", 0.05),
        ("resync_ri",),
    ),
    Target(
        "both_ways_ratio",
        "one sync both ways (1 % each side) ≤ 0.10× full copy",
        _at_most("both_ways_ratio", 0.10),
        ("both_ways",),
    ),
    Target("follow_lag_p99_s", "run --follow lag p99 ≤ 5 s", _at_most("follow_lag_p99_s", 5.0), ()),
    Target(
        "validate_incremental_ratio",
        "validate after re-sync ≤ 0.1× full",
        _at_most("validate_incremental_ratio", 0.1),
        (),
    ),
    Target(
        "validate_vs_read_ratio",
        "validate ≤ 4× an all-column read",
        _at_most("validate_vs_read_ratio", 4.0),
        ("validate",),
    ),
    Target(
        "copy_count_ratio",
        "copy + count ≤ 1.15× baseline",
        _at_most("copy_count_ratio", 1.15),
        ("copy_count", "baseline"),
    ),
    Target(
        "copy_checksum_ratio",
        "copy + checksums ≤ 1.3× baseline",
        _at_most("copy_checksum_ratio", 1.3),
        ("copy_checksum", "baseline"),
    ),
    Target(
        "writer_p99_paced_ratio",
        "writer p99 ≤ 2× idle (paced)",
        _at_most("writer_p99_paced_ratio", 2.0),
        ("copy_paced",),
    ),
    Target("paced_copy_ratio", "paced copy ≤ 1.5× unpaced", _at_most("paced_copy_ratio", 1.5), ("copy_paced",)),
    Target("peak_rss_mb", "peak RSS < 150 MB", lambda m: num(m, "peak_rss_mb") < 150.0, ()),
    Target(
        "writer_max_wait_ms",
        "no writer wait > lock_timeout",
        lambda m: num(m, "writer_max_wait_ms") <= num(m, "lock_timeout_ms"),
        ("copy_under_load",),
    ),
)
