"""A local PostgreSQL cluster for tests, the demo and benchmarks.

    from pgcluster import Cluster
    cluster = Cluster.start(Path(".state/pg/data"))      # initdb on first use, reuse if running
    dsn = cluster.create_database("scratch")             # postgresql://postgres:...@127.0.0.1:PORT/scratch
    cluster.stop()

The server listens on 127.0.0.1 only (a free port unless one is given), keeps its unix
socket in a private directory, trusts local socket connections and asks TCP clients for a
scram-sha-256 password. The superuser is ``postgres``; its password is generated once and
kept beside the data directory (``<datadir>.password``). When running as root the server
runs as the ``postgres`` OS user (PostgreSQL refuses root).
"""

from pgcluster.cluster import (
    Cluster,
    ClusterError,
    ServerSettings,
    find_bindir,
    start,
)

__all__ = ["Cluster", "ClusterError", "ServerSettings", "find_bindir", "start"]
