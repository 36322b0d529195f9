"""Domain errors and the one map from errors to RFC 9457 problem details."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE
from litestar.types import ExceptionHandlersMap
from loguru import logger

PROBLEM_TYPE_BASE = "https://watchlist.example.com/problems/"
PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    """An expected outcome that is not a success; carries its own status, code and slug."""

    status: ClassVar[int] = 500
    code: ClassVar[int] = 50000
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"
    default_retry_after: ClassVar[int | None] = None

    def __init__(
        self,
        detail: str | None = None,
        *,
        extra: dict[str, Any] | None = None,
        retry_after: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra or {}
        # When to try again: this answer's own knowledge (a breaker, TMDb, a rate window) or the class's hint.
        self.retry_after = retry_after if retry_after is not None else self.default_retry_after
        self.headers = headers or {}


class AlreadyInList(DomainError):
    status, code, slug, title = 409, 40001, "already-in-list", "Already in the list"


class NotInList(DomainError):
    status, code, slug, title = 404, 40002, "not-in-list", "Not in the list"


class ListFull(DomainError):
    status, code, slug, title = 409, 40003, "list-full", "The list is full"


class UnknownContent(DomainError):
    status, code, slug, title = 422, 40004, "unknown-content", "Unknown content"


class ResyncRequired(DomainError):
    status, code, slug, title = 410, 40005, "resync-required", "Resync required"


class MovieNotFound(DomainError):
    status, code, slug, title = 404, 10001, "movie-not-found", "Movie not found"


class TvNotFound(DomainError):
    status, code, slug, title = 404, 20001, "tv-not-found", "TV show not found"


class Unauthenticated(DomainError):
    status, code, slug, title = 401, 30001, "unauthenticated", "Unauthenticated"


class Forbidden(DomainError):
    status, code, slug, title = 403, 30002, "forbidden", "Forbidden"


class DatabaseUnavailable(DomainError):
    status, code, slug, title, default_retry_after = (
        503,
        50001,
        "database-unavailable",
        "Database unavailable",
        2,
    )


class CatalogUnavailable(DomainError):
    status, code, slug, title, default_retry_after = (
        503,
        50003,
        "catalog-unavailable",
        "Catalog unavailable",
        5,
    )


class RealtimeUnavailable(DomainError):
    status, code, slug, title, default_retry_after = (
        503,
        50002,
        "realtime-unavailable",
        "Realtime unavailable",
        2,
    )


class InvalidRequest(DomainError):
    status, code, slug, title = 400, 60001, "invalid-request", "Invalid request"


class BodyTooLarge(DomainError):
    status, code, slug, title = 413, 60002, "body-too-large", "Body too large"


class RateLimited(DomainError):
    status, code, slug, title, default_retry_after = 429, 60003, "rate-limited", "Too many requests", 1


class RouteNotFound(DomainError):
    status, code, slug, title = 404, 60004, "not-found", "Not found"


class MethodNotAllowed(DomainError):
    status, code, slug, title = 405, 60005, "method-not-allowed", "Method not allowed"


class PreconditionFailed(DomainError):
    """``If-Match`` names another version of the list; ``extra`` carries the current ``version``."""

    status, code, slug, title = 412, 60008, "precondition-failed", "Precondition failed"

    @classmethod
    def at(cls, version: int) -> PreconditionFailed:
        """The answer for a list now at ``version`` (in the body, and as the ``ETag`` to send next)."""
        return cls(
            f"The list is at version {version}", extra={"version": version}, headers={"ETag": f'"{version}"'}
        )


class PreconditionRequired(DomainError):
    """A write that must be conditional (a reorder) came without ``If-Match``."""

    status, code, slug, title = 428, 60009, "precondition-required", "Precondition required"


class HttpError(DomainError):
    """Any other framework-level client error, with the framework's status."""

    code, slug, title = 60000, "http-error", "Request error"


class FieldError(msgspec.Struct):
    """One invalid field of a request."""

    field: str
    message: str


class Problem(msgspec.Struct, rename="camel", omit_defaults=True):
    """RFC 9457 problem details, as every error is answered (the OpenAPI schema of error responses)."""

    type: str
    title: str
    status: int
    detail: str
    code: int
    instance: str
    request_id: str | None = None
    errors: list[FieldError] | None = None


def problem_body(error: DomainError, instance: str, *, status: int | None = None) -> dict[str, Any]:
    """The RFC 9457 body of a domain error (shared by HTTP answers and WebSocket replies)."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + error.slug,
        "title": error.title,
        "status": status or error.status,
        "detail": error.detail,
        "code": error.code,
        "instance": instance,
    }
    body.update(error.extra)
    return body


def problem_response(
    request: Request[Any, Any, Any],
    error: DomainError,
    *,
    status: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    """Render a domain error as ``application/problem+json``."""
    status = status or error.status
    body = problem_body(error, request.url.path, status=status)
    out_headers = {**error.headers, **(headers or {})}
    if error.retry_after is not None:
        out_headers.setdefault("Retry-After", str(error.retry_after))
    request_id = request.scope.get("state", {}).get("request_id")
    if request_id:
        body["requestId"] = request_id
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=out_headers,
    )


def _validation_errors(extra: Any) -> list[dict[str, Any]]:
    """Normalise Litestar's validation ``extra`` into ``[{field, message}]``."""
    errors: list[dict[str, Any]] = []
    if isinstance(extra, list):
        for item in extra:
            if isinstance(item, dict):
                field = item.get("key") or item.get("source") or "body"
                errors.append({"field": str(field), "message": str(item.get("message", ""))})
    elif isinstance(extra, dict):
        errors.extend({"field": str(k), "message": str(v)} for k, v in extra.items())
    return errors


def _domain_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[bytes]:
    if exc.status >= 500:
        logger.warning("{} {}: {}", exc.status, exc.slug, exc.detail)
    return problem_response(request, exc)


def _http_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    error: DomainError
    if isinstance(exc, ValidationException):
        error = InvalidRequest(exc.detail, extra={"errors": _validation_errors(exc.extra)})
    elif exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        error = BodyTooLarge("The request body is larger than this endpoint accepts")
    elif isinstance(exc, NotFoundException):
        error = RouteNotFound(exc.detail)
    elif isinstance(exc, MethodNotAllowedException):
        error = MethodNotAllowed(exc.detail)
        return problem_response(request, error, headers=dict(exc.headers or {}))
    elif exc.status_code == 400:
        error = InvalidRequest(exc.detail, extra={"errors": _validation_errors(exc.extra)})
    elif exc.status_code >= 500:
        logger.opt(exception=exc).error("framework error")
        error = DomainError("The server could not answer this request")
        return problem_response(request, error, status=exc.status_code)
    else:
        error = HttpError(exc.detail)
        return problem_response(request, error, status=exc.status_code, headers=dict(exc.headers or {}))
    return problem_response(request, error)


def _recursion_handler(request: Request[Any, Any, Any], exc: RecursionError) -> Response[bytes]:
    # The JSON decoder's only way to fail on absurdly deep nesting: bad input, not a server fault.
    return problem_response(
        request, InvalidRequest("The request body is nested too deeply", extra={"errors": []})
    )


def _unexpected_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    logger.opt(exception=exc).error("unhandled error on {} {}", request.method, request.url.path)
    return problem_response(request, DomainError("The server could not answer this request"))


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: _domain_handler,
    HTTPException: _http_handler,
    RecursionError: _recursion_handler,
    Exception: _unexpected_handler,
}
