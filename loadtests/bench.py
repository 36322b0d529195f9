"""``make bench``: requests/s and latency of our endpoints as ratios to a hello endpoint on the same server.

Starts a throwaway mongod and redis-server, one ``watchlist-service serve`` worker, seeds data over HTTP,
then drives each endpoint with wrk (Debian's ``wrk`` package) for a fixed time. Every figure is reported as a
ratio to the hello endpoint measured in the same run, because these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from watchlist_service.config import Settings
from watchlist_service.devstack.processes import (
    free_port,
    mongodb_uri,
    start_mongod,
    start_redis,
    wait_for_port,
)
from watchlist_service.security import mint_token

RESULTS = Path("bench/results.md")
USERS = 500
# Measured runs start their request counter here; the 2-second warm-up (counter from 0) stays below it.
MEASURED_OFFSET = 5_000
# Removers get titles for up to this many removes per second, so the remove run never runs dry.
MAX_REMOVE_RPS = 2_500


@dataclass
class Result:
    """One wrk run."""

    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        return float("nan")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(name: str, output: str) -> Result:
    """Requests/s, p50, p99 and failures from wrk's ``--latency`` output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return Result(
        name=name,
        rps=rps,
        p50_ms=_ms(p50.group(1)) if p50 else float("nan"),
        p99_ms=_ms(p99.group(1)) if p99 else float("nan"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(g) for g in socket_errors.groups()) if socket_errors else 0,
    )


def lua_tokens(tokens: list[str]) -> str:
    return "tokens = {" + ",".join(f'"{t}"' for t in tokens) + "}\n"


# The counter starts at the offset given after "--", so the warm-up and the measured run touch different
# titles (no 409s from repeating the warm-up's adds) and the remove run deletes what the add run added.
ADD_LUA = """
init = function(args) counter = tonumber(args[1] or "0") end
request = function()
  counter = counter + 1
  local user = (counter % #tokens) + 1
  local item = math.floor(counter / #tokens) + 1
  local headers = {}
  headers["Authorization"] = "Bearer " .. tokens[user]
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/v1/watchlist", headers, '{"contentId":"movie:' .. item .. '"}')
end
"""

REMOVE_LUA = """
init = function(args) counter = tonumber(args[1] or "0") end
request = function()
  counter = counter + 1
  local user = (counter % #tokens) + 1
  local item = math.floor(counter / #tokens) + 1
  local headers = {}
  headers["Authorization"] = "Bearer " .. tokens[user]
  return wrk.format("DELETE", "/v1/watchlist/movie:" .. item, headers)
end
"""


class Bench:
    """Drives one server with wrk."""

    def __init__(self, duration_s: int, connections: int, work_dir: Path) -> None:
        self.duration_s = duration_s
        self.connections = connections
        self.work_dir = work_dir

    def wrk(self, name: str, url: str, *, token: str | None = None, script: str | None = None) -> Result:
        args = [
            "wrk",
            "-t1",
            f"-c{self.connections}",
            f"-d{self.duration_s}s",
            "--latency",
            "--timeout",
            "5s",
        ]
        if token:
            args += ["-H", f"Authorization: Bearer {token}"]
        if script:
            path = self.work_dir / f"{name.replace(' ', '_')}.lua"
            path.write_text(script)
            args += ["-s", str(path)]
        # A short warm-up so connection set-up and first-request costs are not measured.
        warmup = [*args[:3], "-d2s", *args[4:], url, "--", "0"]
        subprocess.run(warmup, capture_output=True, check=True)  # noqa: S603
        measured = [*args, url, "--", str(MEASURED_OFFSET)]
        out = subprocess.run(measured, capture_output=True, text=True, check=True).stdout  # noqa: S603
        result = parse_wrk(name, out)
        print(
            f"  {name:<22} {result.rps:>9.0f} req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms"
        )
        return result


@contextmanager
def server(env: dict[str, str], log_dir: Path) -> Iterator[str]:
    """One ``watchlist-service serve`` worker; yields its base URL."""
    port = free_port()
    log = (log_dir / f"server-{port}.log").open("wb")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "watchlist_service", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=log_dir,
    )
    try:
        wait_for_port(port, timeout_s=30, process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def seed(base: str, token: str, items: int) -> None:
    """Give one user ``items`` titles (``movie:1`` ..) through the batch endpoint."""
    ids = [f"movie:{n}" for n in range(1, items + 1)]
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for start in range(0, items, 100):
            client.post("/v1/watchlist/batch", json={"add": ids[start : start + 100]}).raise_for_status()


def ratio_table(results: list[Result], hello: dict[str, Result]) -> str:
    lines = [
        "| endpoint | req/s | ratio to hello | p50 ms | p99 ms | non-2xx | socket errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        base = hello["cache-off" if result.name.startswith("uncached") else "cache-on"]
        lines.append(
            f"| {result.name} | {result.rps:,.0f} | {result.rps / base.rps:.2f} | {result.p50_ms:.2f} | "
            f"{result.p99_ms:.2f} | {result.non_2xx} | {result.errors} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write ``bench/results.md``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")

    with tempfile.TemporaryDirectory(prefix="watchlist-bench-") as tmp:
        work = Path(tmp)
        secret = secrets.token_urlsafe(48)
        settings = Settings(_env_file=None, jwt_secret=secret)  # type: ignore[call-arg]
        mongod = start_mongod(work / "mongo")
        redis = start_redis(work / "redis")
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHLIST_")}
        base_env.update(
            {
                "WATCHLIST_MONGODB_URI": mongodb_uri(mongod.port),
                "WATCHLIST_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
                "WATCHLIST_JWT_SECRET": secret,
                "WATCHLIST_ACCESS_LOG": "false",
                "WATCHLIST_LOG_LEVEL": "WARNING",
            }
        )
        reader = mint_token(settings, "bench-reader", ttl_s=3600)
        writers = [mint_token(settings, f"bench-writer-{n}", ttl_s=3600) for n in range(USERS)]
        removers = [mint_token(settings, f"bench-remover-{n}", ttl_s=3600) for n in range(USERS)]
        remover_items = (MEASURED_OFFSET + args.duration * MAX_REMOVE_RPS) // USERS + 1
        bench = Bench(args.duration, args.connections, work)
        results: list[Result] = []
        hello: dict[str, Result] = {}
        try:
            print(f"one worker, wrk -t1 -c{args.connections} -d{args.duration}s, {os.cpu_count()} cores")
            with server(base_env, work) as base:
                seed(base, reader, 10)
                hello["cache-on"] = bench.wrk("hello", base + "/v1/hello", token=reader)
                results.append(bench.wrk("cached page", base + "/v1/watchlist?page=1&limit=10", token=reader))
                results.append(bench.wrk("add", base, script=lua_tokens(writers) + ADD_LUA))
                for token in removers:
                    seed(base, token, remover_items)
                results.append(bench.wrk("remove", base, script=lua_tokens(removers) + REMOVE_LUA))
            with server({**base_env, "WATCHLIST_CACHE_ENABLED": "false"}, work) as base:
                hello["cache-off"] = bench.wrk("hello (cache off)", base + "/v1/hello", token=reader)
                results.append(
                    bench.wrk("uncached page", base + "/v1/watchlist?page=1&limit=10", token=reader)
                )
        finally:
            redis.stop()
            mongod.stop()

    table = ratio_table(results, hello)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        f"# Benchmark ({stamp})\n\n`make bench` on {os.cpu_count()} cores, one worker, "
        f"wrk -t1 -c{args.connections} -d{args.duration}s per endpoint; "
        f"hello: {hello['cache-on'].rps:,.0f} req/s (cache on), "
        f"{hello['cache-off'].rps:,.0f} req/s (cache off).\n\n"
        f"{table}\n"
    )
    print()
    print(table)
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
