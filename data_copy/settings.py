"""What a data_copy command needs to know about its environment (stack config or defaults)."""

from dataclasses import dataclass, field

from catalog.phases import DEFAULT_CONFLICT_POLICY
from catalog.roles import OWNER_ROLE


@dataclass(frozen=True)
class Settings:
    phase: int = 1
    role_prefix: str = ""
    lock_timeout: str = "2s"  # the live application never waits longer than this behind us
    statement_timeout: str = "30min"
    legacy_timezone: str = "UTC"  # the zone naive legacy TIMESTAMPs were written in
    backup_dir: str = ".state/backups"
    disposable_tables: tuple[str, ...] = field(default=())
    stack: str = ""  # the stack these settings came from ("" for --dsn): its phase is deployed
    conflict_policy: str = DEFAULT_CONFLICT_POLICY  # phase 2: who wins a both-sides change
    accept_legacy_reads: bool = False  # cleanup: drop although others read legacy in phase 2
    wait_for_lock: bool = False  # --wait: wait for another data_copy command instead of refusing
    pace: str = ""  # "" = full speed; a duration ("500ms"): copy chunks sized to it, pause under strain
    validate_workers: int = 0  # connections hashing in parallel; 0 = the server's CPUs (parallel.py)

    @property
    def owner_role(self) -> str:
        return self.role_prefix + OWNER_ROLE
