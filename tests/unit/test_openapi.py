"""The OpenAPI document says exactly what each operation can answer (docs/design.md §4): the problem
statuses its route declares or its middleware can give, each with its possible codes and an example body,
a human summary and a description, and examples of the main bodies."""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
import pytest
from litestar import Litestar, post
from litestar.params import JSONBody, PathParameter

from tests.conftest import TEST_SECRET
from watchlist_service.app import create_app
from watchlist_service.config import Settings
from watchlist_service.errors import DomainError, NotInList, Problem
from watchlist_service.openapi import document
from watchlist_service.routes import RateClass, facts
from watchlist_service.watchlist.schemas import AddRequest, BatchRequest, BatchResult, Item, Page

METHODS = {"get", "put", "post", "delete", "patch"}


def _all_errors() -> dict[int, type[DomainError]]:
    found: dict[int, type[DomainError]] = {}
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        kind = pending.pop()
        found[kind.code] = kind
        pending.extend(kind.__subclasses__())
    return found


CODES = _all_errors()  # the idempotency errors included: the app imports their module


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    app = create_app(Settings(_env_file=None, jwt_secret=TEST_SECRET, log_level="WARNING"))
    document_: dict[str, Any] = app.openapi_schema.to_schema()
    return document_


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS and path.startswith("/v1/")
    ]


def _codes(response: dict[str, Any]) -> set[int]:
    """The codes a problem response names in its description."""
    return {int(code) for code in re.findall(r"^- (\d{5}) `", response["description"], re.MULTILINE)}


def _problems(operation: dict[str, Any]) -> dict[int, set[int]]:
    return {
        int(status): _codes(response)
        for status, response in operation["responses"].items()
        if "application/problem+json" in (response.get("content") or {})
    }


def test_the_cheapest_route_lists_only_what_its_middleware_can_answer(schema: dict[str, Any]) -> None:
    hello = schema["paths"]["/v1/hello"]["get"]
    assert set(hello["responses"]) == {"200", "401", "429", "500"}
    assert _problems(hello) == {401: {30001}, 429: {60003}, 500: {50000}}


def test_an_add_lists_its_conflicts_and_unknown_content_with_their_codes(schema: dict[str, Any]) -> None:
    add = schema["paths"]["/v1/watchlist"]["post"]
    assert _problems(add) == {
        400: {60001},
        401: {30001},
        409: {40001, 40003, 60006},
        412: {60008},
        413: {60002},
        422: {40004, 60007},
        429: {60003},
        500: {50000},
        503: {50001},
    }
    conflict = add["responses"]["409"]
    assert "- 40001 `already-in-list`: Already in the list" in conflict["description"]
    examples = conflict["content"]["application/problem+json"]["examples"]
    already = examples["already-in-list"]["value"]
    assert (already["status"], already["code"], already["instance"]) == (409, 40001, "/v1/watchlist")
    msgspec.convert(already["item"], Item)  # the stored item comes with 40001 (design §4)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/v1/watchlist", {400, 401, 429, 500, 503}),
        ("GET", "/v1/watchlist/stats", {401, 429, 500, 503}),
        ("GET", "/v1/watchlist/changes", {400, 401, 410, 429, 500, 503}),
        ("GET", "/v1/watchlist/{content_id}", {400, 401, 404, 429, 500, 503}),
        ("PATCH", "/v1/watchlist/{content_id}", {400, 401, 404, 412, 413, 429, 500, 503}),
        ("DELETE", "/v1/watchlist/{content_id}", {400, 401, 404, 412, 429, 500, 503}),
        ("POST", "/v1/watchlist/batch", {400, 401, 409, 412, 413, 422, 429, 500, 503}),
        ("PUT", "/v1/watchlist/order", {400, 401, 412, 413, 428, 429, 500, 503}),
        ("POST", "/v1/watchlist/contains", {400, 401, 413, 429, 500, 503}),
        ("GET", "/v1/users/{user_id}/watchlist/stats", {400, 401, 403, 429, 500, 503}),
        ("POST", "/v1/watchlist/events/ticket", {401, 429, 500, 503}),
        ("GET", "/v1/movies/{movie_id}", {400, 401, 404, 429, 500, 503}),
        ("GET", "/v1/search", {400, 401, 429, 500, 503}),
        ("GET", "/v1/health/live", {500}),
    ],
)
def test_each_operation_lists_its_own_problem_statuses(
    schema: dict[str, Any], method: str, path: str, expected: set[int]
) -> None:
    assert set(_problems(schema["paths"][path][method.lower()])) == expected


def test_the_codes_of_each_status_are_the_ones_that_status_carries(schema: dict[str, Any]) -> None:
    operations = _operations(schema)
    assert len(operations) > 25
    for method, path, operation in operations:
        for status, codes in _problems(operation).items():
            assert codes, (method, path, status)
            assert {CODES[code].status for code in codes} == {status}, (method, path, status)
            examples = operation["responses"][str(status)]["content"]["application/problem+json"]["examples"]
            assert {example["value"]["code"] for example in examples.values()} == codes
            for example in examples.values():
                problem = msgspec.convert(example["value"], Problem)
                assert problem.status == status
                assert problem.type.endswith("/" + CODES[problem.code].slug)


def test_service_access_can_be_forbidden_and_own_lists_cannot(schema: dict[str, Any]) -> None:
    for method, path, operation in _operations(schema):
        if path.startswith(("/v1/users/", "/v1/titles/")):  # service access (§1, §12)
            assert _problems(operation)[403] == {30002}, (method, path)
        else:
            assert 403 not in _problems(operation), (method, path)


def test_only_idempotent_routes_document_the_idempotency_key(schema: dict[str, Any]) -> None:
    with_key = {
        (method, path)
        for method, path, operation in _operations(schema)
        if any(
            p["name"] == "Idempotency-Key" and p["in"] == "header" for p in operation.get("parameters", [])
        )
    }
    assert with_key == {
        ("POST", "/v1/watchlist"),
        ("POST", "/v1/watchlist/batch"),
        ("POST", "/v1/users/{user_id}/watchlist"),
        ("POST", "/v1/users/{user_id}/watchlist/batch"),
    }


def test_waits_are_documented_on_429_and_503(schema: dict[str, Any]) -> None:
    for method, path, operation in _operations(schema):
        for status in ("429", "503"):
            if status in operation["responses"]:
                assert "Retry-After" in operation["responses"][status]["headers"], (method, path, status)


def test_every_operation_has_a_human_summary_and_a_description(schema: dict[str, Any]) -> None:
    app = create_app(Settings(_env_file=None, jwt_secret=TEST_SECRET, log_level="WARNING"))
    handler_names = {
        name
        for route in app.routes
        for handler in getattr(route, "route_handlers", ())
        for name in (handler.handler_name, handler.handler_name.replace("_", " ").title().replace(" ", ""))
    }
    for method, path, operation in _operations(schema):
        summary = operation.get("summary") or ""
        assert " " in summary, (method, path, summary)  # words, not a function name
        assert summary not in handler_names, (method, path, summary)
        assert len(operation.get("description") or "") > 20, (method, path)


def test_operation_ids_are_kept(schema: dict[str, Any]) -> None:
    ids = {(method, path): operation["operationId"] for method, path, operation in _operations(schema)}
    assert ids[("POST", "/v1/watchlist")] == "addToWatchlist"
    assert ids[("GET", "/v1/watchlist")] == "listWatchlist"
    assert ids[("POST", "/v1/users/{user_id}/watchlist/batch")] == "userBatchWatchlist"
    assert ids[("GET", "/v1/tv/{tv_id}")] == "getTvShow"
    assert len(set(ids.values())) == len(ids)


def test_the_main_bodies_have_examples_of_their_own_schema(schema: dict[str, Any]) -> None:
    def examples(content: dict[str, Any]) -> list[Any]:
        return [example["value"] for example in content["application/json"]["examples"].values()]

    paths = schema["paths"]
    add = paths["/v1/watchlist"]["post"]
    assert [msgspec.convert(v, AddRequest) for v in examples(add["requestBody"]["content"])]
    assert [msgspec.convert(v, Item) for v in examples(add["responses"]["201"]["content"])]
    batch = paths["/v1/watchlist/batch"]["post"]
    assert [msgspec.convert(v, BatchRequest) for v in examples(batch["requestBody"]["content"])]
    assert [msgspec.convert(v, BatchResult) for v in examples(batch["responses"]["200"]["content"])]
    page = paths["/v1/watchlist"]["get"]["responses"]["200"]
    assert [msgspec.convert(v, Page) for v in examples(page["content"])]
    assert {"Link", "ETag", "X-Total-Count"} <= set(page["headers"])  # the examples kept the headers
    assert "304" in paths["/v1/watchlist"]["get"]["responses"]


def test_a_new_route_needs_one_declaration() -> None:
    """A route's declared errors and what its signature implies are all it takes."""

    @post("/v1/things/{thing_id:str}", operation_id="poke", opt=facts(RateClass.WRITES, errors=(NotInList,)))
    async def poke(thing_id: Annotated[str, PathParameter()], data: JSONBody[AddRequest]) -> None:
        """Poke a thing."""

    app = Litestar([poke])
    document(app)
    operation = app.openapi_schema.to_schema()["paths"]["/v1/things/{thing_id}"]["post"]
    assert _problems(operation) == {
        400: {60001},
        401: {30001},
        404: {40002},
        413: {60002},
        429: {60003},
        500: {50000},
    }
