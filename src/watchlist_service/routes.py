"""What middleware needs to know about a route, declared on the route itself (its ``opt``), never guessed.

Every API route declares its ``RouteFacts`` with ``opt=facts(...)``: the rate-limit class it counts against,
whether it writes (service tokens need ``watchlist:write:any`` to act for another user), and whether it takes
an ``Idempotency-Key``. Middleware reads the facts of the matched handler from the ASGI scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from litestar.types import Scope

FACTS_KEY: Final = "watchlist_facts"


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


# A route that declares nothing is limited as a write: the stricter budget, never a silent free pass.
UNDECLARED: Final = RouteFacts(RateClass.WRITES, write=True)


def facts(rate: RateClass, *, write: bool = False, idempotent: bool = False) -> dict[str, Any]:
    """The ``opt`` of a route with these facts."""
    return {FACTS_KEY: RouteFacts(rate, write=write, idempotent=idempotent)}


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
