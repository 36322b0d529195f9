"""Structured JSON logs through loguru, with the request id on every line; stdlib logging is routed here.

With tracing on (tracing.py), lines written while a span is active also carry ``trace_id`` and ``span_id``.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from loguru import logger

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_encoder = msgspec.json.Encoder()
ACCESS_LOGGER = "watchlist_service.access"


class _Output:
    """How ``configure_logging`` set things up, for the access log's own fast path."""

    json = False
    info_enabled = True
    # The active span's (trace id, span id) in hex; None while tracing is off, so it costs nothing then.
    trace_ids: Callable[[], tuple[str, str] | None] | None = None


def set_trace_ids(reader: Callable[[], tuple[str, str] | None] | None) -> None:
    """Where log lines find the active span's ids (tracing.py sets it on start, clears it on shutdown)."""
    _Output.trace_ids = reader


def _add_trace_ids(line: dict[str, Any]) -> None:
    reader = _Output.trace_ids
    if reader is not None and (ids := reader()) is not None:
        line["trace_id"], line["span_id"] = ids


def _write_json(line: dict[str, Any]) -> None:
    sys.stderr.write(_encoder.encode(line).decode() + "\n")


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
    _add_trace_ids(line)
    extra = {k: v for k, v in record["extra"].items() if isinstance(v, str | int | float | bool | None)}
    if extra:
        line.update(extra)
    if record["exception"] is not None:
        line["exception"] = "".join(_format_exception(record["exception"]))
    _write_json(line)


def log_access(method: str, path: str, status: int, duration_ms: float, request_id: str) -> None:
    """One access-log line, in the same JSON shape as every other line.

    Written straight to the JSON output: loguru's record building (frame lookup, timezone-aware time, the
    handler chain) was 6 % of a busy instance's CPU for this one line per request.
    """
    if not _Output.info_enabled:
        return
    message = f"{method} {path} {status}"
    if not _Output.json:
        logger.info(message, status=status, durationMs=duration_ms)
        return
    line: dict[str, Any] = {
        "ts": datetime.now(UTC).astimezone().isoformat(timespec="milliseconds"),
        "level": "INFO",
        "msg": message,
        "logger": ACCESS_LOGGER,
        "requestId": request_id,
        "status": status,
        "durationMs": duration_ms,
    }
    if _Output.trace_ids is not None:  # tracing off: one attribute read on the hot path
        _add_trace_ids(line)
    _write_json(line)


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
    _Output.json = json
    _Output.info_enabled = logger.level(level).no <= logger.level("INFO").no
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
        # A caller's id is kept only if it is short and plain, so it cannot forge log lines. Ours: 32 random
        # hex digits, as uuid4().hex but 5x cheaper.
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else os.urandom(16).hex()
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
                duration_ms = round((time.perf_counter() - started) * 1000, 2)
                log_access(scope["method"], scope["path"], status, duration_ms, request_id)
            request_id_var.reset(token)
