"""Route facts are declared on every API route (never guessed from the path), and socket ops count against
the same class as the REST route they stand for."""

from __future__ import annotations

from typing import cast

import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.types import Scope

from tests.conftest import TEST_SECRET
from watchlist_service.app import create_app
from watchlist_service.config import Settings
from watchlist_service.ratelimit import budget
from watchlist_service.realtime.messages import AddOp, ListOp, Op, RemoveOp, ReorderOp, UpdateOp
from watchlist_service.realtime.session import _RATE_CLASSES
from watchlist_service.routes import RateClass, RouteFacts, declared
from watchlist_service.security import SCOPE_READ_ANY, Principal, is_public


@pytest.fixture(scope="module")
def app() -> Litestar:
    return create_app(Settings(_env_file=None, jwt_secret=TEST_SECRET, log_level="WARNING"))


def _facts(app: Litestar) -> dict[tuple[str, str], RouteFacts | None]:
    found: dict[tuple[str, str], RouteFacts | None] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if isinstance(handler, HTTPRouteHandler):
                for method in handler.http_methods:
                    found[(method, route.path)] = declared(handler.opt)
    return found


def test_every_authenticated_route_declares_its_facts(app: Litestar) -> None:
    facts = _facts(app)
    undeclared = [
        (method, path)
        for (method, path), fact in facts.items()
        if fact is None and method != "OPTIONS" and not is_public(cast(Scope, {"path": path}))
    ]
    assert undeclared == []
    assert len(facts) > 30  # the walk really saw the routes


@pytest.mark.parametrize(
    ("method", "path", "rate", "write", "idempotent"),
    [
        ("GET", "/v1/watchlist", RateClass.READS, False, False),
        ("POST", "/v1/watchlist/contains", RateClass.READS, False, False),
        ("POST", "/v1/users/{user_id:str}/watchlist/contains", RateClass.READS, False, False),
        ("POST", "/v1/watchlist/events/ticket", RateClass.READS, False, False),
        ("POST", "/v1/watchlist", RateClass.WRITES, True, True),
        ("POST", "/v1/watchlist/batch", RateClass.WRITES, True, True),
        ("DELETE", "/v1/watchlist/{content_id:str}", RateClass.WRITES, True, False),
        ("PATCH", "/v1/users/{user_id:str}/watchlist/{content_id:str}", RateClass.WRITES, True, False),
        ("GET", "/v1/movies/{movie_id:str}", RateClass.CATALOG, False, False),
        ("GET", "/v1/search", RateClass.CATALOG, False, False),
        ("GET", "/v1/hello", RateClass.READS, False, False),
    ],
)
def test_declared_facts(
    app: Litestar, method: str, path: str, rate: RateClass, write: bool, idempotent: bool
) -> None:
    found = _facts(app)[(method, path)]
    assert found is not None
    assert (found.rate, found.write, found.idempotent) == (rate, write, idempotent)


def test_a_list_page_reads_its_cache_keys_with_the_rate_limit_call(app: Litestar) -> None:
    """The page route prefetches exactly the keys the page cache reads first; odd queries fetch nothing."""
    route = _facts(app)[("GET", "/v1/watchlist")]
    assert route is not None
    prefetch = route.prefetch
    assert prefetch is not None

    def keys(query: bytes) -> list[str] | None:
        return prefetch({"query_string": query}, "u1")  # type: ignore[arg-type]

    assert keys(b"") == ["{u1}:mylist:1:10", "{u1}:mylist:ver"]
    assert keys(b"page=2&limit=5&type=tv&sort=title.asc") == [
        "{u1}:mylist:2:5:tv:title.asc",
        "{u1}:mylist:ver",
    ]
    assert keys(b"watched=false&rated=true&type=movie") == [
        "{u1}:mylist:1:10:movie:added.desc:watched=false:rated=true",
        "{u1}:mylist:ver",
    ]
    assert keys(b"sort=rank&limit=100") == ["{u1}:mylist:1:100:all:rank", "{u1}:mylist:ver"]
    odd_queries = (
        b"page=0",
        b"limit=101",
        b"page=x",
        b"type=book",
        b"sort=nope",
        b"page=1&page=2",
        b"limit=5_0",
        "page=\u00b2".encode(),  # not an ASCII digit
        b"limit=+5",
        b"limit= 5",
    )
    for odd in (*odd_queries, b"watched=1", b"rated=yes"):
        assert keys(odd) is None, odd
    assert route.answer is not None  # a cached page is answered from what was read (edge.Guard)


def test_socket_ops_count_as_their_rest_routes(app: Litestar) -> None:
    facts = _facts(app)
    rest: dict[type[Op], tuple[str, str]] = {
        AddOp: ("POST", "/v1/watchlist"),
        RemoveOp: ("DELETE", "/v1/watchlist/{content_id:str}"),
        UpdateOp: ("PATCH", "/v1/watchlist/{content_id:str}"),
        ReorderOp: ("PUT", "/v1/watchlist/order"),
        ListOp: ("GET", "/v1/watchlist"),
    }
    assert set(_RATE_CLASSES) == set(rest)
    for op, route in rest.items():
        fact = facts[route]
        assert fact is not None
        assert _RATE_CLASSES[op] is fact.rate


def test_a_service_token_has_its_own_budget() -> None:
    service = Principal("recommendations", frozenset({SCOPE_READ_ANY}))
    end_user = Principal("u1", frozenset())
    assert budget(RateClass.READS, service) is RateClass.SERVICE
    assert budget(RateClass.WRITES, service) is RateClass.SERVICE
    assert budget(RateClass.READS, end_user) is RateClass.READS
    assert budget(RateClass.CATALOG, end_user) is RateClass.CATALOG
