"""Reading an environment from its Pulumi stack: the connection and the settings.

The stack's config goes through the stack program's own parser (stack_settings), so data_copy
sees the same values and defaults (sslmode `require`, ...) and refuses the same mistakes as
`pulumi preview`; the phase is the one the stack's outputs say is deployed.
"""

import shutil
from pathlib import Path

from data_copy.errors import BadStackConfig, PhaseNotDeployed, PulumiMissing, StackNotFound
from data_copy.settings import Settings, from_stack_settings
from stack_settings import ConfigError, conninfo, parse_settings

PROJECT_DIR = Path(__file__).resolve().parents[2]  # data_copy/core/ -> the project root (Pulumi.yaml)


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
    try:
        parsed = parse_settings(config)
    except ConfigError as error:
        raise BadStackConfig(f"stack {name!r}: {error}") from None
    # no password in the config: libpq takes it from PGPASSWORD or ~/.pgpass, as with --dsn
    dsn = conninfo(parsed.connection, config.get("postgresql:password"))
    settings = from_stack_settings(parsed, deployed_phase=int(outputs["phase"].value), stack=name, project_dir=work_dir)
    return dsn, settings
