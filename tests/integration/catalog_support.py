"""Helpers of the catalog tests: the fake TMDb handle, reference answers, settings (fixtures elsewhere)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import httpx
from redis.asyncio import Redis

from watchlist_dev.fake_tmdb import FakeTmdbServer, FaultSettings
from watchlist_service.catalog.service import CatalogService
from watchlist_service.resources import resources_of

TMDB_API_KEY = "catalog-test-api-key-0123456789"
TMDB_TOKEN = "catalog-test-bearer-token-abcdef0123456789"
# Settings that keep fault tests quick: short timeouts and deadline, quick retries, a quick breaker.
FAST_TMDB: dict[str, Any] = {
    "tmdb_connect_timeout_s": 0.5,
    "tmdb_read_timeout_s": 0.5,
    "tmdb_deadline_s": 2.0,
    "tmdb_max_retries": 2,
    "tmdb_backoff_base_s": 0.05,
    "tmdb_backoff_max_s": 0.2,
    "tmdb_breaker_failures": 1_000,
    "tmdb_breaker_reset_s": 0.5,
    "tmdb_rate_limit_per_s": 1_000,
}


@dataclass
class FakeTmdb:
    """The fake TMDb server running in a thread of the test process, and shortcuts to its knobs.

    Reference reads (``get``, ``ids``) go over HTTP like ours, so the fake counts them: tests that count
    calls take them before the part they measure, or compare differences.
    """

    server: FakeTmdbServer
    http: httpx.Client = field(init=False)
    _references: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[str, int]]] = field(
        init=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self.http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {TMDB_TOKEN}"}, timeout=10
        )

    def close(self) -> None:
        self.http.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def reset(self) -> None:
        self.server.fake.reset()

    def set_faults(self, **faults: Any) -> None:
        self.server.fake.set_faults(FaultSettings.parse(faults))

    def clear_faults(self) -> None:
        self.server.fake.clear_faults()

    def counters(self) -> dict[str, Any]:
        return self.server.fake.counters()

    def calls(self, path: str) -> int:
        return int(self.counters()["paths"].get(path, 0))

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        """What the fake itself answers to ``path``."""
        response = self.http.get(path, params=params)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def ids(self, path: str, **params: str) -> list[tuple[str, int]]:
        """``(type, id)`` of every movie and TV result of a paged listing, in the fake's order (memoized)."""
        key = (path, tuple(sorted(params.items())))
        if key not in self._references:
            kind = "tv" if path.endswith("/tv") else "movie"
            found: list[tuple[str, int]] = []
            for page in range(1, 501):
                results = self.get(path, page=page, **params)["results"]
                found.extend((r.get("media_type", kind), r["id"]) for r in results)
                if len(results) < 20:
                    break
            self._references[key] = [(t, i) for t, i in found if t in ("movie", "tv")]
        return self._references[key]


async def delete_tmdb_keys(redis: Redis) -> None:
    keys = [key async for key in redis.scan_iter(match="tmdb:*", count=1_000)]
    if keys:
        await redis.delete(*keys)


CatalogClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def catalog_service(client: httpx.AsyncClient) -> CatalogService:
    """The service behind an in-process app (for the API the list uses)."""
    return resources_of(client._transport.app).catalog  # type: ignore[attr-defined]


async def asgi_get(
    client: httpx.AsyncClient, path: str, query: str, headers: dict[str, str]
) -> tuple[int, bytes]:
    """A GET straight into the in-process app behind ``client`` (same app and middleware, no HTTP client).

    The walks make ~20,000 requests; httpx's own request building costs as much as the app's work, so
    they drive the ASGI app directly, as ``httpx.ASGITransport`` does, without its per-request overhead.
    """
    app = client._transport.app  # type: ignore[attr-defined]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 123),
        "root_path": "",
    }
    status = 0
    body: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(body)
