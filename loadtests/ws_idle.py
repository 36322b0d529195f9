"""``python -m loadtests.ws_idle --sockets 5000``: what an idle realtime socket costs one worker.

Starts a throwaway mongod and redis-server and one ``watchlist-service serve`` worker, opens N authenticated
sockets (one user each, as N devices of N users would) and waits until each is subscribed, then reports the
worker's resident memory (VmRSS from /proc) before and after, per socket, and how fast a REST change still
reaches a sample of the sockets while all N are open.

``--compression deflate`` (the default) offers permessage-deflate as browsers do; ``none`` shows the share of
the per-socket figure that is the compression contexts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect

from loadtests.servers import serve_one_worker, start_backends
from watchlist_service.security import mint_token

EVENTS_PATH = "/v1/watchlist/events"
FDS_PER_SOCKET = 1
FDS_SPARE = 512


@dataclass
class Report:
    """What one run measured."""

    sockets: int
    compression: str
    rss_start_kib: int = 0
    rss_before_kib: int = 0
    rss_after_kib: int = 0
    rss_closed_kib: int = 0
    open_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    def lines(self) -> list[str]:
        per_socket = (self.rss_after_kib - self.rss_before_kib) / max(self.sockets, 1)
        lines = [
            f"sockets open            {self.sockets:,} (one worker, compression: {self.compression})",
            f"opened and subscribed   in {self.open_s:.1f} s ({self.sockets / self.open_s:,.0f}/s)",
            f"worker RSS at start     {self.rss_start_kib / 1024:.1f} MiB",
            f"worker RSS before       {self.rss_before_kib / 1024:.1f} MiB (after a warm-up)",
            f"worker RSS with sockets {self.rss_after_kib / 1024:.1f} MiB",
            f"per idle socket         {per_socket:.1f} KiB",
            f"worker RSS after close  {self.rss_closed_kib / 1024:.1f} MiB",
        ]
        if self.latencies_ms:
            ordered = sorted(self.latencies_ms)
            p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            lines.append(
                f"REST change -> event    p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms, "
                f"max {ordered[-1]:.1f} ms ({len(ordered)} sockets sampled while all were open)"
            )
        return lines


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` in KiB, from ``/proc/<pid>/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def raise_fd_limit(needed: int) -> int:
    """Raise the soft limit on open files (inherited by the server we start) as far as ``needed``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return max(soft, target)


async def open_subscribed(url: str, token: str, compression: str | None) -> ClientConnection:
    """An authenticated socket, returned once the server has subscribed it (it then answers ops)."""
    ws = await connect(
        url,
        additional_headers={"Authorization": f"Bearer {token}"},
        compression=compression,
        ping_interval=None,  # the server pings; a second keep-alive would only add load
        open_timeout=120,
    )
    await ws.send(json.dumps({"op": "list", "requestId": "ready", "limit": 1}))
    while json.loads(await ws.recv()).get("requestId") != "ready":
        pass
    return ws


async def measure(
    base: str, pid: int, tokens: list[str], *, compression: str | None, concurrency: int, sample: int
) -> Report:
    """Open the sockets, read the worker's memory, probe delivery, close them."""
    report = Report(sockets=len(tokens), compression=compression or "none")
    ws_url = base.replace("http://", "ws://") + EVENTS_PATH
    report.rss_start_kib = rss_kib(pid)
    # Warm-up: the first sockets and the first ops load code and fill caches that are not per-socket costs.
    warm = [await open_subscribed(ws_url, tokens[i], compression) for i in range(min(20, len(tokens)))]
    for ws in warm:
        await ws.close()
    await asyncio.sleep(1)  # let the closes finish on the server before the baseline
    report.rss_before_kib = rss_kib(pid)

    limit = asyncio.Semaphore(concurrency)

    async def one(token: str) -> ClientConnection:
        async with limit:
            return await open_subscribed(ws_url, token, compression)

    started = time.perf_counter()
    sockets = await asyncio.gather(*(one(token) for token in tokens))
    report.open_s = time.perf_counter() - started
    await asyncio.sleep(2)  # settle: nothing in flight when the figure is read
    report.rss_after_kib = rss_kib(pid)

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        step = max(1, len(sockets) // max(sample, 1))
        for n, index in enumerate(range(0, len(sockets), step)):
            begun = time.perf_counter()
            response = await client.post(
                "/v1/watchlist",
                json={"contentId": f"movie:{n + 1}"},
                headers={"Authorization": f"Bearer {tokens[index]}"},
            )
            response.raise_for_status()
            while json.loads(await sockets[index].recv()).get("event") != "item.added":
                pass
            report.latencies_ms.append((time.perf_counter() - begun) * 1000)

    await asyncio.gather(*(ws.close() for ws in sockets))
    await asyncio.sleep(2)
    report.rss_closed_kib = rss_kib(pid)
    return report


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=200, help="handshakes in flight")
    parser.add_argument("--compression", choices=["deflate", "none"], default="deflate")
    parser.add_argument("--sample", type=int, default=100, help="sockets probed for delivery latency")
    args = parser.parse_args(argv)

    limit = raise_fd_limit(args.sockets * FDS_PER_SOCKET * 2 + FDS_SPARE)  # client and server ends
    if limit < args.sockets + FDS_SPARE:
        sys.exit(f"the open-files limit is {limit}: too low for {args.sockets} sockets")

    with tempfile.TemporaryDirectory(prefix="watchlist-ws-idle-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        settings, env = start_backends(work, stack)
        tokens = [mint_token(settings, f"idle-{n}", ttl_s=3600) for n in range(args.sockets)]
        with serve_one_worker(env, work) as (base, pid):
            report = asyncio.run(
                measure(
                    base,
                    pid,
                    tokens,
                    compression=None if args.compression == "none" else "deflate",
                    concurrency=args.concurrency,
                    sample=args.sample,
                )
            )
    print("\n".join(report.lines()))


if __name__ == "__main__":
    main()
