"""What a data_copy command needs to know about its environment.

Built by `from_stack_settings` from what the one parser of the stack's config made
(stack_settings.parse_settings, the same values and defaults the stack program sees);
`Settings()` (for --dsn) holds the parser's defaults, not a second set of them.
"""

from dataclasses import dataclass, field
from pathlib import Path

from stack_settings import PHASES, DataCopySettings, RoleNames, StackSettings

_DEFAULTS = DataCopySettings()


@dataclass(frozen=True)
class Settings:
    phase: int = PHASES[0]
    role_prefix: str = ""
    lock_timeout: str = _DEFAULTS.lock_timeout  # the live application never waits longer than this behind us
    statement_timeout: str = _DEFAULTS.statement_timeout
    legacy_timezone: str = _DEFAULTS.legacy_timezone  # the zone naive legacy TIMESTAMPs were written in
    backup_dir: str = _DEFAULTS.backup_dir
    disposable_tables: tuple[str, ...] = field(default=_DEFAULTS.disposable_tables)
    stack: str = ""  # the stack these settings came from ("" for --dsn): its phase is deployed
    conflict_policy: str = _DEFAULTS.conflict_policy  # phase 2: who wins a both-sides change
    accept_legacy_reads: bool = False  # cleanup: drop although others read legacy in phase 2
    wait_for_lock: bool = False  # --wait: wait for another data_copy command instead of refusing
    pace: str = _DEFAULTS.pace  # "off" = full speed; a duration ("250ms"): chunks sized to it, pauses under strain
    validate_workers: int = 0  # connections hashing in parallel; 0 = the server's CPUs (hasher.py)
    # mapped legacy tables given REPLICA IDENTITY FULL (consolidation:replicaIdentityFull)
    replica_identity_full: tuple[str, ...] = field(default=_DEFAULTS.replica_identity_full)
    # phase 2 both ways: mappings whose new table's writes go back into legacy (consolidation:carryBack)
    carry_back: tuple[str, ...] = field(default=_DEFAULTS.carry_back)
    overlap: bool = True  # a first copy's settles on a second session while the next tables copy (sync/overlap.py)

    @property
    def owner_role(self) -> str:
        return RoleNames(self.role_prefix).owner


def from_stack_settings(parsed: StackSettings, *, deployed_phase: int, stack: str, project_dir: Path) -> Settings:
    """data_copy's settings of stack `stack`: the phase is the DEPLOYED one (the stack's
    outputs), everything else the parsed config; the backup directory is taken relative to
    the project, so cleanup and restore find the same dumps from anywhere."""
    data = parsed.data_copy
    return Settings(
        phase=deployed_phase,
        role_prefix=parsed.role_prefix,
        lock_timeout=data.lock_timeout,
        statement_timeout=data.statement_timeout,
        legacy_timezone=data.legacy_timezone,
        backup_dir=str(project_dir / data.backup_dir),
        disposable_tables=data.disposable_tables,
        stack=stack,
        conflict_policy=data.conflict_policy,
        pace=data.pace,
        replica_identity_full=data.replica_identity_full,
        carry_back=data.carry_back,
    )
