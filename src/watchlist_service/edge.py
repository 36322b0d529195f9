"""The request path's two layers of our own, plain ASGI, each one call and at most one ``send`` wrapper.

- ``Edge``, outside Litestar (around its exception handling, so it also sees answers made outside any route):
  the request id (a caller's plain ``X-Request-ID`` or a new one, echoed), the access-log line, and the
  request metrics by route template (``metrics.RequestMetrics``). Headers that the inner layer wants on the
  answer (the ``RateLimit-*`` pair) ride on the same wrapper.
- ``Guard``, the one app middleware, after routing (it reads the route's declared facts, ``routes.py``):
  the requests-in-progress gauge, the per-address limit on failed authentication, JWT authentication, the
  per-user limit (with the prefetch of a cached page in the same Redis call), and ``Idempotency-Key``.
  When the prefetch found the page, the route's declared answer (``RouteFacts.answer``) is sent from here,
  without the handler. Public paths (health, metrics, the API description) pass straight through.

These were six layers (Litestar's base middleware classes, each wrapping ``send``); one authenticated hello
paid them in full. The behaviour is theirs, unchanged; the cost is measured in docs/performance.md.
"""

from __future__ import annotations

import os
import re
import time
from typing import TYPE_CHECKING, Final

from litestar.enums import ScopeType
from litestar.middleware.base import DefineMiddleware
from litestar.status_codes import HTTP_304_NOT_MODIFIED

from watchlist_service.errors import Unauthenticated
from watchlist_service.idempotency import run_idempotent
from watchlist_service.infra.redis import request_budget
from watchlist_service.logging import log_access, request_id_var
from watchlist_service.metrics import REQUESTS
from watchlist_service.ratelimit import budget
from watchlist_service.routes import RouteFacts, facts_of, keep_prefetched
from watchlist_service.security import is_public

if TYPE_CHECKING:
    from collections.abc import Mapping

    from litestar.config.compression import CompressionConfig
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from watchlist_service.resources import Root

# Headers the inner layer adds to the answer, handed to the edge's send wrapper on the scope's state.
ANSWER_HEADERS: Final = "watchlist_answer_headers"
_ANSWER: Final = "watchlist_answer"  # a route's own answer (``RouteFacts.answer``), for ``_send_answer``
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_EXCLUDE_FROM_AUTH: Final = "exclude_from_auth"  # a route's opt: it authenticates by itself (the socket)


class Edge:
    """Accepts or makes an ``X-Request-ID``, echoes it; one access-log line and the request metrics."""

    def __init__(self, app: ASGIApp, *, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != ScopeType.HTTP and kind != ScopeType.WEBSOCKET:
            await self.app(scope, receive, send)
            return
        incoming = b""
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                incoming = value
                break
        request_id = incoming.decode("latin-1")
        # A caller's id is kept only if it is short and plain, so it cannot forge log lines. Ours: 32 random
        # hex digits, as uuid4().hex but 5x cheaper.
        if not _REQUEST_ID_RE.match(request_id):
            request_id = os.urandom(16).hex()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        token = request_id_var.set(request_id)
        id_header = (b"x-request-id", request_id.encode())
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = state.get(ANSWER_HEADERS)
                message["headers"] = (
                    [*message.get("headers", ()), id_header, *extra]
                    if extra
                    else [*message.get("headers", ()), id_header]
                )
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
            if scope["type"] == ScopeType.HTTP:
                elapsed = time.perf_counter() - started
                template = scope.get("path_template")
                if template is not None:  # routed: unknown paths have no template to count under
                    REQUESTS.observe(scope["method"], template, status or 500, elapsed)
                if self.access_log:
                    log_access(scope["method"], scope["path"], status, round(elapsed * 1000, 2), request_id)


def _bearer(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return ""


class Guard:
    """Authentication, rate limits and idempotency keys for a routed request: the app's one middleware
    (``guard`` below), built once per route around the route's app."""

    def __init__(self, app: ASGIApp, root: Root, compression: CompressionConfig | None = None) -> None:
        self.app = app
        self.root = root
        # A route's own answer (``RouteFacts.answer``), compressed as the handler's would be, by Litestar.
        self._answer: ASGIApp = (
            compression.middleware_class(_send_answer, compression) if compression else _send_answer
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            if scope["type"] == ScopeType.WEBSOCKET and not scope["route_handler"].opt.get(
                _EXCLUDE_FROM_AUTH
            ):
                await self._authenticate(scope, _bearer(scope))
            await self.app(scope, receive, send)
            return
        in_progress = REQUESTS.in_progress(scope["method"], scope["path_template"])
        in_progress.inc()
        try:
            if is_public(scope) or scope["method"] == "OPTIONS":  # OPTIONS: answered without a token (CORS)
                await self.app(scope, receive, send)
                return
            route = facts_of(scope)
            resources = self.root.resources
            # A write keeps half of the request's Redis budget for its invalidation (PageCache.invalidate).
            reserved_s = resources.settings.redis_budget_ms / 2000 if route.write else 0.0
            with request_budget(reserved_s=reserved_s):
                token = _bearer(scope)
                if token and resources.verifier.remembers(token):
                    await self._authenticate(scope, token)
                else:
                    # Not verified recently: refuse an address that failed too often; count each failure.
                    limits = resources.rate_limits
                    ip = limits.client_ip(scope)
                    await limits.refuse_if_exhausted(ip)
                    try:
                        await self._authenticate(scope, token)
                    except Unauthenticated:
                        await limits.count_failure(ip)
                        raise
                read = await self._limit(scope, route)
                answer = route.answer(scope, read, resources) if read and route.answer is not None else None
                if answer is not None:  # a cached page: answered here, without the handler
                    scope["state"][_ANSWER] = answer
                    # Compressed as the handler's answer would be; a request that accepts no encoding skips
                    # the compression layer, which would pass it through.
                    accepts = any(key == b"accept-encoding" for key, _ in scope["headers"])
                    await (self._answer if accepts else _send_answer)(scope, receive, send)
                elif route.idempotent and scope["method"] == "POST":
                    await run_idempotent(resources, scope, receive, send, self.app)
                else:
                    await self.app(scope, receive, send)
        finally:
            in_progress.dec()

    async def _authenticate(self, scope: Scope, token: str) -> None:
        if not token:
            raise Unauthenticated("A bearer token is required")
        scope["user"] = await self.root.resources.verifier.verify(token)
        scope["auth"] = token

    async def _limit(self, scope: Scope, route: RouteFacts) -> Mapping[str, bytes | None] | None:
        """Count the request against its user's budget (429 over it); the RateLimit headers for the answer.
        Returns what the route's ``prefetch`` read in the same call (``None``: nothing was read)."""
        principal = scope["user"]
        owner = scope["path_params"].get("user_id", principal.sub)
        # Early reads share the counter's call only under the same hash tag (the caller's own list).
        reads = (
            route.prefetch(scope, owner) if route.prefetch is not None and owner == principal.sub else None
        )
        limits = self.root.resources.rate_limits
        counted = await limits.enforce(budget(route.rate, principal), principal.sub, reads or ())
        scope["state"][ANSWER_HEADERS] = (
            (b"ratelimit-limit", str(counted.item.amount).encode()),
            (b"ratelimit-remaining", str(counted.remaining).encode()),
        )
        if reads and counted.read is not None:
            keep_prefetched(scope, counted.read)
            return counted.read
        return None


async def _send_answer(scope: Scope, receive: Receive, send: Send) -> None:
    """Send the ``Answer`` on the scope's state, with the headers Litestar gives a JSON response."""
    status, headers, body = scope["state"][_ANSWER]
    raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    if status != HTTP_304_NOT_MODIFIED:  # a 304 has neither (as Litestar sends it)
        raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *raw]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def guard(root: Root, compression: CompressionConfig | None = None) -> DefineMiddleware:
    """The ``Guard`` on the running app's resources; ``compression``: the app's own."""
    return DefineMiddleware(Guard, root=root, compression=compression)
