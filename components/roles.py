"""The eight group roles and the owner role (all NOLOGIN), from catalog.ROLES / OWNER_ROLE."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_postgresql as postgresql

from catalog import OWNER_ROLE, ROLES
from components.owner_role import OwnerRole
from components.serial import SerialChain
from stack_settings import RoleNames


@dataclass
class RolesArgs:
    names: RoleNames
    chain: SerialChain  # the owner's memberships join the privilege chain
    connection: pulumi.Input[Mapping[str, Any]]  # for the OwnerRole resource (password secret)


class Roles(pulumi.ComponentResource):
    """Group roles (postgresql.Role) + the owner role, member of every group WITH ADMIN OPTION.

    The owner owns the schemas, the tables data_copy creates (under SET ROLE) and the
    SECURITY DEFINER grant_user_permissions; ADMIN OPTION on the group roles is exactly the
    right that function needs (GRANT <group> TO <user>), nothing more (no CREATEROLE).
    The owner role and its memberships are ONE resource (components/owner_role.py), never a
    postgresql.Role: the provider's Role Update revokes every membership and re-grants
    without ADMIN OPTION (spec trap 1), so no provider resource manages them.
    """

    groups: dict[str, postgresql.Role]
    owner: OwnerRole

    def __init__(self, name: str, args: RolesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("consolidation:index:Roles", name, None, opts)
        names = args.names
        child = pulumi.ResourceOptions(parent=self)
        self.groups = {
            role.name: postgresql.Role(
                f"{name}-{role.name}",
                name=names.actual(role.name),
                login=False,
                opts=child,
            )
            for role in ROLES
        }
        self.owner = OwnerRole(
            f"{name}-{OWNER_ROLE}",
            names.owner,
            pulumi.Output.all(*[g.name for g in self.groups.values()]),
            args.connection,
            opts=args.chain.opts(self, depends_on=list(self.groups.values())),
        )
        args.chain.add(self.owner)
        self.names = pulumi.Output.from_input(names.all())
        self.register_outputs({"names": self.names, "owner": self.owner.name})
