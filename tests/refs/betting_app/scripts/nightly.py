"""The nightly job: collect, process, grade, report."""

import logging
import subprocess

from mlb_app.db.connection import execute

log = logging.getLogger("nightly")

STEPS = ["collect", "process", "grade", "report"]


def vacuum() -> None:
    execute("VACUUM ANALYZE splits.raw_mlb_betting_splits")  # REF(sql) splits.raw_mlb_betting_splits
    execute("LOCK TABLE public.games IN SHARE MODE")  # REF(sql) public.games


def run() -> None:
    for step in STEPS:
        log.info("step %s (reads splits.games)", step)  # DECOY
        subprocess.run(["mlb", step], check=True)
    execute("REFRESH MATERIALIZED VIEW analytics.daily_summary")
