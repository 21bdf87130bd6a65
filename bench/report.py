"""Targets, the terminal table, ``bench/results.json`` and ``bench/RESULTS.md``."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.scenario import ScaleResult
from bench.targets import REQUIRED_KEYS, TARGETS, num

_num = num
__all__ = ["REQUIRED_KEYS", "TARGETS"]

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_JSON = BENCH_DIR / "results.json"
RESULTS_MD = BENCH_DIR / "RESULTS.md"

RSS_FLAT_FACTOR = 1.25  # the largest scale's peak RSS within 25 % of the smallest's
ANALYSIS_MD = BENCH_DIR / "ANALYSIS.md"  # hand-written: why each missed target cannot go lower


def scale_entry(result: ScaleResult, commit: str) -> dict[str, Any]:
    """One scale's results.json entry: the numeric metrics flat, details below them."""
    entry: dict[str, Any] = {k: None if math.isnan(v) else round(v, 4) for k, v in sorted(result.metrics.items())}
    entry["targets"] = {t.key: bool(t.passes(result.metrics)) for t in TARGETS}
    entry["rows"] = result.rows
    entry["steps_s"] = {k: round(v, 3) for k, v in result.steps.items()}
    entry["runs_s"] = result.runs
    entry["errors"] = result.errors
    entry["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    entry["commit"] = commit
    entry["writer_waits"] = result.writer_waits
    entry["profile"] = result.profiles
    entry["breakdown_s"] = {step: {k: round(v, 3) for k, v in cats.items()} for step, cats in result.breakdown.items()}
    entry["baseline_statements"] = result.baseline_statements
    entry["rss_samples_mb"] = result.rss_samples_mb
    return entry


SCALE_ORDER = ("tiny", "small", "demo", "medium", "large")


def _ordered(scales: dict[str, Any]) -> list[str]:
    return sorted(scales, key=lambda s: (SCALE_ORDER.index(s) if s in SCALE_ORDER else 99, s))


def load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def merge(path: Path, machine: dict[str, Any], entries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """results.json with these scales replaced; other scales from an earlier run are kept."""
    data = load(path)
    data["machine"] = machine
    data.update(entries)
    ordered = {"machine": data.pop("machine")}
    for scale in _ordered({k: v for k, v in data.items() if isinstance(v, dict)}):
        ordered[scale] = data[scale]
    return ordered


def scales_of(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in data.items() if k != "machine" and isinstance(v, dict)}


def rss_flat(data: dict[str, Any]) -> tuple[bool, str]:
    values = {s: _num(e, "peak_rss_mb") for s, e in scales_of(data).items()}
    values = {s: v for s, v in values.items() if not math.isnan(v)}
    if len(values) < 2:
        return True, "one scale only"
    low, high = min(values.values()), max(values.values())
    text = ", ".join(f"{s} {v:.0f} MB" for s, v in values.items())
    return high <= low * RSS_FLAT_FACTOR, f"{text} (max/min {high / low:.2f}, flat ≤ {RSS_FLAT_FACTOR})"


# ---------------------------------------------------------------------------- rendering


def _fmt(value: float, digits: int = 2) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


COLUMNS: tuple[tuple[str, str, Callable[[dict[str, Any]], str]], ...] = (
    ("splits\nrows", "", lambda e: f"{_num(e, 'rows_raw_splits'):,.0f}"),
    ("betting\nlines", "", lambda e: f"{_num(e, 'rows_betting_lines'):,.0f}"),
    ("baseline\ns", "", lambda e: _fmt(_num(e, "baseline_s"), 1)),
    ("copy+count\n× baseline", "copy_count_ratio", lambda e: _fmt(_num(e, "copy_count_ratio"))),
    ("copy+checksum\n× baseline", "copy_checksum_ratio", lambda e: _fmt(_num(e, "copy_checksum_ratio"))),
    (
        "validate ÷ all-column read",
        "validate_vs_read_ratio",
        lambda e: _fmt(_num(e, "validate_vs_read_ratio")),
    ),
    (
        "validate ÷ count(*)\nchecksums (counts)",
        "",
        lambda e: f"{_fmt(_num(e, 'validate_vs_count_ratio'))} ({_fmt(_num(e, 'validate_count_only_vs_count_ratio'))})",
    ),
    (
        "re-sync 1 % × full copy\nchecksums (counts)",
        "resync_ratio",
        lambda e: (
            f"{_fmt(_num(e, 'resync_ratio'), 3)} ({_fmt(_num(e, 'resync_count_ratio'), 3)})"
            + ("" if _num(e, "resync_captured") == 1 else " scan")
        ),
    ),
    (
        "re-sync 1 % × full copy\nreplica identity opt-in",
        "resync_ri_ratio",
        lambda e: _fmt(_num(e, "resync_ri_ratio"), 3),
    ),
    (
        "validate incremental\n÷ full",
        "validate_incremental_ratio",
        lambda e: _fmt(_num(e, "validate_incremental_ratio"), 3),
    ),
    ("peak RSS\nMB", "peak_rss_mb", lambda e: _fmt(_num(e, "peak_rss_mb"), 0)),
    (
        "writer p50 ms\nidle→copy",
        "",
        lambda e: f"{_fmt(_num(e, 'writer_idle_p50_ms'), 1)}→{_fmt(_num(e, 'writer_p50_ms'), 1)}",
    ),
    (
        "writer p99 ms\nidle→copy",
        "",
        lambda e: f"{_fmt(_num(e, 'writer_idle_p99_ms'), 1)}→{_fmt(_num(e, 'writer_p99_ms'), 1)}",
    ),
    (
        "writer p99 × idle\n(during baseline)",
        "writer_p99_ratio",
        lambda e: f"{_fmt(_num(e, 'writer_p99_ratio'))} ({_fmt(_num(e, 'writer_baseline_p99_ratio'))})",
    ),
    ("writer p99 × idle\npaced", "writer_p99_paced_ratio", lambda e: _fmt(_num(e, "writer_p99_paced_ratio"))),
    ("paced copy\n× unpaced", "paced_copy_ratio", lambda e: _fmt(_num(e, "paced_copy_ratio"))),
    ("longest\nwait ms", "writer_max_wait_ms", lambda e: _fmt(_num(e, "writer_max_wait_ms"), 0)),
)


def _passed(entry: dict[str, Any], key: str) -> bool | None:
    if not key:
        return None
    value = entry.get("targets", {}).get(key)
    return value if isinstance(value, bool) else None


def rich_table(data: dict[str, Any]) -> Table:
    table = Table(title="data_copy vs the hand-written SQL script (✓/✗ = target met)")
    table.add_column("scale", no_wrap=True)
    for name, _, _ in COLUMNS:
        table.add_column(name, justify="right", no_wrap=True)
    for scale, entry in ((s, scales_of(data)[s]) for s in _ordered(scales_of(data))):
        cells = [scale]
        for _, key, render in COLUMNS:
            text = render(entry)
            ok = _passed(entry, key)
            if ok is True:
                text = f"[green]{text} ✓[/green]"
            elif ok is False:
                text = f"[red]{text} ✗[/red]"
            cells.append(text)
        table.add_row(*cells)
    return table


def print_summary(data: dict[str, Any], console: Console) -> None:
    console.print(rich_table(data))
    for scale in _ordered(scales_of(data)):
        entry = scales_of(data)[scale]
        verdicts = entry.get("targets", {})
        line = "  ".join(
            f"[{'green' if verdicts.get(t.key) else 'red'}]{'PASS' if verdicts.get(t.key) else 'FAIL'}[/] {t.label}"
            for t in TARGETS
        )
        console.print(f"[bold]{scale}[/bold]: {line}")
        for error in entry.get("errors", []):
            console.print(f"  [red]error[/red]: {error}")
    flat, text = rss_flat(data)
    console.print(f"peak RSS flat across scales: {'PASS' if flat else 'FAIL'} — {text}")


def _md_table(data: dict[str, Any]) -> list[str]:
    header = ["scale", *(name.replace("\n", " ") for name, _, _ in COLUMNS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for scale in _ordered(scales_of(data)):
        entry = scales_of(data)[scale]
        cells = [scale]
        for _, key, render in COLUMNS:
            ok = _passed(entry, key)
            mark = "" if ok is None else (" ✓" if ok else " ✗")
            cells.append(render(entry) + mark)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown(data: dict[str, Any]) -> str:
    machine = data.get("machine", {})
    settings = machine.get("server_settings", {})
    lines = [
        "# Benchmark results",
        "",
        "`make bench` (or `make bench BENCH_SCALE=small`) regenerates this page and",
        "`bench/results.json` (and [PROFILE.md](PROFILE.md)). Each scale runs on a fresh database",
        "of a throwaway cluster. The baseline is the hand-written per-mapping",
        "`INSERT INTO new SELECT ... FROM legacy` script (`python -m bench --print-baseline-sql`)",
        "into the same empty tables, plus the same secondary indexes and foreign keys data_copy",
        "creates after its load, timed in the same run; baseline and both copies alternate",
        "`repeat` times and the fastest of each counts. Ratios: lower is better.",
        "",
        "## Machine",
        "",
        f"- CPU: {machine.get('cpu', '?')}, nproc {machine.get('nproc', '?')}",
        f"- memory: {machine.get('memory_mb', '?')} MB",
        f"- PostgreSQL {machine.get('postgresql', '?')}"
        + (" (" + ", ".join(f"{k}={v}" for k, v in sorted(settings.items())) + ")" if settings else ""),
        f"- kernel {machine.get('kernel', '?')}, Python {machine.get('python', '?')}",
        "",
        "## Latest table",
        "",
        *_md_table(data),
        "",
        "## Targets",
        "",
    ]
    header = ["scale", *(t.label for t in TARGETS)]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for scale in _ordered(scales_of(data)):
        verdicts = scales_of(data)[scale].get("targets", {})
        lines.append(
            "| " + " | ".join([scale, *("pass" if verdicts.get(t.key) else "**FAIL**" for t in TARGETS)]) + " |"
        )
    flat, text = rss_flat(data)
    lines += ["", f"Peak RSS flat across scales: {'pass' if flat else '**FAIL**'} — {text}.", ""]
    for scale in _ordered(scales_of(data)):
        e = scales_of(data)[scale]
        lines.append(
            f"- {scale}: measured {e.get('measured_at', '?')} at commit {e.get('commit', '?')},"
            f" repeat {_num(e, 'repeat'):.0f},"
            f" load average {_num(e, 'loadavg_1m_start'):.1f} → {_num(e, 'loadavg_1m_end'):.1f}"
            + (f"; {len(e['errors'])} error(s), see PROFILE.md" if e.get("errors") else "")
        )
    lines += [
        "",
        "What each step did, where its time went (pg_stat_statements) and the slowest",
        "statements of every missed target: [PROFILE.md](PROFILE.md).",
        "",
    ]
    return "\n".join(lines)


def profile_markdown(data: dict[str, Any]) -> str:
    """The details page: per scale, every step's numbers, time per kind of statement, profiles."""
    lines = [
        "# Benchmark details and profiles",
        "",
        "Generated with [RESULTS.md](RESULTS.md) by `python -m bench`. Server times come from",
        "pg_stat_statements (reset before each step); wall times include the data_copy process",
        "start-up and its round trips.",
        "",
    ]
    for scale in _ordered(scales_of(data)):
        e = scales_of(data)[scale]
        steps = e.get("steps_s", {})
        lines += [
            f"## {scale} (measured {e.get('measured_at', '?')}, commit {e.get('commit', '?')})",
            "",
            f"- legacy rows in mapped tables: {_num(e, 'rows_legacy_mapped'):,.0f}"
            f" (splits {_num(e, 'rows_raw_splits'):,.0f}, betting lines"
            f" {_num(e, 'rows_betting_lines'):,.0f}); database {_num(e, 'database_mb'):,.0f} MB",
            "- runs (s; the fastest counts): "
            + "; ".join(
                f"{k} {', '.join(f'{v:.2f}' for v in vs)}"
                for k, vs in e.get("runs_s", {}).items()
                if k in ("baseline", "copy_count", "copy_checksum")
            ),
            f"- baseline {_num(e, 'baseline_s'):.2f} s (inserts {_num(e, 'baseline_insert_s'):.2f} s,"
            f" indexes + foreign keys {steps.get('baseline_finish', math.nan):.2f} s)",
            f"- data_copy run --count-only {_num(e, 'copy_count_s'):.2f} s;"
            f" with checksums {_num(e, 'copy_checksum_s'):.2f} s",
            f"- count(*) both sides {_num(e, 'count_both_sides_s'):.2f} s;"
            f" validate (checksums) {_num(e, 'validate_s'):.2f} s;"
            f" validate (counts) {steps.get('validate_count', math.nan):.2f} s"
            f" ({_num(e, 'validate_count_only_vs_count_ratio'):.2f}× count(*))",
            f"- re-sync after 1 % activity: {_num(e, 'resync_s'):.2f} s with checksums"
            f" ({_num(e, 'resync_ratio'):.3f}× the full copy), {_num(e, 'resync_count_s'):.2f} s"
            f" count-only ({_num(e, 'resync_count_ratio'):.3f}×)",
            f"- writer: {_num(e, 'writer_idle_inserts'):.0f} inserts idle, p50"
            f" {_num(e, 'writer_idle_p50_ms'):.2f} ms / p99 {_num(e, 'writer_idle_p99_ms'):.2f} ms;"
            f" during the baseline script p50 {_num(e, 'writer_baseline_p50_ms'):.2f} ms / p99"
            f" {_num(e, 'writer_baseline_p99_ms'):.2f} ms, longest {_num(e, 'writer_baseline_max_ms'):.0f} ms;"
            f" {_num(e, 'writer_inserts'):.0f} during a {_num(e, 'copy_under_load_s'):.1f} s copy,"
            f" p50 {_num(e, 'writer_p50_ms'):.2f} ms / p99 {_num(e, 'writer_p99_ms'):.2f} ms,"
            f" longest {_num(e, 'writer_max_wait_ms'):.0f} ms"
            f" (lock_timeout {_num(e, 'lock_timeout_ms'):.0f} ms)",
            f"- peak RSS of `python -m data_copy`: {_num(e, 'peak_rss_mb'):.0f} MB",
        ]
        for label, waits in e.get("writer_waits", {}).items():
            total = sum(waits.values()) or 1
            top = ", ".join(f"{k} {100 * n / total:.0f} %" for k, n in list(waits.items())[:5])
            lines.append(f"- writer backend {label}, sampled every 10 ms while active: {top}")
        for error in e.get("errors", []):
            lines.append(f"- error: {error}")
        lines += _breakdown_table(e)
        missed = [t for t in TARGETS if not e.get("targets", {}).get(t.key)]
        profiles = e.get("profile", {})
        shown: set[str] = set()
        for target in missed:
            for step in target.profile_steps:
                if step in shown or not profiles.get(step):
                    continue
                shown.add(step)
                lines += [
                    "",
                    f"Top statements of `{step}` (pg_stat_statements, missed: {target.label}):",
                    "",
                    "| total ms | calls | rows | read MB | temp MB | statement |",
                    "|---:|---:|---:|---:|---:|---|",
                ]
                for p in profiles[step][:6]:
                    query = str(p["query"]).replace("|", "\\|")
                    lines.append(
                        f"| {p['total_ms']:.0f} | {p['calls']} | {p['rows']} |"
                        f" {p['shared_read_mb']:.0f} | {p['temp_written_mb']:.0f} | `{query}` |"
                    )
        lines.append("")
    if ANALYSIS_MD.exists():  # the hand-written analysis of the missed targets, kept across runs
        lines += ["", *ANALYSIS_MD.read_text().splitlines()]
    return "\n".join(lines)


BREAKDOWN_STEPS = (
    ("baseline", "baseline"),
    ("copy_count", "run --count-only"),
    ("copy_checksum", "run"),
    ("validate", "validate"),
    ("resync_checksum", "re-sync"),
    ("resync_count", "re-sync --count-only"),
)


def _breakdown_table(e: dict[str, Any]) -> list[str]:
    """Server seconds per kind of statement and step: where each step spends its time."""
    breakdown = e.get("breakdown_s", {})
    steps = [(k, label) for k, label in BREAKDOWN_STEPS if k in breakdown]
    if not steps:
        return []
    categories = sorted(
        {c for k, _ in steps for c in breakdown[k]},
        key=lambda c: -max(breakdown[k].get(c, 0.0) for k, _ in steps),
    )
    steps_s = e.get("steps_s", {})
    wall = {
        "baseline": steps_s.get("baseline_insert", 0.0) + steps_s.get("baseline_finish", 0.0),
        "validate": steps_s.get("validate_checksum", math.nan),
    }
    lines = [
        "",
        "Where the time goes (server seconds per kind of statement, pg_stat_statements;"
        " the last row is the step's wall time):",
        "",
        "| statements | " + " | ".join(label for _, label in steps) + " |",
        "|---|" + "---:|" * len(steps),
    ]
    for c in categories:
        cells = [f"{breakdown[k].get(c, 0.0):.2f}" if c in breakdown[k] else "" for k, _ in steps]
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    lines.append("| **total server** | " + " | ".join(f"{sum(breakdown[k].values()):.2f}" for k, _ in steps) + " |")
    lines.append("| **wall** | " + " | ".join(f"{wall.get(k, steps_s.get(k, math.nan)):.2f}" for k, _ in steps) + " |")
    return lines


def write(data: dict[str, Any], json_path: Path, md_path: Path | None) -> None:
    """results.json; RESULTS.md at ``md_path`` and PROFILE.md beside it."""
    json_path.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
    if md_path is not None:
        md_path.write_text(markdown(data))
        md_path.with_name("PROFILE.md").write_text(profile_markdown(data))


def _json_default(value: Any) -> Any:
    return str(value)
