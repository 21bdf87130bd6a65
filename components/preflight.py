"""Refusals the program makes before the provider can do harm (preview and up alike).

Read-only look at who owns the four consolidated schemas in the target database:

- trap 3: the schemas belong to `<other prefix>consolidation_owner`: the stack was deployed
  with another consolidation:rolePrefix. A prefix change renames every role in place while
  the grants that depend on them are replaced and their Delete runs with the OLD name, which
  no longer exists: the stack wedges. So it is refused in preview, with one line.
- trap 6: a schema exists and belongs to someone else (e.g. a user's own `raw_data`): the
  provider would adopt it silently (ALTER SCHEMA ... OWNER TO). Refused, unless
  consolidation:adoptExistingSchemas lists it.

When the database cannot be reached the check says nothing (the provider reports that
itself, with its own error).
"""

from collections.abc import Callable

import psycopg

from catalog import OWNER_ROLE, SCHEMA_NAMES
from components import peek
from stack_settings import Connection, StackSettings

SchemaOwners = Callable[[Connection, str | None], dict[str, str]]


def read_schema_owners(connection: Connection, password: str | None) -> dict[str, str]:
    """Consolidated schema -> owner role, for those that exist ({} when unreachable)."""
    try:
        with peek.read_only(connection, password, "consolidation-preflight") as conn:
            rows = conn.execute(
                "SELECT nspname, pg_catalog.pg_get_userbyid(nspowner) FROM pg_catalog.pg_namespace"
                " WHERE nspname = ANY(%s)",
                (list(SCHEMA_NAMES),),
            ).fetchall()
    except psycopg.Error:
        return {}
    return {str(name): str(owner) for name, owner in rows}


def problem(settings: StackSettings, owners: dict[str, str]) -> str | None:
    """The one-line refusal for these schema owners, or None when the stack may go on."""
    ours = settings.role_names.owner
    for schema in SCHEMA_NAMES:
        owner = owners.get(schema)
        if owner is None or owner == ours:
            continue
        if owner.endswith(OWNER_ROLE):
            deployed = owner[: -len(OWNER_ROLE)]
            return (
                f"consolidation:rolePrefix is {settings.role_prefix!r} but this database's stack was "
                f"deployed with {deployed!r} (schema {schema} is owned by {owner}); changing the "
                "prefix of a deployed stack is refused, it would rename every role in place and "
                "wedge the grants (set it back with: pulumi config set consolidation:rolePrefix "
                f"'{deployed}'; a second stack needs its own database)"
            )
        if schema not in settings.adopt_existing_schemas:
            return (
                f"schema {schema} already exists in database {settings.connection.database} and "
                f"belongs to {owner}, not to this stack; it is not adopted silently (rename or drop "
                "it, or adopt it with: pulumi config set --path "
                f"'consolidation:adoptExistingSchemas[0]' {schema})"
            )
    return None
