"""The last `run` and the last `validate`, apart, from migration_log (for `status`)."""

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from data_copy.state import schema
from data_copy.state.journal import Status, Step
from data_copy.state.schema import LOG


@dataclass
class LastCommand:
    command: str  # run | validate
    run_id: str
    phase: str
    started: datetime
    finished: datetime | None
    mappings: int
    passed: int
    interrupted: int

    def line(self) -> str:
        end = f"finished {self.finished:%Y-%m-%d %H:%M:%S %Z}" if self.finished else "unfinished"
        state = f"{self.passed}/{self.mappings} mappings passed"
        if self.interrupted:
            state += f", {self.interrupted} steps interrupted"
        started = f"{self.started:%Y-%m-%d %H:%M:%S %Z}"
        return f"last {self.command}: {self.run_id} ({self.phase}), started {started}, {end}, {state}"


_QUERY = """
WITH runs AS (
  SELECT run_id, min(migration_phase) AS phase, min(started_at) AS started, max(completed_at) AS finished,
         bool_or(step = {copy}) AS copied,
         count(*) FILTER (WHERE step = {validate}) AS mappings,
         count(*) FILTER (WHERE step = {validate} AND status = {passed}) AS passed,
         count(*) FILTER (WHERE status = {interrupted}) AS interrupted
  FROM {log} WHERE step IN ({copy}, {validate}) GROUP BY run_id
)
SELECT DISTINCT ON (copied) CASE WHEN copied THEN 'run' ELSE 'validate' END, run_id::text, phase, started,
       finished, mappings, passed, interrupted
FROM runs ORDER BY copied, started DESC
"""


def last_commands(conn: psycopg.Connection) -> dict[str, LastCommand]:
    if not schema.exists(conn, LOG):
        return {}
    query = sql.SQL(_QUERY).format(
        log=LOG,
        copy=sql.Literal(Step.COPY),
        validate=sql.Literal(Step.VALIDATE),
        passed=sql.Literal(Status.PASSED),
        interrupted=sql.Literal(Status.INTERRUPTED),
    )
    rows = conn.execute(query).fetchall()
    return {r[0]: LastCommand(*r) for r in rows}
