"""Structured JSON logs through loguru, with the request id on every line; stdlib logging is routed here."""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
import traceback
import uuid
from typing import Any

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from loguru import logger

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_encoder = msgspec.json.Encoder()


def _json_sink(message: Any) -> None:
    record = message.record
    line: dict[str, Any] = {
        "ts": record["time"].isoformat(timespec="milliseconds"),
        "level": record["level"].name,
        "msg": record["message"],
        "logger": record["name"],
    }
    request_id = request_id_var.get()
    if request_id:
        line["requestId"] = request_id
    extra = {k: v for k, v in record["extra"].items() if isinstance(v, str | int | float | bool | None)}
    if extra:
        line.update(extra)
    if record["exception"] is not None:
        line["exception"] = "".join(_format_exception(record["exception"]))
    sys.stderr.write(_encoder.encode(line).decode() + "\n")


def _format_exception(exception: Any) -> list[str]:
    return traceback.format_exception(exception.type, exception.value, exception.traceback)


class _InterceptHandler(logging.Handler):
    """Send stdlib log records (uvicorn, pymongo, litestar) to loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(exception=record.exc_info, depth=6).log(level, record.getMessage())


def configure_logging(level: str, *, json: bool = True) -> None:
    """Replace every sink with one JSON (or plain, for a terminal) sink at ``level``."""
    logger.remove()
    if json:
        logger.add(_json_sink, level=level, backtrace=False, diagnose=False)
    else:
        logger.add(sys.stderr, level=level, backtrace=False, diagnose=False)
    logging.basicConfig(handlers=[_InterceptHandler()], level=logging.INFO, force=True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "litestar"):
        logging.getLogger(name).handlers = [_InterceptHandler()]
        logging.getLogger(name).propagate = False
    # The access log comes from our own middleware, with the request id and the duration.
    logging.getLogger("uvicorn.access").disabled = True


_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """Accepts or makes an ``X-Request-ID``, echoes it, and writes one access-log line per request."""

    def __init__(self, app: ASGIApp, *, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in (ScopeType.HTTP, ScopeType.WEBSOCKET):
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode("latin-1")
        # A caller's id is kept only if it is short and plain, so it cannot forge log lines.
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.access_log and scope["type"] == ScopeType.HTTP:
                logger.info(
                    "{} {} {}",
                    scope["method"],
                    scope["path"],
                    status,
                    status=status,
                    durationMs=round((time.perf_counter() - started) * 1000, 2),
                )
            request_id_var.reset(token)
