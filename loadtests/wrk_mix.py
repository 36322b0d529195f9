"""``python -m loadtests.wrk_mix``: the mobile Locust mix, driven by wrk instead of Locust.

Locust spends about 1 ms of CPU per request in Python; on a 2-core machine it competes with the instances it
measures and becomes the limit long before they do. wrk (C, one thread) costs a small fraction of that, so
this module replays the same mix of requests as ``loadtests/scenarios/mobile.py`` with the same identities
(``LOAD_TEST_USERS_FILE``, or tokens minted with the dev secret) and reports req/s, p50, p99 and every
status it saw. Weights per request, as the Locust user issues them: catalog first page 20, catalog next page
20, a list page 30, the first page with ``If-None-Match`` 20, ``contains`` 15, add 8, remove 7.

wrk is a closed loop without think time: ``--connections`` concurrent users, each sending its next request
as soon as the last one is answered, so the figure is the throughput the target sustains at that
concurrency. An error is a socket error or a status outside what the mix expects (200, 201, 204, 304, and
404/409 for removes and adds of titles another request already removed or added).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from loadtests.bench import Result, parse_wrk
from loadtests.scenarios.mix import CATALOG_PAGE, CONTAINS_BATCH, PAGE_LIMIT, SEED_CONTENT
from loadtests.scenarios.settings import IdentityPool, LoadTestSettings

EXPECTED_STATUSES = frozenset({200, 201, 204, 304, 404, 409})
# (kind, weight): the per-request weights of the Locust mix (browse issues two requests per task).
MIX = (
    ("catalog", 20),
    ("catalog_next", 20),
    ("page", 30),
    ("conditional", 20),
    ("contains", 15),
    ("add", 8),
    ("remove", 7),
)

_LUA = r"""
local kinds = {}
for _, entry in ipairs(mix) do
  for _ = 1, entry[2] do kinds[#kinds + 1] = entry[1] end
end
statuses = {}
local thread_id = 0

setup = function(thread)
  thread_id = thread_id + 1
  thread:set("seed", thread_id)
  threads = threads or {}
  threads[#threads + 1] = thread
end

init = function(args)
  math.randomseed(os.time() * 1000 + (seed or 0))
end

local function auth(i)
  return {["Authorization"] = "Bearer " .. tokens[i], ["Content-Type"] = "application/json"}
end

request = function()
  local i = math.random(#tokens)
  local kind = kinds[math.random(#kinds)]
  local headers = auth(i)
  if kind == "catalog" then
    return wrk.format("GET", "/v1/movies?count=" .. catalog_page, headers)
  elseif kind == "catalog_next" then
    return wrk.format("GET", "/v1/movies?count=" .. catalog_page .. "&cursor=" .. cursor, headers)
  elseif kind == "page" then
    local page = math.random(pages[i])
    return wrk.format("GET", "/v1/watchlist?page=" .. page .. "&limit=" .. page_limit, headers)
  elseif kind == "conditional" then
    headers["If-None-Match"] = etags[i]
    return wrk.format("GET", "/v1/watchlist?page=1&limit=" .. page_limit, headers)
  elseif kind == "contains" then
    local picked = {}
    for n = 1, contains_batch do picked[n] = '"' .. pool[math.random(#pool)] .. '"' end
    local body = '{"contentIds":[' .. table.concat(picked, ",") .. ']}'
    return wrk.format("POST", "/v1/watchlist/contains", headers, body)
  elseif kind == "add" then
    return wrk.format("POST", "/v1/watchlist", headers, '{"contentId":"' .. pool[math.random(#pool)] .. '"}')
  else
    return wrk.format("DELETE", "/v1/watchlist/" .. pool[math.random(#pool)], headers)
  end
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      merged[tostring(status)] = (merged[tostring(status)] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(merged) do parts[#parts + 1] = '"' .. status .. '":' .. count end
  io.write("STATUSES {" .. table.concat(parts, ",") .. "}\n")
end
"""


@dataclass(frozen=True, slots=True)
class MixResult:
    """One wrk run of the mix: its latency figures and every status it saw."""

    result: Result
    statuses: dict[int, int]

    @property
    def requests(self) -> int:
        """Answered requests."""
        return sum(self.statuses.values())

    @property
    def unexpected(self) -> int:
        """Answers outside what the mix expects, plus socket errors."""
        return self.result.errors + sum(
            count for status, count in self.statuses.items() if status not in EXPECTED_STATUSES
        )


def _lua_strings(name: str, values: list[str]) -> str:
    return f"{name} = {{" + ",".join(json.dumps(v) for v in values) + "}\n"


def prepare(client: httpx.Client, tokens: list[str], mix: tuple[tuple[str, int], ...] = MIX) -> str:
    """The Lua globals: tokens, each user's page count and first-page ETag, a catalog cursor and pool."""
    first = {"Authorization": f"Bearer {tokens[0]}"}
    catalog = (
        client.get("/v1/movies", params={"count": CATALOG_PAGE}, headers=first).raise_for_status().json()
    )
    pool = list(dict.fromkeys([*SEED_CONTENT, *(r["contentId"] for r in catalog["results"])]))
    pages: list[str] = []
    etags: list[str] = []
    for token in tokens:
        response = client.get(
            "/v1/watchlist",
            params={"page": 1, "limit": PAGE_LIMIT},
            headers={"Authorization": f"Bearer {token}"},
        ).raise_for_status()
        pages.append(str(max(1, int(response.json()["totalPages"]))))
        etags.append(response.headers["ETag"])
    return (
        _lua_strings("tokens", tokens)
        + _lua_strings("etags", etags)
        + _lua_strings("pool", pool)
        + "pages = {"
        + ",".join(pages)
        + "}\n"
        + f"cursor = {json.dumps(catalog['nextCursor'] or '')}\n"
        + f"catalog_page = {CATALOG_PAGE}\npage_limit = {PAGE_LIMIT}\ncontains_batch = {CONTAINS_BATCH}\n"
        + "mix = {"
        + ",".join(f'{{"{kind}",{weight}}}' for kind, weight in mix)
        + "}\n"
    )


def parse_statuses(output: str) -> dict[int, int]:
    """The ``STATUSES {...}`` line the script's ``done`` writes."""
    for line in output.splitlines():
        if line.startswith("STATUSES "):
            return {int(status): count for status, count in json.loads(line[len("STATUSES ") :]).items()}
    return {}


def run_mix(host: str, script: str, *, connections: int, duration_s: int, threads: int = 1) -> MixResult:
    """wrk with the mix script against ``host``, after a 2-second warm-up."""
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "mix.lua"
        path.write_text(script + _LUA, encoding="utf-8")
        base = ["wrk", f"-t{threads}", f"-c{connections}", "--latency", "--timeout", "5s", "-s", str(path)]
        subprocess.run([*base, "-d2s", host], capture_output=True, check=True)  # noqa: S603
        out = subprocess.run(  # noqa: S603
            [*base, f"-d{duration_s}s", host], capture_output=True, text=True, check=True
        ).stdout
    return MixResult(result=parse_wrk("mix", out), statuses=parse_statuses(out))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, default=20, help="measured seconds (default 20)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--users", type=int, default=500, help="identities to spread the load over")
    parser.add_argument(
        "--only",
        choices=[kind for kind, _ in MIX],
        help="one kind of request instead of the mix (to find costs)",
    )
    args = parser.parse_args(argv)
    settings = LoadTestSettings.from_env()
    pool = IdentityPool(settings, random.Random(7))
    tokens = list(
        dict.fromkeys(identity.token or "" for identity in (pool.identity() for _ in range(args.users)))
    )
    with httpx.Client(base_url=settings.host, timeout=10) as client:
        script = prepare(client, tokens, tuple((k, w) for k, w in MIX if args.only in (None, k)))
    mix = run_mix(
        settings.host, script, connections=args.connections, duration_s=args.duration, threads=args.threads
    )
    result = mix.result
    print(
        f"wrk mix against {settings.host}: {result.rps:.0f} req/s, p50 {result.p50_ms:.1f} ms, "
        f"p99 {result.p99_ms:.1f} ms, {mix.requests} answers, {mix.unexpected} errors; "
        f"statuses {dict(sorted(mix.statuses.items()))}"
    )
    return 1 if mix.unexpected or not mix.requests else 0


if __name__ == "__main__":
    sys.exit(main())
