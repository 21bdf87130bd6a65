"""Entry point of the stand-in plugin: `python -m provider_standin ENGINE_ADDRESS`.

`-version` prints the pinned provider version (as the bootstrap's version probe expects);
`-kind` prints "stand-in". Otherwise it says on stderr that it is the stand-in and serves
the provider with pulumi.provider.experimental.server.main(args, "3.18.2", provider).

The SDK's servicer appends a Python traceback to every error; the real provider prints
none. So the RPCs the engine calls are wrapped to abort with the error's text alone: a
resource's error as the bridge hands it on (bridge.BridgeError, a `1 error occurred:`
block), any other as its first line.
"""

import sys
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from pulumi.provider.experimental import server

from provider_standin import PROVIDER_VERSION, STANDIN_NOTICE
from provider_standin.bridge import BridgeError
from provider_standin.pg import one_line
from provider_standin.provider import StandinProvider

_WRAPPED_RPCS = ("CheckConfig", "DiffConfig", "Configure", "Check", "Diff", "Create", "Read", "Update", "Delete")


def _unwrapped(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """The RPC body inside the SDK's traceback-adding decorator (a closure cell)."""
    for cell in method.__closure__ or ():
        if callable(cell.cell_contents):
            return cell.cell_contents
    return method


def _one_line_servicer() -> type:
    base = server.ProviderServicer

    def wrap(name: str) -> Callable[..., Awaitable[Any]]:
        inner = _unwrapped(getattr(base, name))

        async def rpc(self: Any, request: Any, context: Any) -> Any:
            try:
                return await inner(self, request, context)
            except NotImplementedError:
                raise
            except Exception as exc:  # noqa: BLE001 - every error is reported without a traceback
                await context.abort(
                    grpc.StatusCode.UNKNOWN, str(exc) if isinstance(exc, BridgeError) else one_line(exc)
                )

        rpc.__name__ = name
        return rpc

    return type("OneLineProviderServicer", (base,), {name: wrap(name) for name in _WRAPPED_RPCS})


def main(argv: list[str]) -> None:
    if argv[:1] in (["-version"], ["--version"]):
        print(PROVIDER_VERSION)
        return
    if argv[:1] == ["-kind"]:
        print("stand-in")
        return
    print(STANDIN_NOTICE, file=sys.stderr, flush=True)
    server.ProviderServicer = _one_line_servicer()  # main() builds the servicer from this name
    server.main(argv, PROVIDER_VERSION, StandinProvider())


if __name__ == "__main__":
    main(sys.argv[1:])
