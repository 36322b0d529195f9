"""Two versions of the service, alternated in one run: hello and a cached page of 10 items on each, as ratios
to the bare route measured at the start of the same run (one worker, wrk ``-t1 -c32``, access log written).

Each version is a ``src`` directory (a checkout of another commit: ``git worktree add /tmp/before <commit>``)
put first on the server's ``PYTHONPATH``, optionally with its own log level after a colon (``src:WARNING``
writes no access line); the backends, the fake TMDb and the data are shared.

    .venv/bin/python -m loadtests.compare before=/tmp/before/src after=src --rounds 2
    .venv/bin/python -m loadtests.compare info=src:INFO warning=src:WARNING
    .venv/bin/python -m loadtests.compare before=/tmp/before/src after=src --accept-encoding "gzip, br"
"""

from __future__ import annotations

import argparse
import tempfile
from contextlib import ExitStack
from pathlib import Path

import httpx

from loadtests.bench import Bench, catalog_ids, seed
from loadtests.servers import (
    ACCESS_LOG_WRITTEN,
    UNREACHED_LIMITS,
    serve_bare_route,
    serve_one_worker,
    start_backends,
    start_catalog,
)
from watchlist_service.security import mint_token


def _version(text: str) -> tuple[str, dict[str, str]]:
    """``NAME=SRC[:LEVEL]``: the name and the server's environment for that version."""
    name, sep, rest = text.partition("=")
    src, _, level = rest.partition(":")
    if not sep or not (Path(src) / "watchlist_service").is_dir():
        raise argparse.ArgumentTypeError(f"expected NAME=SRC[:LEVEL] with SRC/watchlist_service: {text!r}")
    return name, {"PYTHONPATH": str(Path(src).resolve()), "WATCHLIST_LOG_LEVEL": level or "INFO"}


def main(argv: list[str] | None = None) -> None:
    """Measure and print; nothing is written."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("versions", nargs="+", type=_version, metavar="NAME=SRC[:LEVEL]")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=5, help="seconds per route")
    parser.add_argument(
        "--accept-encoding",
        default=None,
        metavar="VALUE",
        help='sent with every request, e.g. "gzip, deflate, br"',
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="watchlist-compare-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        settings, env = start_backends(work, stack)
        env.update({**UNREACHED_LIMITS, **ACCESS_LOG_WRITTEN, **start_catalog(work, stack)})
        reader = mint_token(settings, "compare-reader", ttl_s=3600)
        bench = Bench(args.duration, 32, work)
        with serve_bare_route(work) as url:
            bare = bench.wrk("bare route", url, baseline="bare")
        rows: list[str] = []
        for round_ in range(1, args.rounds + 1):
            for name, version_env in args.versions:
                with (
                    serve_one_worker({**env, **version_env}, work) as (base, _),
                    httpx.Client(base_url=base, timeout=30) as client,
                ):
                    seed(client, reader, catalog_ids(client, reader, 10))
                    encoding = args.accept_encoding
                    hello = bench.wrk(
                        f"{name}: hello", base + "/v1/hello", token=reader, accept_encoding=encoding
                    )
                    page = bench.wrk(
                        f"{name}: cached page",
                        base + "/v1/watchlist?page=1&limit=10",
                        token=reader,
                        accept_encoding=encoding,
                    )
                cells = [f"{r.rps:,.0f} ({r.rps / bare.rps:.2f}) | {r.p99_ms:.1f}" for r in (hello, page)]
                rows.append(f"| {round_} | {name} | {' | '.join(cells)} |")
    accepting = (
        f"; every request sends Accept-Encoding: {args.accept_encoding}" if args.accept_encoding else ""
    )
    print(f"\nbare route {bare.rps:,.0f} req/s, p99 {bare.p99_ms:.1f} ms{accepting}\n")
    print("| round | version | hello req/s (÷ bare) | p99 ms | cached page req/s (÷ bare) | p99 ms |")
    print("|---:|---|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
