"""The four consolidated schemas (catalog.SCHEMAS), owned by the owner role."""

from dataclasses import dataclass

import pulumi
import pulumi_postgresql as postgresql

from catalog import SCHEMAS


@dataclass
class SchemasArgs:
    database: str
    owner: pulumi.Input[str]  # the owner role's name (an Output: creates the dependency)


class Schemas(pulumi.ComponentResource):
    """CREATE SCHEMA ... AUTHORIZATION <owner>; dropped only when empty (RESTRICT).

    No privilege is granted to PUBLIC: PostgreSQL gives a new schema none, and the Grants
    component grants USAGE/CREATE to the group roles only.

    `destroy` never drops data and never takes the application's access away first: every
    resource of the stack is `protect`ed (consolidation:protect, default true, set on the
    ConsolidatedDatabase component and inherited), so the engine refuses each delete with
    one line before running it (otherwise the provider would revoke every grant and then
    fail on DROP SCHEMA ... RESTRICT, spec trap 5). drop_cascade stays false as well.
    """

    schemas: dict[str, postgresql.Schema]

    def __init__(self, name: str, args: SchemasArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("consolidation:index:Schemas", name, None, opts)
        self.schemas = {
            schema.name: postgresql.Schema(
                f"{name}-{schema.name}",
                name=schema.name,
                database=args.database,
                owner=args.owner,
                if_not_exists=False,
                drop_cascade=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for schema in SCHEMAS
        }
        self.names = pulumi.Output.from_input([s.name for s in SCHEMAS])
        self.register_outputs({"names": self.names})
