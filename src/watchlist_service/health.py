"""Probes: liveness touches nothing; readiness checks MongoDB (required) and Redis (reported)."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import SkipValidation
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from msgspec import Struct

from watchlist_service.errors import DatabaseUnavailable
from watchlist_service.resources import Resources


class Health(Struct, omit_defaults=True):
    """Probe answer."""

    status: str
    mongodb: str | None = None
    redis: str | None = None


@get(
    "/v1/health/live",
    operation_id="live",
    summary="Liveness probe",
    tags=["Operations"],
    sync_to_thread=False,
)
def live() -> Health:
    """The process is up and its event loop answers."""
    return Health(status="ok")


@get(
    "/v1/health/ready",
    operation_id="ready",
    summary="Readiness probe",
    tags=["Operations"],
    responses={
        HTTP_503_SERVICE_UNAVAILABLE: ResponseSpec(
            Health,
            description="Not ready: MongoDB does not answer (`unavailable`), or the process is draining "
            "after SIGTERM (`stopping`); `Retry-After` says when to ask again",
            generate_examples=False,
            examples=[
                Example(
                    summary="MongoDB down",
                    value={"status": "unavailable", "mongodb": "unavailable", "redis": "ok"},
                )
            ],
        )
    },
)
async def ready(
    # Not validated: a dataclass of clients is not a value msgspec could (or should) check.
    resources: NamedDependency[SkipValidation[Resources]],
) -> Response[Health]:
    """MongoDB answers (Redis is a cache: its state is reported, never required)."""
    if not resources.readiness.ready:
        return Response(
            Health(status="stopping"), status_code=HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "1"}
        )
    try:
        await resources.repository.ping()
        mongodb = "ok"
    except DatabaseUnavailable:
        mongodb = "unavailable"
    redis = "ok" if await resources.page_cache.ping() else "unavailable"
    healthy = mongodb == "ok"
    return Response(
        Health(status="ok" if healthy else "unavailable", mongodb=mongodb, redis=redis),
        status_code=HTTP_200_OK if healthy else HTTP_503_SERVICE_UNAVAILABLE,
        headers={} if healthy else {"Retry-After": "2"},
    )
