"""``make cluster`` for real: two ``watchlist-service serve`` instances behind nginx, started as a subprocess
the way a developer starts it (``watchlist-dev cluster``), on the session's MongoDB and Redis."""

from __future__ import annotations

import asyncio
import json
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.conftest import bearer, new_user, server_env
from watchlist_dev.cluster import READY_MARKER, ClusterError, find_nginx
from watchlist_dev.processes import descendants, free_port, pid_alive, stop_process
from watchlist_service.config import Settings

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 180  # a first run may install nginx with apt-get
# Litestar's request counter (its app_name label is "watchlist").
_METRIC_RE = re.compile(r"^litestar_requests_total\{([^}]*)\} ([0-9.e+]+)$", re.MULTILINE)
_SOCKETS_RE = re.compile(r"^watchlist_ws_sockets(?:\{[^}]*\})? ([0-9.e+]+)$", re.MULTILINE)


@dataclass
class RunningCluster:
    process: subprocess.Popen[str]
    balancer: str
    instances: list[str]
    output: list[str] = field(default_factory=list)


def _read_lines(stream: object, lines: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line.rstrip("\n"))
    lines.put(None)


@pytest.fixture(scope="module")
def cluster(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    try:
        find_nginx()
    except ClusterError as exc:
        pytest.skip(str(exc))
    workdir = tmp_path_factory.mktemp("make-cluster")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "watchlist_dev",
            "cluster",
            "--instances",
            "2",
            "--port",
            str(port),
            "--data-dir",
            str(workdir / "data"),
        ],
        cwd=workdir,  # its .env (if any) stays out of the repository
        env=server_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    output: list[str] = []
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not any(line.startswith(READY_MARKER) for line in output):
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                pytest.fail("the cluster exited before it was ready:\n" + "\n".join(output))
            output.append(line)
        values = dict(line.split("=", 1) for line in output if re.match(r"^[A-Z_0-9]+=", line))
        instances = [values[k] for k in sorted(values) if k.startswith("INSTANCE_")]
        assert values["BALANCER"] == f"http://127.0.0.1:{port}"
        assert len(instances) == 2
        yield RunningCluster(process, values["BALANCER"], instances, output)
    finally:
        stop_process(process, signal.SIGINT, timeout_s=60)
        assert process.stdout is not None
        process.stdout.close()


def request_counts(instance: str) -> Counter[str]:
    """The request counter of one instance by ``method path``, read from its own /metrics."""
    text = httpx.get(f"{instance}/metrics", timeout=10).text
    counts: Counter[str] = Counter()
    for labels, value in _METRIC_RE.findall(text):
        parsed = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        counts[f"{parsed.get('method')} {parsed.get('path')}"] += int(float(value))
    return counts


def open_sockets(instance: str) -> int:
    match = _SOCKETS_RE.search(httpx.get(f"{instance}/metrics", timeout=10).text)
    return int(float(match.group(1))) if match else 0


async def test_requests_through_the_balancer_reach_both_instances(
    cluster: RunningCluster, settings: Settings
) -> None:
    user = new_user(settings)
    before = [request_counts(i)["GET /v1/watchlist"] for i in cluster.instances]
    async with httpx.AsyncClient(base_url=cluster.balancer, timeout=30) as client:
        # Concurrent, so least_conn has busy instances to choose between.
        responses = await asyncio.gather(
            *(client.get("/v1/watchlist", headers=user.headers) for _ in range(200))
        )
        assert {r.status_code for r in responses} == {200}
        echoed = await client.get(
            "/v1/watchlist", headers={**user.headers, "X-Request-ID": "lb-test-0123456789"}
        )
    assert echoed.headers["x-request-id"] == "lb-test-0123456789"  # passed through nginx, both ways
    served = [
        request_counts(i)["GET /v1/watchlist"] - b for i, b in zip(cluster.instances, before, strict=True)
    ]
    assert sum(served) == 201
    assert min(served) >= 20, served  # both instances took a real share


async def test_fifty_concurrent_adds_through_the_balancer(
    cluster: RunningCluster, settings: Settings
) -> None:
    user = new_user(settings)
    async with httpx.AsyncClient(
        base_url=cluster.balancer, timeout=30, limits=httpx.Limits(max_connections=100)
    ) as client:
        responses = await asyncio.gather(
            *(
                client.post("/v1/watchlist", json={"contentId": "movie:550"}, headers=user.headers)
                for _ in range(50)
            )
        )
        outcomes = Counter(f"{r.status_code}:{r.json().get('code', '')}" for r in responses)
        assert outcomes == Counter({"201:": 1, "409:40001": 49})
        page = (await client.get("/v1/watchlist", headers=user.headers)).json()
    assert [i["contentId"] for i in page["items"]] == ["movie:550"]
    assert page["version"] == 1


async def test_a_change_through_the_balancer_is_read_back_fresh_from_every_instance(
    cluster: RunningCluster, settings: Settings
) -> None:
    user = new_user(settings)
    async with httpx.AsyncClient(timeout=30) as client:
        await client.post(
            cluster.balancer + "/v1/watchlist", json={"contentId": "tv:1396"}, headers=user.headers
        )
        for step in range(10):
            # Both instances cached the page before the change: the change must drop it for both.
            for instance in cluster.instances:
                assert (await client.get(instance + "/v1/watchlist", headers=user.headers)).status_code == 200
            changed = await client.patch(
                cluster.balancer + "/v1/watchlist/tv:1396",
                json={"rating": step % 10 + 1},
                headers=user.headers,
            )
            assert changed.status_code == 200
            for url in (cluster.balancer, *cluster.instances):
                page = (await client.get(url + "/v1/watchlist", headers=user.headers)).json()
                assert page["items"][0]["rating"] == step % 10 + 1, url


async def test_realtime_events_cross_instances_through_the_balancer(
    cluster: RunningCluster, settings: Settings
) -> None:
    user = new_user(settings)
    ws_url = cluster.balancer.replace("http://", "ws://") + "/v1/watchlist/events"
    before = [open_sockets(i) for i in cluster.instances]
    async with connect(ws_url, additional_headers=bearer(settings, user.id), open_timeout=10) as ws:
        # The socket went through nginx's upgrade; find the instance holding it, and write on the other.
        deadline = time.monotonic() + 10
        while (holding := [open_sockets(i) - b for i, b in zip(cluster.instances, before, strict=True)]) != [
            1,
            0,
        ] and holding != [0, 1]:
            assert time.monotonic() < deadline, holding
            await asyncio.sleep(0.05)
        other = cluster.instances[holding.index(0)]
        async with httpx.AsyncClient(timeout=30) as client:
            added = await client.post(
                other + "/v1/watchlist", json={"contentId": "movie:13"}, headers=user.headers
            )
        assert added.status_code == 201
        async with asyncio.timeout(10):
            while True:
                message = json.loads(await ws.recv())
                if message.get("event") == "item.added":
                    break
        assert message["item"]["contentId"] == "movie:13"
        assert message["version"] == 1


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    if not pid_alive(pid):
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigint_stops_every_process(cluster: RunningCluster) -> None:
    children = descendants(cluster.process.pid)
    # mongod is not among them (the session's); nginx master and worker, two instances and the fake TMDb are.
    assert len(children) >= 5, children
    ports = [int(url.rsplit(":", 1)[1]) for url in (cluster.balancer, *cluster.instances)]
    cluster.process.send_signal(signal.SIGINT)
    assert cluster.process.wait(timeout=60) == 0
    deadline = time.monotonic() + 10
    while (left := {pid for pid in children if alive(pid)}) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in left if pid_alive(pid)]
    assert not [port for port in ports if accepts(port)]


def accepts(port: int) -> bool:
    """Whether something listens on ``port`` (binding would also fail on sockets in TIME_WAIT)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
