"""The table registry for application code: logical table name -> "schema.table".

    from table_registry import get_table_registry
    registry = get_table_registry()                     # $CONSOLIDATION_TABLE_REGISTRY
    registry.get_table("raw_betting_splits")             # raw_data.raw_mlb_betting_splits (phase 2, 3)
    registry.get_table("legacy_raw_betting_splits")      # splits.raw_mlb_betting_splits (always)

The registry is what the Pulumi stack exports as its ``tableRegistry`` output for the
phase it is deployed in (phase 1: legacy tables; phases 2 and 3: the consolidated ones;
``legacy_*`` names always point at the legacy tables). Export it once per deployment::

    pulumi stack output tableRegistry --json > table_registry.json
    export CONSOLIDATION_TABLE_REGISTRY=$PWD/table_registry.json

so that setting ``phase`` back and running ``pulumi up`` (then exporting again) switches
the application back without a code change. Nothing here imports Pulumi at runtime
except :func:`from_stack`, which reads the output through the Automation API directly.
"""

from table_registry.registry import (
    ENV_VAR,
    OUTPUT_NAME,
    RegistrySourceError,
    TableRegistry,
    TableRegistryError,
    UnknownTableName,
    from_catalog,
    from_stack,
    get_table_registry,
)

__all__ = [
    "ENV_VAR",
    "OUTPUT_NAME",
    "RegistrySourceError",
    "TableRegistry",
    "TableRegistryError",
    "UnknownTableName",
    "from_catalog",
    "from_stack",
    "get_table_registry",
]
