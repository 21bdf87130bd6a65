"""What the two dynamic resources (sql_function.SqlFunction, owner_role.OwnerRole) share.

Both take the stack's connection as an input (Connection.as_output() plus the password, a
secret), keep it as a secret output so `destroy` and `refresh` can connect too, and connect
with it the one way the project connects (stack_settings.conninfo).
"""

from collections.abc import Mapping
from typing import Any

import psycopg
import pulumi
from psycopg import sql
from pulumi.dynamic import Resource, ResourceProvider

from stack_settings import Connection, conninfo

CONNECTION = "connection"
IN_SYNC = "inSync"
CONNECT_TIMEOUT_S = 15
LOCK_TIMEOUT = sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal("10s"))


def connect(connection: Mapping[str, Any], application_name: str) -> psycopg.Connection:
    """A connection from a dynamic resource's `connection` input."""
    return psycopg.connect(
        conninfo(
            Connection.from_output(connection),
            connection.get("password"),
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name=application_name,
        )
    )


def inputs(props: Mapping[str, Any]) -> dict[str, Any]:
    """The resource's inputs (without the IN_SYNC flag and Pulumi's own __ keys)."""
    return {k: v for k, v in props.items() if k != IN_SYNC and not k.startswith("__")}


class ConnectedResource(Resource):
    """A dynamic resource with a secret `connection` input next to its own `props`."""

    def __init__(
        self,
        provider: ResourceProvider,
        name: str,
        props: Mapping[str, Any],
        connection: pulumi.Input[Mapping[str, Any]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        secret_opts = pulumi.ResourceOptions(additional_secret_outputs=[CONNECTION])
        super().__init__(
            provider, name, {**props, CONNECTION: connection}, pulumi.ResourceOptions.merge(opts, secret_opts)
        )
