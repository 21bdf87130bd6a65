"""Helpers for the provider tests (no tests here): a small inline program of postgresql
resources on the test's database (`Mini`, the `mini` fixture in conftest.py), and the
stand-in's statement log.

With the stand-in, the statements it sent are in its statement log
($CONSOLIDATION_STANDIN_STATEMENT_LOG, one JSON object a line: op, sql, pid, thread and the
server's backend pid); with the real provider only what the server shows can be checked.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pulumi
from psycopg import sql
from pulumi import automation as auto
from test_stack_support import Engine

LOG_VAR = "CONSOLIDATION_STANDIN_STATEMENT_LOG"
Body = Callable[[Any, pulumi.ResourceOptions, str], None]


@dataclass
class Mini:
    """A small inline program of postgresql resources on one database of the test cluster:
    `declare["body"](pulumi_postgresql, opts with the provider "p", database)`."""

    stack: auto.Stack
    dsn: str
    log: Path
    standin: bool
    declare: dict[str, Any]

    def up(self, **kwargs: Any) -> auto.UpResult:
        self.log.write_text("")
        return self.stack.up(on_output=lambda _line: None, **kwargs)

    def preview(self, **kwargs: Any) -> auto.PreviewResult:
        self.log.write_text("")
        return self.stack.preview(on_output=lambda _line: None, **kwargs)

    def refresh(self, **kwargs: Any) -> auto.RefreshResult:
        self.log.write_text("")
        return self.stack.refresh(on_output=lambda _line: None, **kwargs)

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def statements(self, op_prefix: str = "") -> list[str]:
        return [r["sql"] for r in self.entries() if r["op"].startswith(op_prefix)]

    def sql(self, statement: str | sql.Composable, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            cur = conn.execute(statement, params or None)
            return cur.fetchall() if cur.description else []

    def resources(self, type_suffix: str) -> list[dict[str, Any]]:
        """The stack state's resources whose type ends with `type_suffix`."""
        deployment = self.stack.export_stack().deployment
        return [r for r in deployment.get("resources", []) if r["type"].endswith(type_suffix)]


@contextmanager
def mini_stack(standin: bool, engine: Engine, tmp_path: Path) -> Iterator[Mini]:
    """A Mini on `engine`'s database; destroyed at the end, and the test's si_* roles dropped."""
    import pulumi_postgresql as postgresql

    declare: dict[str, Any] = {}

    def program() -> None:
        declare["body"](postgresql, pulumi.ResourceOptions(provider=engine.provider("p")), engine.database)

    log = tmp_path / "statements.jsonl"
    log.write_text("")
    name = "mini" + uuid.uuid4().hex[:6]
    stack = auto.create_stack(
        stack_name=name,
        project_name="standin",
        program=program,
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(tmp_path), env_vars={**engine.env, LOG_VAR: str(log)}, pulumi_command=engine.command
        ),
    )
    m = Mini(stack, engine.dsn, log, standin, declare)
    try:
        yield m
    finally:
        try:
            stack.destroy(on_output=lambda _line: None)
        finally:
            stack.workspace.remove_stack(name, force=True)
            with psycopg.connect(engine.dsn, autocommit=True) as conn:  # roles are cluster-wide
                rows = conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'si\\_%'").fetchall()
                for (role,) in rows:
                    conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
                    conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def index_of(statements: list[str], needle: str, start: int = 0) -> int:
    for i in range(start, len(statements)):
        if needle in statements[i]:
            return i
    raise AssertionError(f"{needle!r} not sent after position {start}: {statements}")


def in_order(statements: list[str], *needles: str, start: int = 0) -> int:
    """Each needle is sent at or after the previous one's position (from `start`); the last's."""
    i = start
    for needle in needles:
        i = index_of(statements, needle, i)
    return i


class Background:
    """Runs `fn` in a thread; `result()` joins it and returns its value or raises its error."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._value: Any = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._value = fn()
            except BaseException as exc:  # noqa: BLE001 - handed to result()
                self._error = exc

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def result(self, timeout: float) -> Any:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"still running after {timeout} s")
        if self._error is not None:
            raise self._error
        return self._value
