"""``watchlist-service``: serve | token | events tail. (The development commands are ``watchlist-dev``'s.)"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile

import uvicorn
from pydantic import ValidationError

from watchlist_service.config import Settings
from watchlist_service.events.schemas import encode
from watchlist_service.events.stream import Deduper, GroupReader
from watchlist_service.infra.redis import redis_client
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


async def _tail(settings: Settings, args: argparse.Namespace) -> int:
    # A consumer, not the service: it talks to Redis directly and stops on an error instead of degrading.
    # A blocked read waits up to --block-ms for the server's reply: the socket timeout must allow for it.
    redis = redis_client(
        settings.model_copy(update={"redis_timeout_ms": settings.redis_timeout_ms + args.block_ms})
    )
    reader = GroupReader(redis, args.stream or settings.events_stream, args.group, args.consumer)
    dedupe = Deduper()
    printed = 0
    loop = asyncio.get_running_loop()
    idle_since = loop.time()
    try:
        await reader.ensure_group(from_start=args.from_start)
        while args.max_events is None or printed < args.max_events:
            wanted = 100 if args.max_events is None else min(100, args.max_events - printed)
            deliveries = await reader.read(count=wanted, block_ms=args.block_ms)
            if not deliveries:
                if args.idle_exit_s is not None and loop.time() - idle_since >= args.idle_exit_s:
                    break
                continue
            idle_since = loop.time()
            for delivery in deliveries:
                if dedupe.fresh(delivery.event):
                    sys.stdout.write(encode(delivery.event).decode() + "\n")
                    printed += 1
            sys.stdout.flush()  # printed before acknowledged: a crash in between re-delivers, never loses
            await reader.ack(*(d.entry_id for d in deliveries))
    finally:
        await redis.aclose()
    return printed


def events_tail(args: argparse.Namespace) -> None:
    """Read the list events with a consumer group, print each (JSON lines), acknowledge it."""
    asyncio.run(_tail(_load_settings(), args))


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

    p_events = sub.add_parser("events", help="the list change events (a Redis Stream)")
    events_sub = p_events.add_subparsers(dest="events_command", required=True)
    p_tail = events_sub.add_parser(
        "tail", help="read events with a consumer group, print them (JSON lines) and acknowledge them"
    )
    p_tail.add_argument("--group", default="watchlist-tail", help="consumer group (created if missing)")
    p_tail.add_argument("--consumer", default=socket.gethostname(), help="this consumer's name in the group")
    p_tail.add_argument("--stream", default=None, help="default: WATCHLIST_EVENTS_STREAM")
    p_tail.add_argument(
        "--from-start", action="store_true", help="a new group starts at the oldest event kept, not the next"
    )
    p_tail.add_argument("--max-events", type=int, default=None, help="stop after printing this many")
    p_tail.add_argument("--block-ms", type=int, default=1_000, help="how long one read waits")
    p_tail.add_argument("--idle-exit-s", type=float, default=None, help="stop after this long without events")
    p_tail.set_defaults(func=events_tail)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    args.func(args)
