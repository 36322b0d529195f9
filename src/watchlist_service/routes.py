"""What middleware needs to know about a route, declared on the route itself (its ``opt``), never guessed.

Every API route declares its ``RouteFacts`` with ``opt=facts(...)``: the rate-limit class it counts against,
whether it writes (service tokens need ``watchlist:write:any`` to act for another user), whether it takes
an ``Idempotency-Key``, and the domain errors its handler can raise. Middleware reads the facts of the
matched handler from the ASGI scope; the OpenAPI document (``openapi.py``) lists each operation's problem
answers from them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from litestar.types import Scope

from watchlist_service.errors import DomainError

if TYPE_CHECKING:
    from watchlist_service.resources import Resources

FACTS_KEY: Final = "watchlist_facts"
PREFETCHED_KEY: Final = "watchlist_prefetched"
# The Redis keys a route will read first, for the list of ``owner`` (or ``None``: nothing to fetch early).
Prefetch = Callable[[Scope, str], list[str] | None]


class Answer(NamedTuple):
    """A whole answer, before the headers every answer gets (content type and length, request id, limits)."""

    status: int
    headers: dict[str, str]
    body: bytes


# The answer a route gives from what was read early for the caller's own list, without its handler (``None``:
# the handler answers).
PrefetchedAnswer = Callable[[Scope, Mapping[str, bytes | None], "Resources"], Answer | None]


class RateClass(StrEnum):
    """The inbound rate-limit budgets (``WATCHLIST_RATE_LIMIT_*``)."""

    READS = "reads"
    WRITES = "writes"
    CATALOG = "catalog"
    SERVICE = "service"  # not declared by routes: a service token's own budget for all its requests


@dataclass(frozen=True, slots=True)
class RouteFacts:
    """The facts of one route."""

    rate: RateClass
    write: bool = False
    idempotent: bool = False
    # Read together with the rate-limit counter, in the same Redis call (a cached page costs one round trip).
    prefetch: Prefetch | None = None
    # Answers from what ``prefetch`` read, before the handler runs (a cached page without the handler).
    answer: PrefetchedAnswer | None = None
    # What the handler (its service) can raise; what the middleware in front of it can answer is added from
    # the facts above and the handler's signature (openapi.py).
    errors: tuple[type[DomainError], ...] = ()


# A route that declares nothing is limited as a write: the stricter budget, never a silent free pass.
UNDECLARED: Final = RouteFacts(RateClass.WRITES, write=True)


def facts(
    rate: RateClass,
    *,
    write: bool = False,
    idempotent: bool = False,
    prefetch: Prefetch | None = None,
    answer: PrefetchedAnswer | None = None,
    errors: tuple[type[DomainError], ...] = (),
) -> dict[str, Any]:
    """The ``opt`` of a route with these facts."""
    return {
        FACTS_KEY: RouteFacts(
            rate, write=write, idempotent=idempotent, prefetch=prefetch, answer=answer, errors=errors
        )
    }


READ: Final = facts(RateClass.READS)
WRITE: Final = facts(RateClass.WRITES, write=True)
IDEMPOTENT_WRITE: Final = facts(RateClass.WRITES, write=True, idempotent=True)
CATALOG: Final = facts(RateClass.CATALOG)


def declared(opt: dict[str, Any]) -> RouteFacts | None:
    """The facts declared in a handler's ``opt``, if any."""
    found = opt.get(FACTS_KEY)
    return found if isinstance(found, RouteFacts) else None


def facts_of(scope: Scope) -> RouteFacts:
    """The facts of the handler the request was routed to (``UNDECLARED`` when it declares none)."""
    handler = scope.get("route_handler")
    found = declared(handler.opt) if handler is not None else None
    return found or UNDECLARED


def keep_prefetched(scope: Scope, values: Mapping[str, bytes | None]) -> None:
    """Hand what the rate-limit call read early (``RouteFacts.prefetch``) to the handler."""
    scope.setdefault("state", {})[PREFETCHED_KEY] = values


def prefetched(scope: Scope) -> Mapping[str, bytes | None] | None:
    """What was read early for this request, by Redis key (``None``: nothing was)."""
    found = scope.get("state", {}).get(PREFETCHED_KEY)
    return found if isinstance(found, Mapping) else None
