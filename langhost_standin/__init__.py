"""TEST TOOLING: a stand-in for the Python language host, pulumi-language-python.

The real host (a Go binary, module github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python)
cannot be built on this machine: the Go module proxy here refuses its module. This package is a
language host plugin written on the Pulumi SDK's own gRPC definitions of the language service
(`pulumi.runtime.proto.language_pb2_grpc`). It runs the program the way the real host does: the
SDK's own `pulumi-language-python-exec` shim, with the project's virtualenv python, the same
arguments and the same environment (README.md here maps every RPC to the real host's behaviour).

It is NOT a mock: the program really runs, against the real engine's resource monitor.
toolchain/bootstrap.sh installs it only when no real pulumi-language-python of the pinned
version is on PATH or in the Pulumi plugin cache.
"""

from importlib.metadata import version

HOST_VERSION = version("pulumi")
"""The language host's version: the Python SDK's, which bootstrap.sh keeps equal to the CLI's."""

STANDIN_KIND = "stand-in (langhost_standin/, test tooling)"
STANDIN_NOTICE = (
    "pulumi-language-python: this is the STAND-IN (langhost_standin/, test tooling), "
    "not the real Pulumi Python language host"
)
