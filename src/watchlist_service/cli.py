"""``watchlist-service``: serve | token. (The development commands are ``watchlist-dev``'s, in tools/.)"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import uvicorn
from pydantic import ValidationError

from watchlist_service.config import Settings
from watchlist_service.security import mint_token


def _load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        sys.exit(f"invalid configuration:\n{exc}")


def uvicorn_kwargs(settings: Settings) -> dict[str, object]:
    """How uvicorn runs the app (``serve``, and the dev stack's in-process server)."""
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
        **uvicorn_kwargs(settings),  # type: ignore[arg-type]
    )


def token(args: argparse.Namespace) -> None:
    """Print a token signed with the configured HMAC secret."""
    settings = _load_settings()
    if not settings.can_mint_tokens:
        sys.exit("refusing: only public keys are configured, so this process cannot sign tokens")
    print(mint_token(settings, args.sub, scopes=args.scope, ttl_s=args.ttl))


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="watchlist-service", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p_serve = sub.add_parser("serve", help="serve the API (production entry point)")
    p_serve.add_argument("--host", default="0.0.0.0")
    p_serve.add_argument("--port", type=int, default=8000)
    p_serve.add_argument("--workers", type=int, default=1)
    p_serve.set_defaults(func=serve)

    p_token = sub.add_parser("token", help="mint a token with the configured HMAC secret")
    p_token.add_argument("--sub", required=True)
    p_token.add_argument("--scope", action="append", default=[], help="repeatable, e.g. watchlist:read:any")
    p_token.add_argument("--ttl", type=int, default=3600, help="seconds")
    p_token.set_defaults(func=token)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    args.func(args)
