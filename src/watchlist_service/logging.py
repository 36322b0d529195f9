"""Structured JSON logs through loguru, with the request id on every line; stdlib logging is routed here.

With tracing on (tracing.py), lines written while a span is active also carry ``trace_id`` and ``span_id``.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
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


class _Clock:
    """The local time in ISO 8601 with milliseconds, its seconds and zone formatted once per second."""

    second = -1
    prefix = ""
    zone = ""

    @classmethod
    def now(cls) -> str:
        now = time.time()
        second = int(now)
        if second != cls.second:
            local = datetime.fromtimestamp(second, UTC).astimezone()
            cls.prefix, cls.zone = local.strftime("%Y-%m-%dT%H:%M:%S"), local.isoformat()[19:]
            cls.second = second
        return f"{cls.prefix}.{int((now - second) * 1000):03d}{cls.zone}"


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
        "ts": _Clock.now(),
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
