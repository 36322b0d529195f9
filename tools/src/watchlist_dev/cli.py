"""``watchlist-dev``: the development commands of watchlist-service (run, cluster, image, seed, fake-tmdb)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from pydantic import ValidationError

from watchlist_dev import cluster, fake_tmdb, image
from watchlist_dev.devenv import (
    DEV_TMDB_PORT,
    DEV_USER,
    ENV_FILE,
    ensure_dev_env,
    loopback_port,
    read_env_file,
)
from watchlist_service.config import Settings


def load_settings() -> Settings:
    """The settings from the environment and ``.env``; exits with the errors when they are invalid."""
    try:
        return Settings()
    except ValidationError as exc:
        sys.exit(f"invalid configuration:\n{exc}")


def run(args: argparse.Namespace) -> None:
    """The embedded dev stack: mongod, redis-server, the fake TMDb and the API; Ctrl-C stops everything."""
    import uvicorn

    from watchlist_dev.stack import DevStack
    from watchlist_service.app import create_app
    from watchlist_service.cli import uvicorn_kwargs
    from watchlist_service.security import mint_token

    ensure_dev_env()
    with DevStack(Path(args.data_dir), load_settings(), env_file=ENV_FILE) as stack:
        settings = stack.settings
        print(f"WATCHLIST_MONGODB_URI={settings.mongodb_uri}")
        print(f"WATCHLIST_REDIS_URL={settings.redis_url}")
        for line in stack.extra_lines():
            print(line)
        token = mint_token(settings, DEV_USER, ttl_s=args.token_ttl)
        print(f"TOKEN={token}")
        base = f"http://{args.host}:{args.port}"
        print(
            "\n# try it:\n"
            f'curl -s -X POST {base}/v1/watchlist -H "Authorization: Bearer $TOKEN" '
            "-H 'Content-Type: application/json' -d '{\"contentId\": \"movie:550\"}'\n"
            f'curl -s {base}/v1/watchlist -H "Authorization: Bearer $TOKEN"\n'
            f"# API docs: {base}/schema/swagger   (Ctrl-C stops everything)\n",
            flush=True,
        )
        uvicorn.run(create_app(settings), host=args.host, port=args.port, **uvicorn_kwargs(settings))  # type: ignore[arg-type]


def seed(args: argparse.Namespace) -> None:
    """Fill MongoDB with users and lists for load tests; write their ids and tokens to a file."""
    from watchlist_dev.seed import seed as run_seed

    created = asyncio.run(
        run_seed(
            load_settings(),
            users=args.users,
            items=args.items,
            zipf=args.zipf,
            out=Path(args.out),
            prefix=args.prefix,
        )
    )
    print(f"created {created:,} lists ({args.users - created:,} already existed); users in {args.out}")


def serve_fake_tmdb(args: argparse.Namespace) -> None:
    """The fake TMDb alone; without credentials, on the URL and with the token and key of ``.env`` (as
    ``run``)."""
    if not args.api_key and not args.bearer_token:
        ensure_dev_env()
        written = read_env_file()
        port = loopback_port(written.get("WATCHLIST_TMDB_BASE_URL"))
        args.bearer_token = written.get("WATCHLIST_TMDB_TOKEN") or None
        args.api_key = written.get("WATCHLIST_TMDB_API_KEY") or None
        if port is None or not (args.bearer_token or args.api_key):
            sys.exit(f"give --api-key or --bearer-token: {ENV_FILE} names no local fake TMDb")
        if args.port is None:
            args.port = port
    if args.port is None:
        args.port = DEV_TMDB_PORT
    fake_tmdb.serve(args)


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="watchlist-dev", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p_run = sub.add_parser("run", help="start mongod, redis, the fake TMDb and the API (make run)")
    p_run.add_argument("--host", default="127.0.0.1")
    p_run.add_argument("--port", type=int, default=8000)
    p_run.add_argument("--data-dir", default=".devdata")
    p_run.add_argument("--token-ttl", type=int, default=12 * 3600)
    p_run.set_defaults(func=run)

    p_cluster = sub.add_parser("cluster", help="N API instances behind nginx on the dev stack (make cluster)")
    cluster.add_arguments(p_cluster)
    p_cluster.set_defaults(func=lambda args: sys.exit(cluster.run(args)))

    p_image = sub.add_parser("image", help="build the Dockerfile with podman (or docker) here (make image)")
    image.add_arguments(p_image)
    p_image.set_defaults(func=lambda args: sys.exit(image.run(args)))

    p_seed = sub.add_parser("seed", help="create users and lists for load tests")
    p_seed.add_argument("--users", type=int, required=True)
    p_seed.add_argument("--items", type=int, default=20)
    p_seed.add_argument(
        "--zipf", action="store_true", help="popular titles in many lists (Zipf), not uniform"
    )
    p_seed.add_argument("--prefix", default="load-user", help="user ids are PREFIX-0, PREFIX-1, ...")
    p_seed.add_argument("--out", default=".devdata/loadtest-users.jsonl")
    p_seed.set_defaults(func=seed)

    p_fake = sub.add_parser(
        "fake-tmdb",
        help="serve the fake TMDb alone",
        epilog=f"Without --api-key and --bearer-token: the port and credentials that {ENV_FILE} names (as "
        f"run uses them); --port defaults to {DEV_TMDB_PORT} otherwise.",
    )
    fake_tmdb.add_arguments(p_fake)
    p_fake.set_defaults(func=serve_fake_tmdb, port=None)  # None: .env's port, or the usual one
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    args.func(args)
