"""Reading an environment from its Pulumi stack: connection (provider config) and settings."""

import os
import shutil
from pathlib import Path
from urllib.parse import quote

from catalog.phases import DEFAULT_CONFLICT_POLICY
from data_copy.errors import PhaseNotDeployed, PulumiMissing, StackNotFound
from data_copy.settings import Settings

PROJECT_DIR = Path(__file__).resolve().parent.parent


def from_stack(name: str, work_dir: Path = PROJECT_DIR) -> tuple[str, Settings]:
    """(dsn, settings) of stack `name`; the phase comes from its outputs (what is deployed)."""
    from pulumi import automation as auto  # only --stack needs Pulumi

    if shutil.which("pulumi") is None:
        raise PulumiMissing(f"--stack {name} needs the pulumi CLI, which is not on PATH")
    try:
        stack = auto.select_stack(stack_name=name, work_dir=str(work_dir))
        config = {k: v.value for k, v in stack.get_all_config().items()}
        outputs = stack.outputs()
    except auto.errors.StackNotFoundError:
        raise StackNotFound(f"no Pulumi stack named {name!r}") from None
    except auto.errors.CommandError as error:
        lines = [ln for ln in str(error).splitlines() if "error" in ln.lower()]
        raise StackNotFound(f"cannot read stack {name!r}: {lines[-1].strip() if lines else error}") from None
    except FileNotFoundError as error:
        raise PulumiMissing(f"--stack {name} needs the pulumi CLI: {error}") from None
    if "phase" not in outputs:
        raise PhaseNotDeployed(f"stack {name!r} has no deployment yet")

    def get(key: str, default: str = "") -> str:
        return str(config.get(key, default))

    user = get("postgresql:username", "postgres")
    password = get("postgresql:password") or os.environ.get("PGPASSWORD", "")
    auth = quote(user) + (":" + quote(password) if password else "")
    dsn = (
        f"postgresql://{auth}@{get('postgresql:host', 'localhost')}:{get('postgresql:port', '5432')}"
        f"/{quote(get('postgresql:database', 'postgres'))}?sslmode={get('postgresql:sslmode', 'prefer')}"
    )
    data = outputs.get("dataCopy").value if "dataCopy" in outputs else {}
    disposable = config.get("consolidation:disposableTables") or data.get("disposableTables") or []
    if isinstance(disposable, str):
        import json

        disposable = json.loads(disposable)
    settings = Settings(
        phase=int(outputs["phase"].value),
        role_prefix=get("consolidation:rolePrefix"),
        lock_timeout=get("consolidation:lockTimeout", "2s"),
        statement_timeout=get("consolidation:statementTimeout", "30min"),
        legacy_timezone=get("consolidation:legacyTimezone", "UTC"),
        # relative to the project, so cleanup and restore find the same dumps from anywhere
        backup_dir=str(work_dir / get("consolidation:backupDir", ".state/backups")),
        disposable_tables=tuple(disposable),
        stack=name,
        conflict_policy=get("consolidation:conflictPolicy", DEFAULT_CONFLICT_POLICY),
        pace=get("consolidation:pace", ""),
    )
    return dsn, settings
