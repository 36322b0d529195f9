"""``watchlist-service``: serve | dev | token."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
from pathlib import Path

import uvicorn
from dotenv import dotenv_values, set_key
from pydantic import ValidationError

from watchlist_service.config import Settings
from watchlist_service.security import mint_token

ENV_FILE = Path(".env")
DEV_USER = "demo"


def _load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        sys.exit(f"invalid configuration:\n{exc}")


def _uvicorn_kwargs(settings: Settings) -> dict[str, object]:
    return {
        "loop": "uvloop",
        "http": "httptools",
        "ws": "websockets-sansio",
        # Realtime events are small JSON: per-message deflate would cost ~41 KiB per idle socket for little.
        "ws_per_message_deflate": False,
        # Bound what a socket message may buffer (uvicorn's default is 16 MiB); up to 4x the body cap the app
        # itself answers 413 and keeps the socket open, beyond it the protocol closes it (1009).
        "ws_max_size": 4 * settings.max_body_bytes,
        "lifespan": "on",
        "log_config": None,
        "access_log": False,
        "server_header": False,
        "proxy_headers": True,
        "timeout_graceful_shutdown": settings.shutdown_grace_s,
    }


def serve(args: argparse.Namespace) -> None:
    """Production entry point: uvicorn with uvloop and httptools, ``--workers`` processes."""
    settings = _load_settings()  # fail here, once, rather than in every worker
    if args.workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Workers share one metrics view only through prometheus_client's multiprocess mode.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="watchlist-metrics-")
    uvicorn.run(
        "watchlist_service.app:app_factory",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        **_uvicorn_kwargs(settings),  # type: ignore[arg-type]
    )


def ensure_dev_env(path: Path = ENV_FILE) -> None:
    """Write the generated development settings to ``.env`` once; later runs and commands reuse them."""
    existing = dotenv_values(path) if path.exists() else {}
    if "WATCHLIST_JWT_SECRET" in existing or "WATCHLIST_JWT_SECRET" in os.environ:
        return
    path.touch(mode=0o600, exist_ok=True)
    set_key(str(path), "WATCHLIST_JWT_SECRET", secrets.token_urlsafe(48), quote_mode="never")


def dev(args: argparse.Namespace) -> None:
    """The embedded dev stack: mongod, redis-server and the API in one command; Ctrl-C stops everything."""
    from watchlist_service.app import create_app  # keeps `token` fast
    from watchlist_service.devstack.stack import DevStack

    ensure_dev_env()
    settings = _load_settings()
    with DevStack(Path(args.data_dir), settings) as stack:
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
        uvicorn.run(create_app(settings), host=args.host, port=args.port, **_uvicorn_kwargs(settings))  # type: ignore[arg-type]


def token(args: argparse.Namespace) -> None:
    """Print a token signed with the configured HMAC secret."""
    settings = _load_settings()
    if not settings.can_mint_tokens:
        sys.exit("refusing: only public keys are configured, so this process cannot sign tokens")
    print(mint_token(settings, args.sub, scopes=args.scope, ttl_s=args.ttl))


def seed(args: argparse.Namespace) -> None:
    """Fill MongoDB with users and lists for load tests; write their ids and tokens to a file."""
    from watchlist_service.seed import seed as run_seed  # keeps the other commands light

    settings = _load_settings()
    created = asyncio.run(
        run_seed(
            settings,
            users=args.users,
            items=args.items,
            zipf=args.zipf,
            out=Path(args.out),
            prefix=args.prefix,
        )
    )
    print(f"created {created:,} lists ({args.users - created:,} already existed); users in {args.out}")


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="watchlist-service", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p_serve = sub.add_parser("serve", help="serve the API (production entry point)")
    p_serve.add_argument("--host", default="0.0.0.0")
    p_serve.add_argument("--port", type=int, default=8000)
    p_serve.add_argument("--workers", type=int, default=1)
    p_serve.set_defaults(func=serve)

    p_dev = sub.add_parser("dev", help="start mongod, redis and the API for development")
    p_dev.add_argument("--host", default="127.0.0.1")
    p_dev.add_argument("--port", type=int, default=8000)
    p_dev.add_argument("--data-dir", default=".devdata")
    p_dev.add_argument("--token-ttl", type=int, default=12 * 3600)
    p_dev.set_defaults(func=dev)

    p_token = sub.add_parser("token", help="mint a token with the configured HMAC secret")
    p_token.add_argument("--sub", required=True)
    p_token.add_argument("--scope", action="append", default=[], help="repeatable, e.g. watchlist:read:any")
    p_token.add_argument("--ttl", type=int, default=3600, help="seconds")
    p_token.set_defaults(func=token)

    p_seed = sub.add_parser("seed", help="create users and lists for load tests")
    p_seed.add_argument("--users", type=int, required=True)
    p_seed.add_argument("--items", type=int, default=20)
    p_seed.add_argument(
        "--zipf", action="store_true", help="popular titles in many lists (Zipf), not uniform"
    )
    p_seed.add_argument("--prefix", default="load-user", help="user ids are PREFIX-0, PREFIX-1, ...")
    p_seed.add_argument("--out", default=".devdata/loadtest-users.jsonl")
    p_seed.set_defaults(func=seed)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    args.func(args)
