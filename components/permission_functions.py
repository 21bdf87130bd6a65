"""grant_user_permissions and check_user_permissions (see components/permission_sql.py)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.permission_sql import FunctionSpec, check_function, grant_function
from components.serial import SerialChain
from components.sql_function import SqlFunction
from stack_settings import RoleNames


@dataclass
class PermissionFunctionsArgs:
    names: RoleNames
    connection: pulumi.Input[Mapping[str, Any]]  # incl. the password as a secret
    chain: SerialChain
    depends_on: list[pulumi.Resource] = field(default_factory=list)  # roles and schemas


class PermissionFunctions(pulumi.ComponentResource):
    def __init__(self, name: str, args: PermissionFunctionsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("consolidation:index:PermissionFunctions", name, None, opts)
        grant_spec = grant_function(args.names)
        check_spec = check_function(args.names)

        def function(spec: FunctionSpec) -> SqlFunction:
            resource = SqlFunction(
                f"{name}-{spec.name}",
                spec,
                args.connection,
                opts=args.chain.opts(self, depends_on=args.depends_on),
            )
            args.chain.add(resource)
            return resource

        self.grant_user_permissions = function(grant_spec)
        self.check_user_permissions = function(check_spec)
        self.summary: dict[str, Any] = {
            "grant": grant_spec.identity,
            "check": check_spec.identity,
            "owner": grant_spec.owner,
            "executableBy": list(grant_spec.execute_roles),
            "userTypes": args.names.user_types(),
        }
        self.register_outputs({"summary": self.summary})
