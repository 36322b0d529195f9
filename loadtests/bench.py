"""``make bench``: requests/s and latency of our endpoints as ratios to a bare framework route and to our
authenticated hello, measured in the same run.

Starts a throwaway mongod, redis-server and fake TMDb; first a bare Litestar route with no middleware on the
same server with the same options (``loadtests/bare_app.py``: the framework's ceiling here), then one
``watchlist-service serve`` worker at a time, with the access log on as deployed; seeds data over HTTP, then
drives each endpoint with wrk (Debian's ``wrk`` package) for a fixed time after a 2 s warm-up. Every figure is
a ratio to the bare route and to ``GET /v1/hello`` (which pays the whole middleware stack: authentication,
rate limit, metrics, access log) in the same run, because these machines are shared and noisy; the bare
route runs again at the end, and the ratios use the mean of its two runs. Writes ``bench/results.md`` and,
when matplotlib is installed, ``bench/ratios.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

from loadtests.servers import (
    ACCESS_LOG_WRITTEN,
    UNREACHED_LIMITS,
    serve_bare_route,
    serve_one_worker,
    start_backends,
    start_catalog,
)
from watchlist_service.logging import ACCESS_LOGGER
from watchlist_service.security import mint_token

RESULTS = Path("bench/results.md")
CHART = Path("bench/ratios.png")
USERS = 500
# Measured runs start their request counter here; the 2-second warm-up (counter from 0) stays below it.
MEASURED_OFFSET = 5_000
# Removers get titles for up to this many removes per second, so the remove run never runs dry.
MAX_REMOVE_RPS = 2_500
LIST_SIZES = (10, 100, 1_000)
APP_ENCODINGS = "gzip, deflate, br"  # what mobile HTTP stacks and browsers send


@dataclass
class Result:
    """One wrk run, and the hello run it is compared with."""

    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int
    baseline: str = "hello"


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    return float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")


def parse_wrk(name: str, output: str) -> Result:
    """Requests/s, p50, p99 and failures from wrk's ``--latency`` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return Result(
        name=name,
        rps=float(rps.group(1)) if rps else 0.0,
        p50_ms=_ms(p50.group(1)) if p50 else float("nan"),
        p99_ms=_ms(p99.group(1)) if p99 else float("nan"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(g) for g in socket_errors.groups()) if socket_errors else 0,
    )


def lua_list(name: str, values: list[str]) -> str:
    return f"{name} = {{" + ",".join(f'"{v}"' for v in values) + "}\n"


# The counter starts at the offset given after "--", so the warm-up and the measured run touch different
# titles (no 409s from repeating the warm-up's adds) and the remove run deletes titles seeded for it.
# User n gets titles ids[1], ids[2], ... in turn, so no user is asked to add the same title twice.
_NEXT = """
init = function(args) counter = tonumber(args[1] or "0") end
next_pair = function()
  counter = counter + 1
  local user = (counter % #tokens) + 1
  local item = math.floor(counter / #tokens) + 1
  return tokens[user], ids[item]
end
"""
ADD_LUA = (
    _NEXT
    + """
request = function()
  local token, id = next_pair()
  local headers = {}
  headers["Authorization"] = "Bearer " .. token
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/v1/watchlist", headers, '{"contentId":"' .. id .. '"}')
end
"""
)
REMOVE_LUA = (
    _NEXT
    + """
request = function()
  local token, id = next_pair()
  local headers = {}
  headers["Authorization"] = "Bearer " .. token
  return wrk.format("DELETE", "/v1/watchlist/" .. id, headers)
end
"""
)


def post_lua(token: str, path: str, body: object) -> str:
    return (
        f'wrk.method = "POST"\nwrk.path = "{path}"\nwrk.body = {json.dumps(json.dumps(body))}\n'
        f'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    )


class Bench:
    """Drives one server with wrk."""

    def __init__(self, duration_s: int, connections: int, work_dir: Path) -> None:
        self.duration_s = duration_s
        self.connections = connections
        self.work_dir = work_dir

    def wrk(
        self,
        name: str,
        url: str,
        *,
        token: str | None = None,
        script: str | None = None,
        baseline: str = "hello",
        accept_encoding: str | None = None,
    ) -> Result:
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
        if accept_encoding:
            args += ["-H", f"Accept-Encoding: {accept_encoding}"]
        if script:
            path = self.work_dir / (re.sub(r"\W+", "_", name) + ".lua")
            path.write_text(script)
            args += ["-s", str(path)]
        # A short warm-up so connection set-up and first-request costs are not measured.
        warmup = [*args[:3], "-d2s", *args[4:], url, "--", "0"]
        subprocess.run(warmup, capture_output=True, check=True)  # noqa: S603
        measured = [*args, url, "--", str(MEASURED_OFFSET)]
        out = subprocess.run(measured, capture_output=True, text=True, check=True).stdout  # noqa: S603
        result = parse_wrk(name, out)
        result.baseline = baseline
        print(
            f"  {name:<26} {result.rps:>8.0f} req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms"
            + (f"  non-2xx {result.non_2xx}" if result.non_2xx else "")
        )
        return result


def seed(client: httpx.Client, token: str, ids: list[str]) -> None:
    """Give one user ``ids`` through the batch endpoint."""
    headers = {"Authorization": f"Bearer {token}"}
    for start in range(0, len(ids), 100):
        response = client.post("/v1/watchlist/batch", json={"add": ids[start : start + 100]}, headers=headers)
        response.raise_for_status()
        assert not response.json()["unknown"], response.json()


def catalog_ids(client: httpx.Client, token: str, count: int) -> list[str]:
    """``count`` movie ids that exist in the catalog, with their details cached (what adds look up)."""
    headers = {"Authorization": f"Bearer {token}"}
    found: list[str] = []
    cursor: str | None = None
    while len(found) < count:
        params = {"count": "100", **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/movies", params=params, headers=headers).raise_for_status().json()
        found.extend(r["contentId"] for r in page["results"])
        cursor = page["nextCursor"]
    for content_id in found[:count]:
        client.get(f"/v1/movies/{content_id.split(':')[1]}", headers=headers).raise_for_status()
    return found[:count]


# Above this difference between the bare route's two runs, the machine's speed changed during the run.
DRIFT_WARNING = 0.15


def mean_of(first: Result, last: Result) -> Result:
    """The bare route's two runs as one (each figure their mean)."""
    return Result(
        name=first.name,
        rps=(first.rps + last.rps) / 2,
        p50_ms=(first.p50_ms + last.p50_ms) / 2,
        p99_ms=(first.p99_ms + last.p99_ms) / 2,
        non_2xx=first.non_2xx + last.non_2xx,
        errors=first.errors + last.errors,
        baseline="bare",
    )


def drift(first: Result, last: Result) -> str:
    """How far the bare route moved between the start and the end of the run, in words."""
    change = last.rps / first.rps - 1
    line = (
        f"Bare route at the start and at the end of the run: {first.rps:,.0f} and {last.rps:,.0f} req/s "
        f"({change:+.0%}); the ratios use their mean."
    )
    if abs(change) > DRIFT_WARNING:
        line += (
            " The machine's speed changed during the run: ratios of routes measured far apart are uncertain."
        )
    return line


def count_access_lines(log_dir: Path) -> int:
    """Access-log lines in the servers' log files in ``log_dir``."""
    marker = f'"logger":"{ACCESS_LOGGER}"'
    return sum(log.read_text(errors="replace").count(marker) for log in log_dir.glob("server-*.log"))


def ratio_table(results: list[Result], hello: dict[str, Result], bare: Result) -> str:
    lines = [
        "| endpoint | req/s | ÷ bare route | ÷ hello | p50 ms | p99 ms | non-2xx | socket errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in [bare, *hello.values(), *results]:
        to_hello = f"{result.rps / hello[result.baseline].rps:.2f}" if result.baseline in hello else "-"
        lines.append(
            f"| {result.name} | {result.rps:,.0f} | {result.rps / bare.rps:.2f} | {to_hello} | "
            f"{result.p50_ms:.2f} | {result.p99_ms:.2f} | {result.non_2xx} | {result.errors} |"
        )
    return "\n".join(lines)


def chart(results: list[Result], hello: dict[str, Result], bare: Result) -> bool:
    """Ratios to the bare route and to hello, side by side; skipped (False) without matplotlib."""
    try:
        import matplotlib  # optional: only the chart needs it

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    shown = [r for r in [*hello.values(), *results] if not r.name.startswith("list of")][::-1]
    to_bare = [r.rps / bare.rps for r in shown]
    to_hello = [r.rps / hello[r.baseline].rps if r.baseline in hello else 0.0 for r in shown]
    fig, ax = plt.subplots(figsize=(9, 5))
    rows = range(len(shown))
    ax.barh(
        [y + 0.2 for y in rows], to_bare, height=0.4, color="#4c72b0", label="÷ bare route (no middleware)"
    )
    ax.barh(
        [y - 0.2 for y in rows], to_hello, height=0.4, color="#dd8452", label="÷ our hello (all middleware)"
    )
    ax.set_yticks(list(rows), [r.name for r in shown])
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel(f"requests/s as a ratio (bare route: {bare.rps:,.0f} req/s, p99 {bare.p99_ms:.1f} ms)")
    ax.set_title("watchlist-service, one worker (make bench)")
    for y, (b, h) in enumerate(zip(to_bare, to_hello, strict=True)):
        ax.text(b + 0.01, y + 0.2, f"{b:.2f}", va="center", fontsize=8)
        ax.text(h + 0.01, y - 0.2, f"{h:.2f}", va="center", fontsize=8)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(CHART, dpi=100)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write ``bench/results.md``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")

    results: list[Result] = []
    hello: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="watchlist-bench-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        settings, base_env = start_backends(work, stack)
        base_env.update(UNREACHED_LIMITS)
        catalog_env = {**base_env, **start_catalog(work, stack)}
        reader = mint_token(settings, "bench-reader", ttl_s=3600)
        writers = [mint_token(settings, f"bench-writer-{n}", ttl_s=3600) for n in range(USERS)]
        removers = [mint_token(settings, f"bench-remover-{n}", ttl_s=3600) for n in range(USERS)]
        remover_items = (MEASURED_OFFSET + args.duration * MAX_REMOVE_RPS) // USERS + 1
        bench = Bench(args.duration, args.connections, work)
        print(f"one worker, wrk -t1 -c{args.connections} -d{args.duration}s, {os.cpu_count()} cores")
        with serve_bare_route(work) as bare_url:
            bare_first = bench.wrk("bare route (no middleware)", bare_url, baseline="bare")
        base_env.update(ACCESS_LOG_WRITTEN)
        catalog_env.update(ACCESS_LOG_WRITTEN)

        with (
            serve_one_worker(catalog_env, work) as (base, _),
            httpx.Client(base_url=base, timeout=30) as client,
        ):
            ids = catalog_ids(client, reader, 200)
            seed(client, reader, ids[:10])
            hello["hello"] = bench.wrk("hello", base + "/v1/hello", token=reader)
            results.append(bench.wrk("live (no auth)", base + "/v1/health/live"))
            results.append(bench.wrk("cached page", base + "/v1/watchlist?page=1&limit=10", token=reader))
            # As apps send them: every request accepts a compressed answer (small ones are sent as they are).
            results.append(
                bench.wrk(
                    "hello, accepting br", base + "/v1/hello", token=reader, accept_encoding=APP_ENCODINGS
                )
            )
            results.append(
                bench.wrk(
                    "cached page, accepting br",
                    base + "/v1/watchlist?page=1&limit=10",
                    token=reader,
                    accept_encoding=APP_ENCODINGS,
                )
            )
            results.append(
                bench.wrk(
                    "contains (20 ids)",
                    base,
                    script=post_lua(reader, "/v1/watchlist/contains", {"contentIds": ids[5:25]}),
                )
            )
            results.append(bench.wrk("cached /v1/movies", base + "/v1/movies?count=20", token=reader))
            movie_id = ids[0].split(":")[1]
            results.append(bench.wrk("cached /v1/movies/{id}", f"{base}/v1/movies/{movie_id}", token=reader))
            results.append(
                bench.wrk("add", base, script=lua_list("tokens", writers) + lua_list("ids", ids) + ADD_LUA)
            )
            for token in removers:
                seed(client, token, ids[:remover_items])
            results.append(
                bench.wrk(
                    "remove", base, script=lua_list("tokens", removers) + lua_list("ids", ids) + REMOVE_LUA
                )
            )

        # The claim "access log on" is checked, not assumed: the server's log holds a line per request.
        if count_access_lines(work) < USERS:
            sys.exit("the server wrote no access log: is WATCHLIST_LOG_LEVEL above INFO?")

        # Without the page cache (and without TMDb lookups, so lists of any size can be seeded quickly).
        nocache_env = {**base_env, "WATCHLIST_CACHE_ENABLED": "false"}
        with (
            serve_one_worker(nocache_env, work) as (base, _),
            httpx.Client(base_url=base, timeout=30) as client,
        ):
            hello["hello (cache off)"] = bench.wrk("hello (cache off)", base + "/v1/hello", token=reader)
            results.append(
                bench.wrk(
                    "uncached page",
                    base + "/v1/watchlist?page=1&limit=10",
                    token=reader,
                    baseline="hello (cache off)",
                )
            )
            for size in LIST_SIZES:
                owner = mint_token(settings, f"bench-size-{size}", ttl_s=3600)
                seed(client, owner, [f"movie:{n}" for n in range(1, size + 1)])
                results.append(
                    bench.wrk(
                        f"list of {size:,}: uncached page",
                        base + "/v1/watchlist?page=1&limit=10",
                        token=owner,
                        baseline="hello (cache off)",
                    )
                )

        # Again at the end: a shared machine's speed drifts over a run; the ratios use the mean of the two.
        with serve_bare_route(work) as bare_url:
            bare_last = bench.wrk("bare route, again at the end", bare_url, baseline="bare")
    bare = mean_of(bare_first, bare_last)
    drift_line = drift(bare_first, bare_last)

    by_name = {r.name: r for r in results}
    small, large = by_name["list of 10: uncached page"], by_name["list of 1,000: uncached page"]
    latency_line = (
        f"Page read latency, list of 1,000 vs list of 10 items (uncached, p50): "
        f"{large.p50_ms:.2f} ms / {small.p50_ms:.2f} ms = {large.p50_ms / small.p50_ms:.2f}x"
    )
    table = ratio_table(results, hello, bare)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    drew = chart(results, hello, bare)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        f"# Benchmark ({stamp})\n\n`make bench` on {os.cpu_count()} cores (server, MongoDB, Redis, fake TMDb "
        f"and wrk share them), one worker, wrk -t1 -c{args.connections} -d{args.duration}s per endpoint "
        f"after a 2 s warm-up, access log on. Bare route: a Litestar route with no middleware on the same "
        f"server ({bare.rps:,.0f} req/s); hello: {hello['hello'].rps:,.0f} req/s, "
        f"{hello['hello (cache off)'].rps:,.0f} req/s on the cache-off server.\n\n{table}\n\n{drift_line}\n\n"
        f"{latency_line}\n" + (f"\n![ratios]({CHART.name})\n" if drew else "")
    )
    print()
    print(table)
    print(drift_line)
    print(latency_line)
    print(f"\nwritten to {RESULTS}" + (f" and {CHART}" if drew else ""))


if __name__ == "__main__":
    main()
