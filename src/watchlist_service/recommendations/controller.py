"""``GET /v1/watchlist/recommendations``: more like the caller's list."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from watchlist_service.errors import CatalogUnavailable, DatabaseUnavailable
from watchlist_service.recommendations.schemas import Recommendations
from watchlist_service.recommendations.service import RecommendationService
from watchlist_service.routes import RateClass, facts
from watchlist_service.security import Principal

AppRequest = Request[Principal, str, Any]
RecsCount = Annotated[int, QueryParameter(ge=1, le=100, description="how many titles")]
STALE_HEADER = "X-Stale"


class RecommendationsController(Controller):
    """Titles like the newest ones of the caller's list, from TMDb."""

    path = "/v1/watchlist/recommendations"
    tags = ["My List"]

    @get(
        "/",
        operation_id="watchlistRecommendations",
        summary="Recommend titles like the list's",
        description="TMDb's recommendations for the list's most recently added titles, merged (a title "
        "recommended for more of them ranks higher) without the titles already in the list; cached per list "
        "version. While TMDb is down: the last good answer with `stale: true` and `X-Stale: true`, or 503 "
        "`catalog-unavailable` when there is none.",
        opt=facts(RateClass.CATALOG, errors=(CatalogUnavailable, DatabaseUnavailable)),
        response_headers=[
            ResponseHeader(
                name=STALE_HEADER,
                documentation_only=True,
                description="`true` when TMDb failed and this is the last good answer (`stale` in the body)",
            )
        ],
    )
    async def recommendations(
        self,
        request: AppRequest,
        recommendations: NamedDependency[RecommendationService],
        count: RecsCount = 20,
    ) -> Response[Recommendations]:
        """TMDb's recommendations for the list's newest titles, merged and ranked, without titles in it."""
        answer = await recommendations.for_user(request.user.sub, count)
        headers = {STALE_HEADER: "true"} if answer.stale else {}
        return Response(answer, headers={**headers, "Cache-Control": "private, no-cache"})
