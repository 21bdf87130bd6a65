"""`python -m demo.disposable`: the catalog's unmapped legacy tables, as the JSON list that
`consolidation:disposableTables` takes.

Phase 3 drops the legacy schemas whole; an unmapped table that holds rows makes cleanup refuse
unless it is listed as disposable. In the demo's generated database they hold generated rows
only, so the walkthrough lists them all. For your own database, list only the tables whose rows
you mean to lose (`python -m data_copy cleanup --dry-run --stack NAME` shows which hold rows).
"""

import json

from catalog.legacy import LEGACY_TABLES


def unmapped_tables() -> list[str]:
    return [t.qualified for t in LEGACY_TABLES if t.kind == "table" and t.mapped_to is None]


if __name__ == "__main__":
    print(json.dumps(unmapped_tables()))
