"""Response verdicts shared by the scenarios (duck-typed, so this module needs no Locust import)."""

from __future__ import annotations

from typing import Any, Protocol


class CheckedResponse(Protocol):
    """What Locust's ``catch_response=True`` context manager offers."""

    status_code: int

    def success(self) -> None: ...

    def failure(self, exc: Any) -> None: ...

    def json(self) -> Any: ...


def expect(response: CheckedResponse, *statuses: int) -> bool:
    """Mark the request a success if its status is one of ``statuses`` (expected outcomes, e.g. 409 on a
    repeated add), a failure otherwise; return the verdict."""
    if response.status_code in statuses:
        response.success()
        return True
    response.failure(f"status {response.status_code}, expected one of {sorted(statuses)}")
    return False


def json_body(response: CheckedResponse, *keys: str) -> dict[str, Any] | None:
    """The JSON object of a successful response, or ``None`` after marking it failed when it is not one or
    lacks ``keys``."""
    try:
        body = response.json()
    except ValueError:
        response.failure("the body is not JSON")
        return None
    if not isinstance(body, dict) or any(key not in body for key in keys):
        response.failure(f"the body lacks {list(keys)}")
        return None
    return body
