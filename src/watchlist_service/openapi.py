"""The OpenAPI document: each operation lists exactly the problem answers it can give, with their codes.

A route declares what its handler's service can raise (``facts(..., errors=...)`` in ``routes.py``) and,
optionally, example bodies (``docs(...)`` below), both in its ``opt``. ``document(app)`` adds what the
middleware in front of every route can answer, from the same facts and the handler's signature:

- 401 ``unauthenticated`` and 429 ``rate-limited`` on every authenticated route (the failed-authentication
  limit, then the per-user limit);
- 400 ``invalid-request`` where the route takes input (path, query or header parameters, a body);
- 413 ``body-too-large`` where it takes a body;
- 409 ``idempotency-in-progress``, 422 ``idempotency-key-reused`` and the documented ``Idempotency-Key``
  header where the route declares ``idempotent``;
- 500 ``internal-error`` everywhere (a bug is always possible; it never leaks).

Each problem response names the ``code`` values possible for that status on that operation and carries one
example body per code; 429 and 503 document ``Retry-After``. The schema stays lazy: nothing here generates
the document, Litestar does when ``/schema`` (or ``app.openapi_schema``) is first asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final, cast

import msgspec
from litestar import Litestar
from litestar.constants import RESERVED_KWARGS
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    Example,
    OpenAPIHeader,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    RequestBody,
    Schema,
)
from litestar.routes import HTTPRoute
from litestar.types import Scope

from watchlist_service.errors import (
    PROBLEM_JSON,
    PROBLEM_TYPE_BASE,
    BodyTooLarge,
    DomainError,
    InvalidRequest,
    Problem,
    RateLimited,
    Unauthenticated,
)
from watchlist_service.idempotency import KEY_RE, IdempotencyInProgress, IdempotencyKeyReused
from watchlist_service.routes import declared
from watchlist_service.security import is_public

DOCS_KEY: Final = "watchlist_docs"
LAYER_ERRORS_KEY: Final = "watchlist_layer_errors"
# An example value for a path parameter in the problem examples' ``instance``.
_PATH_EXAMPLES: Final = {"content_id": "movie:550", "user_id": "user-42", "movie_id": "550", "tv_id": "1396"}
_PATH_PARAM_RE: Final = re.compile(r"\{(\w+)(?::\w+)?\}")
# Example extra fields of problems that carry one (docs/design.md §4).
_INVALID_EXTRA: Final = {"errors": [{"field": "limit", "message": "Expected `int` <= 100"}]}

# A body example: a Struct (encoded as the API encodes it), plain JSON, or Litestar's ``Example``s.
BodyExample = msgspec.Struct | Mapping[str, Any] | Sequence[Example]


@dataclass(frozen=True, slots=True)
class RouteDocs:
    """What a route adds to its own OpenAPI operation beyond its signature and its errors."""

    request: tuple[Example, ...] = ()
    response: tuple[Example, ...] = ()
    headers: tuple[Parameter, ...] = ()
    # Extra fields of a problem example (``AlreadyInList``: the stored ``item``).
    problem_extra: Mapping[type[DomainError], Mapping[str, Any]] = field(default_factory=dict)


def _examples(value: BodyExample | None, name: str) -> tuple[Example, ...]:
    if value is None:
        return ()
    if isinstance(value, msgspec.Struct):
        return (Example(summary=name, value=msgspec.to_builtins(value)),)
    if isinstance(value, Mapping):
        return (Example(summary=name, value=dict(value)),)
    return tuple(value)


def docs(
    *,
    request: BodyExample | None = None,
    response: BodyExample | None = None,
    headers: Sequence[Parameter] = (),
    problem_extra: Mapping[type[DomainError], Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``opt`` entry of a route's examples and documented headers: ``opt=facts(...) | docs(...)``."""
    return {
        DOCS_KEY: RouteDocs(
            request=_examples(request, "request"),
            response=_examples(response, "response"),
            headers=tuple(headers),
            problem_extra=dict(problem_extra or {}),
        )
    }


def layer_errors(*errors: type[DomainError]) -> dict[str, Any]:
    """The ``opt`` of a controller whose every route can raise ``errors`` (from a dependency of the layer)."""
    return {LAYER_ERRORS_KEY: errors}


def header(
    name: str, description: str, *, pattern: str | None = None, max_length: int | None = None
) -> Parameter:
    """An optional request header the handler reads itself (documented, not in its signature)."""
    schema = Schema(type=OpenAPIType.STRING, pattern=pattern, max_length=max_length)
    return Parameter(name=name, param_in="header", required=False, schema=schema, description=description)


IDEMPOTENCY_KEY: Final = header(
    "Idempotency-Key",
    "Makes a retry safe: the same key with the same request within 24 h replays the first answer "
    "(`Idempotent-Replayed: true`); with another request it is 422 `idempotency-key-reused`; while the "
    "first still runs, 409 `idempotency-in-progress` (docs/design.md §8).",
    pattern=KEY_RE.pattern,
    max_length=255,
)
_RETRY_AFTER: Final = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.INTEGER, minimum=1), description="seconds to wait before trying again"
)
_RATE_LIMIT_HEADERS: Final = {
    "RateLimit-Limit": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.INTEGER), description="requests allowed in the window"
    ),
    "RateLimit-Remaining": OpenAPIHeader(schema=Schema(type=OpenAPIType.INTEGER), description="0"),
    "RateLimit-Reset": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.INTEGER), description="seconds until the window ends"
    ),
}


def _instance(path: str) -> str:
    return _PATH_PARAM_RE.sub(lambda match: _PATH_EXAMPLES.get(match.group(1), "1"), path)


def _problem_example(error: type[DomainError], path: str, extra: Mapping[str, Any]) -> Example:
    body = msgspec.to_builtins(
        Problem(
            type=PROBLEM_TYPE_BASE + error.slug,
            title=error.title,
            status=error.status,
            detail=error.title,
            code=error.code,
            instance=_instance(path),
            request_id="8f14e45fceea167a",
        )
    )
    return Example(id=error.slug, summary=f"{error.code} {error.slug}", value={**body, **extra})


def problem_errors(handler: HTTPRouteHandler, route: HTTPRoute) -> list[type[DomainError]]:
    """Every problem the operation can answer: the route's declared errors and its middleware's."""
    found: list[type[DomainError]] = []
    if not is_public(cast("Scope", {"path": route.path})):
        found += [Unauthenticated, RateLimited]
    parameters = handler.parsed_fn_signature.parameters
    dependencies = handler.resolve_dependencies()
    inputs = [name for name in parameters if name not in RESERVED_KWARGS and name not in dependencies]
    takes_body = "data" in parameters
    facts = declared(handler.opt)
    if route.path_parameters or inputs or takes_body or (facts and facts.idempotent):
        found.append(InvalidRequest)
    if takes_body:
        found.append(BodyTooLarge)
    if facts is not None:
        if facts.idempotent:
            found += [IdempotencyInProgress, IdempotencyKeyReused]
        found += facts.errors
    found += handler.opt.get(LAYER_ERRORS_KEY, ())
    found.append(DomainError)  # 500 internal-error
    return list(dict.fromkeys(found))


def _problem_responses(
    errors: Iterable[type[DomainError]], path: str, extra: Mapping[type[DomainError], Mapping[str, Any]]
) -> dict[int, ResponseSpec]:
    by_status: dict[int, list[type[DomainError]]] = {}
    for error in sorted(errors, key=lambda e: e.code):
        by_status.setdefault(error.status, []).append(error)
    responses: dict[int, ResponseSpec] = {}
    for status, found in sorted(by_status.items()):
        codes = "\n".join(f"- {error.code} `{error.slug}`: {error.title}" for error in found)
        defaults: Mapping[type[DomainError], Mapping[str, Any]] = {InvalidRequest: _INVALID_EXTRA}
        responses[status] = ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description=f"{HTTPStatus(status).phrase}. `code` is one of:\n{codes}",
            generate_examples=False,
            examples=[
                _problem_example(error, path, extra.get(error) or defaults.get(error, {})) for error in found
            ],
        )
    return responses


def _finish(operation: Operation, route_docs: RouteDocs, idempotent: bool) -> None:
    """What Litestar cannot declare: header parameters it does not parse, examples of the main bodies
    next to a success response's headers, and the headers of problem answers."""
    present = {p.name for p in operation.parameters or [] if isinstance(p, Parameter)}
    added = [
        p for p in (*route_docs.headers, *((IDEMPOTENCY_KEY,) if idempotent else ())) if p.name not in present
    ]
    if added:
        operation.parameters = [*(operation.parameters or []), *added]
    if route_docs.request and isinstance(operation.request_body, RequestBody):
        for media in operation.request_body.content.values():
            media.examples = {f"example{i}": e for i, e in enumerate(route_docs.request, 1)}
    for status, response in (operation.responses or {}).items():
        if not isinstance(response, OpenAPIResponse):
            continue
        if route_docs.response and status.startswith("2") and response.content:
            for media in response.content.values():
                media.examples = {f"example{i}": e for i, e in enumerate(route_docs.response, 1)}
        if status in ("429", "503"):
            headers = {"Retry-After": _RETRY_AFTER, **(_RATE_LIMIT_HEADERS if status == "429" else {})}
            response.headers = {**(response.headers or {}), **headers}


def _operation_class(base: type[Operation], route_docs: RouteDocs, idempotent: bool) -> type[Operation]:
    """``base`` finishing its own documentation once Litestar has built it (``operation_class``)."""

    class DocumentedOperation(base):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            _finish(self, route_docs, idempotent)

    return DocumentedOperation


def document(app: Litestar) -> None:
    """Declare the problem answers, examples and documented headers of every API operation of ``app``."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/v1/"):
            continue
        for handler in route.route_handlers:
            if not handler.include_in_schema:
                continue
            route_docs = handler.opt.get(DOCS_KEY) or RouteDocs()
            facts = declared(handler.opt)
            errors = problem_errors(handler, route)
            problems = _problem_responses(errors, route.path_format, route_docs.problem_extra)
            handler.responses = {**problems, **(handler.responses or {})}
            handler.operation_class = _operation_class(
                handler.operation_class, route_docs, facts is not None and facts.idempotent
            )
