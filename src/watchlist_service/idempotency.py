"""``Idempotency-Key`` on POST routes, as in the IETF httpapi draft and Stripe's API.

A retried request (same caller, same key, same method, path and body) gets the first answer again, with
``Idempotent-Replayed: true``; the same key with a different request is 422; a retry that arrives while the
first is still running is 409. Records live in Redis under the caller's hash tag for 24 hours. Answers of
5xx are not kept, so a retry after a failure runs again. When Redis is unavailable the request runs without
the guarantee (the list's own writes are idempotent in effect: a repeated add answers 409 already-in-list).
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from loguru import logger

from watchlist_service.errors import BodyTooLarge, DomainError, InvalidRequest
from watchlist_service.infra.redis import RedisGuard, Unavailable

if TYPE_CHECKING:
    from watchlist_service.resources import Resources

HEADER = b"idempotency-key"
KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
TTL_S = 24 * 3600
# How long a first request may run before a retry is allowed to run again (it may have died).
IN_FLIGHT_TTL_S = 60
REPLAYED = (b"idempotent-replayed", b"true")
_KEPT_HEADERS = {b"content-type", b"location", b"etag", b"content-encoding"}


class IdempotencyInProgress(DomainError):
    status, code, slug, title = (
        409,
        60006,
        "idempotency-in-progress",
        "A request with this key is in progress",
    )


class IdempotencyKeyReused(DomainError):
    status, code, slug, title = 422, 60007, "idempotency-key-reused", "This key was used for another request"


class _Record(msgspec.Struct, array_like=True):
    fingerprint: str
    status: int = 0  # 0 while the first request runs
    headers: list[tuple[bytes, bytes]] = msgspec.field(default_factory=list)
    body: bytes = b""


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Record)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def record_key(user_id: str, key: str) -> str:
    """The Redis key of one caller's Idempotency-Key record (under the caller's hash tag)."""
    return "{" + user_id + "}:idem:" + hashlib.sha256(key.encode()).hexdigest()


async def run_idempotent(
    resources: Resources, scope: Scope, receive: Receive, send: Send, app: ASGIApp
) -> None:
    """Run a POST of a route that declares ``idempotent`` (``routes.py``), after authentication (keys are
    scoped to the caller): replay, refuse or run-and-record it when it carries an ``Idempotency-Key``."""
    key = _header(scope, HEADER)
    if key is None:
        await app(scope, receive, send)
        return
    if not KEY_RE.match(key):
        raise InvalidRequest(
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
            extra={"errors": [{"field": "Idempotency-Key", "message": "invalid"}]},
        )
    redis = resources.requests_redis
    body = await _read_body(receive, resources.settings.max_body_bytes)
    fingerprint = hashlib.sha256(scope["path"].encode() + b"\n" + body).hexdigest()
    stored_at = record_key(scope["user"].sub, key)

    claimed = await _claim(redis, stored_at, fingerprint)
    if isinstance(claimed, _Record):
        if claimed.fingerprint != fingerprint:
            raise IdempotencyKeyReused("The Idempotency-Key was already used with a different request")
        if claimed.status == 0:
            raise IdempotencyInProgress("The first request with this Idempotency-Key has not finished")
        await _replay(claimed, send)
        return

    captured = _Record(fingerprint=fingerprint)

    async def send_and_capture(message: Message) -> None:
        if message["type"] == "http.response.start":
            captured.status = message["status"]
            captured.headers = [(k, v) for k, v in message.get("headers", []) if k.lower() in _KEPT_HEADERS]
        elif message["type"] == "http.response.body":
            captured.body += message.get("body", b"")
        await send(message)

    try:
        await app(scope, _replaying(body), send_and_capture)
    finally:
        if claimed is True:
            await _settle(redis, stored_at, captured)


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The whole body (it is part of the fingerprint), refusing more than the service accepts anyway."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge("The request body is larger than this endpoint accepts")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes) -> Receive:
    sent = False

    async def receive() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _claim(redis: RedisGuard, key: str, fingerprint: str) -> _Record | bool:
    """``True``: this request runs and records its answer. A record: an earlier request with the key.
    ``False``: Redis is unavailable; the request runs without the guarantee."""
    pending = _encoder.encode(_Record(fingerprint=fingerprint))
    for _ in range(3):  # the record may expire between SET NX and GET: then claim again
        claimed = await redis.command("SET", key, pending, "NX", "EX", IN_FLIGHT_TTL_S)
        if claimed is True:
            return True
        raw = None if isinstance(claimed, Unavailable) else await redis.command("GET", key)
        if isinstance(claimed, Unavailable) or isinstance(raw, Unavailable):
            logger.warning("idempotency unavailable (Redis): the request runs without the guarantee")
            return False
        if isinstance(raw, bytes):
            return _decoder.decode(raw)
    return False


async def _settle(redis: RedisGuard, key: str, record: _Record) -> None:
    """Keep a finished answer for 24 h; forget a failed or unfinished one so that a retry runs again."""
    if 0 < record.status < 500:
        done = await redis.command("SET", key, _encoder.encode(record), "EX", TTL_S)
    else:
        done = await redis.command("DEL", key)
    if isinstance(done, Unavailable):
        logger.warning("idempotency record not stored (Redis)")


async def _replay(record: _Record, send: Send) -> None:
    headers = [*record.headers, REPLAYED, (b"content-length", str(len(record.body)).encode())]
    await send({"type": "http.response.start", "status": record.status, "headers": headers})
    await send({"type": "http.response.body", "body": record.body, "more_body": False})
