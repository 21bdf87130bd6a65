"""Privileges of the group roles on the consolidated schemas, from catalog.privileges().

For every (role, schema) the catalog gives access to:
  postgresql.Grant             schema USAGE/CREATE; table, sequence and function
                               privileges on what exists now (no object list = all)
  postgresql.DefaultPrivileges the same table/sequence/function privileges for what the
                               owner role creates later (data_copy creates the tables
                               under SET ROLE <owner>)
and once: default privileges FOR ROLE <owner> revoking EXECUTE on new functions from
PUBLIC (PostgreSQL grants it to PUBLIC by default; a per-schema default cannot take a
global one away, so this one has no schema). Schemas, tables and sequences give PUBLIC
nothing by default, so nothing else needs revoking.

The privileges depend on the phase (catalog.roles.privileges): READ only in phase 1, the
guide's full access from phase 2 on.

All of these are put in the shared SerialChain (see components/serial.py), and all are
delete_before_replace: a replacement created before the old one's Delete would be revoked
by that Delete, which revokes the same key (spec trap 2).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import pulumi
import pulumi_postgresql as postgresql

from catalog import ROLES, SCHEMA_NAMES, privileges
from components.serial import SerialChain

GRANT_OBJECT_TYPES = ("schema", "table", "sequence", "function")
DEFAULT_OBJECT_TYPES = ("table", "sequence", "function")
P = TypeVar("P", postgresql.Grant, postgresql.DefaultPrivileges)


@dataclass
class GrantsArgs:
    database: str
    owner: pulumi.Input[str]  # the owner role's name
    roles: dict[str, pulumi.Input[str]]  # logical group role -> actual name (Outputs)
    schemas: dict[str, pulumi.Input[str]]  # schema -> name (Outputs, for the dependency)
    chain: SerialChain
    phase: int = 1


class Grants(pulumi.ComponentResource):
    grants: list[postgresql.Grant]
    default_privileges: list[postgresql.DefaultPrivileges]

    def __init__(self, name: str, args: GrantsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("consolidation:index:Grants", name, None, opts)
        self.grants = []
        self.default_privileges = []
        chain = args.chain

        def privilege(kind: type[P], resource_name: str, **privilege_args: Any) -> P:
            """One Grant / DefaultPrivileges in the chain, delete_before_replace (trap 2)."""
            opts = pulumi.ResourceOptions.merge(chain.opts(self), pulumi.ResourceOptions(delete_before_replace=True))
            resource = kind(resource_name, database=args.database, opts=opts, **privilege_args)
            chain.add(resource)
            return resource

        def each_type(
            kind: type[P], prefix: str, object_types: Iterable[str], by_type: dict[str, list[str]], **common: Any
        ) -> list[P]:
            """One resource per object type (of one role and schema), in the chain's order."""
            return [
                privilege(kind, f"{prefix}{t}", object_type=t, privileges=by_type[t], **common) for t in object_types
            ]

        self.default_privileges.append(
            privilege(
                postgresql.DefaultPrivileges,
                f"{name}-public-no-execute-on-new-functions",
                owner=args.owner,
                role="public",
                object_type="function",
                privileges=[],
            )
        )

        owner = {"owner": args.owner}
        matrix: dict[str, dict[str, dict[str, list[str]]]] = {}
        for schema in SCHEMA_NAMES:
            for role in ROLES:
                granted = privileges(role, schema, args.phase)
                if granted is None:
                    continue
                by_type = {
                    "schema": sorted(granted.schema),
                    "table": sorted(granted.table),
                    "sequence": sorted(granted.sequence),
                    "function": sorted(granted.function),
                }
                matrix.setdefault(role.name, {})[schema] = by_type

                # per (role, schema): the Grants on what exists, then the same privileges
                # as DefaultPrivileges for what the owner role creates later
                common = {"role": args.roles[role.name], "schema": args.schemas[schema]}
                prefix = f"{name}-{role.name}-{schema}-"
                self.grants += each_type(postgresql.Grant, prefix, GRANT_OBJECT_TYPES, by_type, **common)
                self.default_privileges += each_type(
                    postgresql.DefaultPrivileges, f"{prefix}default-", DEFAULT_OBJECT_TYPES, by_type, **common, **owner
                )
        self.matrix = matrix
        self.register_outputs({"matrix": matrix})
