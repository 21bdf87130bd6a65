"""A reason not to drop (Problem), each kind with its fix, and the one refusal line they make.

Every phase 3 guard (guards.py, phase_guards.py, structure_problems) returns a list of
Problem; `refusal(problems)` turns them into one CleanupRefused line that names every
reason and every fix, grouped by kind in a stable order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from data_copy.errors import BackupUnreadable, CleanupRefused

FIXES: dict[str, str] = {
    "validation_missing": "run `python -m data_copy run` for this stack until every mapping passes",
    "validation_failed": "fix what the validation reports, then `python -m data_copy run` again",
    "validation_count_only": "run `python -m data_copy validate` without --count-only",
    "validation_not_full": "run `python -m data_copy validate` (without --incremental: it hashes every row)",
    "validation_stale": "re-sync and re-validate with `python -m data_copy run`, then cleanup again",
    "source_incomplete": "restore the missing legacy table (`python -m data_copy restore`) or investigate",
    "unmapped_rows": "move that data elsewhere, or list the tables in consolidation:disposableTables "
    "to drop them with their schema",
    "dependency": "drop those objects or point them at the new tables (the registry), then cleanup again",
    "function_body": "change those functions to use the new tables (or drop them), then cleanup again",
    "backup": BackupUnreadable.fix,
    "phase": "`python -m data_copy switch`, deploy phase 2, let the application run on the new tables first",
    "legacy_written": "something still writes legacy: point it at the new tables, `python -m data_copy run`,"
    " then cleanup again",
    "legacy_read": "point those readers at the new tables (the registry), or pass --accept-legacy-reads",
    "structure": "run `python -m data_copy run` (it creates what is missing and lists the rows that prevent it)",
}

_HEADLINES = {
    "validation_missing": "never validated",
    "validation_failed": "latest validation failed",
    "validation_count_only": "latest validation compared counts only",
    "validation_not_full": "latest validation re-hashed only the changed keys",
    "validation_stale": "legacy data written after the latest validation",
    "source_incomplete": "legacy tables partly missing",
    "unmapped_rows": "unmapped legacy tables hold rows",
    "dependency": "objects that stay depend on legacy objects",
    "function_body": "functions that stay mention legacy objects",
    "backup": "backup missing or unreadable",
    "phase": "not in phase 2",
    "legacy_written": "legacy written since the last sync",
    "legacy_read": "legacy read by others since phase 2 began",
    "structure": "new tables lack keys, indexes or foreign keys",
}

SAMPLES = 8  # problems of one kind named in the line; the rest are counted


@dataclass(frozen=True)
class Problem:
    kind: str  # a key of FIXES
    subject: str  # the mapping or object concerned
    detail: str  # what is wrong, in a few words

    def text(self) -> str:
        return f"{self.subject}: {self.detail}" if self.detail else self.subject


def summary(problems: Sequence[Problem]) -> tuple[str, str]:
    """(what, fix): one line each, grouped by kind in a stable order."""
    whats: list[str] = []
    fixes: list[str] = []
    for kind in FIXES:
        items = [p for p in problems if p.kind == kind]
        if not items:
            continue
        shown = "; ".join(p.text() for p in items[:SAMPLES])
        more = f"; and {len(items) - SAMPLES} more" if len(items) > SAMPLES else ""
        whats.append(f"{_HEADLINES[kind]}: {shown}{more}")
        fixes.append(FIXES[kind])
    return " | ".join(whats), "; ".join(fixes)


def refusal(problems: Sequence[Problem]) -> CleanupRefused:
    what, fix = summary(problems)
    message = f"cleanup refused, nothing dropped: {what}"
    return CleanupRefused(" ".join(message.split()), fix=fix)


def refuse(problems: Sequence[Problem]) -> None:
    """Raise CleanupRefused (one line: every reason, every fix) when there are problems."""
    if problems:
        raise refusal(problems)
