"""Entry point of the stand-in: `python -m langhost_standin [flags] [ENGINE_ADDRESS]`.

As the real host: `-version` prints the version; `-use-executor PATH` names the exec shim
(bootstrap.sh's launcher passes the `pulumi-language-python-exec` beside it, where the real host
looks by default); `-tracing URL` is passed on to the program; the engine's logging flags
(`--logtostderr`, `-v=N`, `--logflow`) are accepted. The last argument is the engine's address.
The gRPC port is the first line on stdout; SIGINT (how the engine stops its plugins) or SIGTERM
ends it quietly. Every 5 minutes it checks that the engine still answers, and ends when it does not.
`-kind` prints "stand-in". Bad flags: one line on stderr, exit 2.
"""

from __future__ import annotations

import shutil
import signal
import sys
import threading
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

if __name__ == "__main__" and not __package__:
    # run as a file (bootstrap.sh's launcher): the checkout on sys.path without a PYTHONPATH
    # that the program the host runs would inherit
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import grpc  # noqa: E402
from pulumi.runtime.proto import language_pb2_grpc  # noqa: E402

from langhost_standin import HOST_VERSION, STANDIN_NOTICE  # noqa: E402
from langhost_standin.host import StandinLanguageHost  # noqa: E402

HEALTH_CHECK_SECONDS = 300.0
_MAX_MESSAGE = 400 * 1024 * 1024  # as the SDK's own gRPC servers
_VALUE_FLAGS = ("tracing", "use-executor", "v", "log_dir", "vmodule", "stderrthreshold", "log_backtrace_at")
_BOOL_FLAGS = ("version", "kind", "logtostderr", "alsologtostderr", "logflow")


class UsageError(Exception):
    pass


@dataclass
class Args:
    flags: dict[str, str]
    positional: list[str]


def parse(argv: list[str]) -> Args:
    """Go `flag` style: -name, --name, -name=value, -name value; flags stop at the first positional."""
    flags: dict[str, str] = {}
    rest = list(argv)
    while rest and rest[0].startswith("-") and rest[0] not in ("-", "--"):
        name, eq, value = rest.pop(0).lstrip("-").partition("=")
        if name in _BOOL_FLAGS:
            flags[name] = value or "true"
        elif name in _VALUE_FLAGS:
            if not eq:
                if not rest:
                    raise UsageError(f"flag needs an argument: -{name}")
                value = rest.pop(0)
            flags[name] = value
        else:
            raise UsageError(f"flag provided but not defined: -{name}")
    if rest[:1] == ["--"]:
        rest.pop(0)
    return Args(flags, rest)


def _engine_alive(channel: grpc.Channel) -> bool:
    """grpc.health.v1.Health/Check on the engine (an empty request); UNIMPLEMENTED counts as alive."""
    check = channel.unary_unary(
        "/grpc.health.v1.Health/Check", request_serializer=lambda b: b, response_deserializer=lambda b: b
    )
    try:
        check(b"", timeout=30)
    except grpc.RpcError as error:
        return error.code() == grpc.StatusCode.UNIMPLEMENTED  # type: ignore[attr-defined]
    return True


def serve(executor: str, engine_address: str, tracing: str) -> None:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16),
        options=[("grpc.max_receive_message_length", _MAX_MESSAGE), ("grpc.max_send_message_length", _MAX_MESSAGE)],
    )
    host = StandinLanguageHost(executor, engine_address, tracing)
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(host, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    channel = grpc.insecure_channel(engine_address) if engine_address else None
    while not stop.wait(HEALTH_CHECK_SECONDS):
        if channel is not None and not _engine_alive(channel):
            break
    host.interrupt_all()  # a program still running ends with its host, as under the real one
    server.stop(grace=1).wait()


def main(argv: list[str]) -> int:
    try:
        args = parse(argv)
    except UsageError as error:
        usage = "pulumi-language-python takes [-use-executor PATH] [-tracing URL] ENGINE"
        print(f"error: {error} ({usage})", file=sys.stderr)
        return 2
    if "version" in args.flags:
        print(HOST_VERSION)
        return 0
    if "kind" in args.flags:
        print("stand-in")
        return 0
    executor = args.flags.get("use-executor") or shutil.which("pulumi-language-python-exec") or ""
    if not Path(executor).is_file():
        print(f"error: missing executor pulumi-language-python-exec {executor} (run `make toolchain`)", file=sys.stderr)
        return 1
    print(STANDIN_NOTICE, file=sys.stderr, flush=True)
    serve(executor, args.positional[-1] if args.positional else "", args.flags.get("tracing", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
