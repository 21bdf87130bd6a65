"""Engine measurements (issue 10's figures): `python -m bench.engine [--runs 20] [--ups 10]`.

On a throwaway cluster, with the provider toolchain/bootstrap.sh chose (real or stand-in),
the project's own program (components.stack.program) as an Automation API inline program:

1. `pulumi up` of phase 1 on an empty database, and a no-op preview right after;
2. `--ups` consecutive `pulumi up`s of the deployed stack (all clean = nothing changed);
3. the SerialChain experiment: `--runs` full up + destroy cycles from an empty database at
   the engine's default parallelism, WITH the chain and WITHOUT it (SerialChain.opts
   patched to add no dependency), counting the runs that failed and those whose error
   says "tuple concurrently updated".

Prints one line per figure and writes bench/engine-results.json. Not part of CI (it takes
minutes); its numbers are quoted in docs/benchmarks.md (The engine's figures).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pulumi
from pulumi import automation as auto

from pgcluster import Cluster, ServerSettings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "engine-results.json"
CONCURRENT = "tuple concurrently updated"


def _toolchain() -> tuple[Path, str]:
    import subprocess

    lines = subprocess.run(
        ["bash", str(ROOT / "toolchain" / "bootstrap.sh")], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    bin_dir = subprocess.run(
        ["bash", str(ROOT / "toolchain" / "bootstrap.sh"), "--bin-dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    provider = next(line for line in lines if "pulumi-resource-postgresql" in line and not line.startswith("MISSING"))
    return Path(bin_dir), provider.split(maxsplit=1)[1]


def _env(bin_dir: Path, home: Path, backend: Path) -> dict[str, str]:
    backend.mkdir(parents=True, exist_ok=True)
    return {
        "PULUMI_BACKEND_URL": f"file://{backend}",
        "PULUMI_CONFIG_PASSPHRASE": "bench-only",
        "PULUMI_HOME": str(home),
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PATH": os.pathsep.join([str(bin_dir), str(ROOT / ".venv" / "bin"), os.environ.get("PATH", "")]),
        "PYTHONPATH": str(ROOT),
    }


def connection_config(cluster: Cluster, database: str) -> dict[str, auto.ConfigValue]:
    """The stack's postgresql:* config for `database` on a throwaway cluster (no TLS there);
    the e2e tests' stacks use it too (tests/e2e/test_stack_support.py)."""
    return {
        "postgresql:host": auto.ConfigValue(cluster.host),
        "postgresql:port": auto.ConfigValue(str(cluster.port)),
        "postgresql:username": auto.ConfigValue(cluster.user),
        "postgresql:password": auto.ConfigValue(cluster.password, secret=True),
        "postgresql:database": auto.ConfigValue(database),
        "postgresql:sslmode": auto.ConfigValue("disable"),
    }


@contextmanager
def _stack(cluster: Cluster, env: dict[str, str], bin_dir: Path) -> Iterator[auto.Stack]:
    from components.stack import PROJECT_NAME, program

    database = f"bench_{uuid.uuid4().hex[:8]}"
    cluster.create_database(database)
    name = f"bench{uuid.uuid4().hex[:6]}"
    stack = auto.create_stack(
        stack_name=name,
        project_name=PROJECT_NAME,
        program=program,
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(ROOT), env_vars=env, pulumi_command=auto.PulumiCommand(root=str(bin_dir.parent))
        ),
    )
    stack.set_all_config(
        {
            "consolidation:rolePrefix": auto.ConfigValue(f"b{uuid.uuid4().hex[:6]}_"),
            "consolidation:protect": auto.ConfigValue("false"),
            **connection_config(cluster, database),
        }
    )
    try:
        yield stack
    finally:
        try:
            stack.destroy(on_output=lambda _line: None)
        except auto.errors.CommandError:
            stack.refresh(on_output=lambda _line: None)
            stack.destroy(on_output=lambda _line: None)
        stack.workspace.remove_stack(name, force=True)
        (ROOT / f"Pulumi.{name}.yaml").unlink(missing_ok=True)
        cluster.drop_database(database)


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.monotonic()
    result = fn()
    return result, time.monotonic() - start


def _changed(summary: dict[str, int] | None) -> dict[str, int]:
    return {k: v for k, v in (summary or {}).items() if k != "same" and v}


def figures(cluster: Cluster, env: dict[str, str], bin_dir: Path, ups: int) -> dict[str, Any]:
    with _stack(cluster, env, bin_dir) as stack:
        up, up_s = _timed(lambda: stack.up(on_output=lambda _line: None))
        preview, preview_s = _timed(lambda: stack.preview(on_output=lambda _line: None))
        print(f"phase 1 up on an empty database: {up_s:.1f}s ({up.summary.resource_changes})", flush=True)
        print(f"no-op preview: {preview_s:.1f}s ({preview.change_summary})", flush=True)
        rounds = []
        for _ in range(ups):
            again, seconds = _timed(lambda: stack.up(on_output=lambda _line: None))
            rounds.append({"seconds": round(seconds, 1), "changes": _changed(again.summary.resource_changes)})
        clean = sum(1 for r in rounds if not r["changes"])
        print(
            f"{ups} consecutive ups: {clean} clean; seconds " + ", ".join(str(r["seconds"]) for r in rounds),
            flush=True,
        )
    return {
        "up_phase1_empty_s": round(up_s, 1),
        "resources": up.summary.resource_changes,
        "noop_preview_s": round(preview_s, 1),
        "noop_preview": preview.change_summary,
        "consecutive_ups": rounds,
        "consecutive_ups_clean": clean,
    }


@contextmanager
def _without_chain() -> Iterator[None]:
    from components.serial import SerialChain

    original = SerialChain.opts

    def opts(self: SerialChain, parent: pulumi.Resource, depends_on: list[pulumi.Resource] | None = None) -> Any:
        return pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on or []))

    SerialChain.opts = opts  # type: ignore[method-assign]
    try:
        yield
    finally:
        SerialChain.opts = original  # type: ignore[method-assign]


def chain_experiment(cluster: Cluster, env: dict[str, str], bin_dir: Path, runs: int, chain: bool) -> dict[str, Any]:
    failed = concurrent = 0
    seconds: list[float] = []
    errors: list[str] = []
    for _ in range(runs):
        with _stack(cluster, env, bin_dir) as stack:
            try:
                if chain:
                    _, s = _timed(lambda: stack.up(on_output=lambda _line: None))
                else:
                    with _without_chain():
                        _, s = _timed(lambda: stack.up(on_output=lambda _line: None))
                seconds.append(round(s, 1))
            except auto.errors.CommandError as exc:
                failed += 1
                text = str(exc)
                concurrent += CONCURRENT in text
                lines = [ln.strip() for ln in text.splitlines() if "error" in ln.lower() and "Traceback" not in ln]
                errors.append(lines[0][:300] if lines else text[:300])
    label = "with SerialChain" if chain else "without SerialChain"
    print(
        f"{label}: {runs} runs, {failed} failed, {concurrent} with '{CONCURRENT}'; up seconds {seconds}",
        flush=True,
    )
    return {"runs": runs, "failed": failed, "tuple_concurrently_updated": concurrent, "up_s": seconds, "errors": errors}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine")
    parser.add_argument("--runs", type=int, default=20, help="up+destroy cycles per SerialChain variant")
    parser.add_argument("--ups", type=int, default=10, help="consecutive ups of a deployed stack")
    parser.add_argument("--only", choices=("figures", "with", "without"), help="run one part (results merged)")
    args = parser.parse_args()
    bin_dir, provider = _toolchain()
    print(f"provider: pulumi-resource-postgresql {provider}", flush=True)
    home = ROOT / ".state" / "bench-pulumi-home"
    env = _env(bin_dir, home, ROOT / ".state" / "bench-pulumi-backend")
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if args.only and RESULTS.exists() else {}
    results.update(provider=provider, machine=f"{platform.machine()}, {os.cpu_count()} cpu")
    with Cluster.throwaway(settings=ServerSettings.for_tests()) as cluster:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            results["server"] = conn.execute("SHOW server_version").fetchone()[0]
        if args.only in (None, "figures"):
            results["figures"] = figures(cluster, env, bin_dir, args.ups)
        if args.only in (None, "with"):
            results["with_chain"] = chain_experiment(cluster, env, bin_dir, args.runs, chain=True)
        if args.only in (None, "without"):
            results["without_chain"] = chain_experiment(cluster, env, bin_dir, args.runs, chain=False)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
