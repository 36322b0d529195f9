"""List routes: ``/v1/watchlist`` for the caller, ``/v1/users/{userId}/watchlist`` for services."""

from __future__ import annotations

from typing import Annotated, Any, cast

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT, HTTP_304_NOT_MODIFIED

from watchlist_service.routes import IDEMPOTENT_WRITE, READ, WRITE, declared
from watchlist_service.security import SUBJECT_PATTERN, Principal, require_access
from watchlist_service.watchlist.schemas import (
    CONTENT_ID_RE,
    AddRequest,
    BatchRequest,
    BatchResult,
    Changes,
    ContainsRequest,
    ContentType,
    Item,
    Page,
    PatchRequest,
    ReplaceRequest,
    SortOrder,
    Stats,
)
from watchlist_service.watchlist.service import WatchlistService

AppRequest = Request[Principal, str, Any]
PathContentId = Annotated[
    str,
    PathParameter(
        pattern=CONTENT_ID_RE.pattern, max_length=16, description='"movie:550" or "tv:1396"', examples=[]
    ),
]
PageNumber = Annotated[int, QueryParameter(ge=1, le=100_000, description="1-based page number")]
PageLimit = Annotated[int, QueryParameter(ge=1, le=100, description="items per page")]
TypeFilter = Annotated[ContentType | None, QueryParameter(description="only movies or only TV shows")]
Sort = Annotated[SortOrder, QueryParameter(description="order of the list")]
Since = Annotated[int, QueryParameter(ge=0, description="the list version the client has")]


def _operation_id(name: str) -> Any:
    """Operation ids that stay unique although both controllers share these handlers."""

    def create(route_handler: HTTPRouteHandler, http_method: str, path_components: list[str | Any]) -> str:
        return ("user" + name[0].upper() + name[1:]) if "users" in path_components else name

    return create


def _etag(version: int, page: int, limit: int, content_type: str | None, sort: SortOrder) -> str:
    return f'W/"{version}-{page}-{limit}-{content_type or "all"}-{sort.value}"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip() for tag in if_none_match.split(",")}
    # Weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
    return "*" in candidates or etag in candidates or etag.removeprefix("W/") in candidates


def _raw_json(body: bytes, headers: dict[str, str], status_code: int = HTTP_200_OK) -> Response[Page]:
    """A response whose body is already encoded (a cached page); typed as ``Page`` for the OpenAPI schema."""
    response = Response(content=body, media_type="application/json", headers=headers, status_code=status_code)
    return cast("Response[Page]", response)


async def provide_own_user(request: AppRequest) -> str:
    """``/v1/watchlist``: the list of the token's subject."""
    return request.user.sub


async def provide_path_user(
    request: AppRequest,
    user_id: Annotated[
        str, PathParameter(pattern=SUBJECT_PATTERN, description="a user id (a token subject)")
    ],
) -> str:
    """``/v1/users/{userId}/watchlist``: the path's user, if the token may act for them."""
    route = declared(request.route_handler.opt)
    require_access(request.user, user_id, write=route is None or route.write)
    return user_id


class _WatchlistRoutes(Controller):
    """The list operations; subclasses choose whose list they act on."""

    tags = ["My List"]

    @get("/", operation_id=_operation_id("listWatchlist"), opt=READ)
    async def list_page(
        self,
        request: AppRequest,
        owner: NamedDependency[str],
        watchlist: NamedDependency[WatchlistService],
        page: PageNumber = 1,
        limit: PageLimit = 10,
        type: TypeFilter = None,  # the public query parameter is called "type"
        sort: Sort = SortOrder.ADDED_DESC,
    ) -> Response[Page]:
        """One page of the list, newest first by default; supports ETag / If-None-Match."""
        rendered = await watchlist.page(owner, page=page, limit=limit, content_type=type, sort=sort)
        etag = _etag(rendered.version, page, limit, type, sort)
        headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
        if _matches(request.headers.get("if-none-match"), etag):
            return _raw_json(b"", headers, status_code=HTTP_304_NOT_MODIFIED)
        return _raw_json(rendered.body, headers)

    @post(
        "/",
        operation_id=_operation_id("addToWatchlist"),
        status_code=HTTP_201_CREATED,
        opt=IDEMPOTENT_WRITE,
    )
    async def add(
        self,
        request: AppRequest,
        owner: NamedDependency[str],
        watchlist: NamedDependency[WatchlistService],
        data: JSONBody[AddRequest],
    ) -> Response[Item]:
        """Add a title; 409 ``already-in-list`` with the stored item when it is there already."""
        item = await watchlist.add(owner, data)
        location = request.url.path.rstrip("/") + "/" + item.content_id
        return Response(content=item, status_code=HTTP_201_CREATED, headers={"Location": location})

    @post("/contains", operation_id=_operation_id("watchlistContains"), status_code=HTTP_200_OK, opt=READ)
    async def contains(
        self,
        owner: NamedDependency[str],
        watchlist: NamedDependency[WatchlistService],
        data: JSONBody[ContainsRequest],
    ) -> dict[str, bool]:
        """For up to 100 titles, whether each is in the list."""
        return await watchlist.contains(owner, data.content_ids)

    @post(
        "/batch",
        operation_id=_operation_id("batchWatchlist"),
        status_code=HTTP_200_OK,
        opt=IDEMPOTENT_WRITE,
    )
    async def batch(
        self,
        owner: NamedDependency[str],
        watchlist: NamedDependency[WatchlistService],
        data: JSONBody[BatchRequest],
    ) -> BatchResult:
        """Up to 100 adds and removes in one call; reports what each did."""
        return await watchlist.batch(owner, data)

    @get("/changes", operation_id=_operation_id("watchlistChanges"), opt=READ)
    async def changes(
        self, owner: NamedDependency[str], watchlist: NamedDependency[WatchlistService], since: Since
    ) -> Changes:
        """What changed since a version (latest state per title, tombstones); 410 when too old."""
        return await watchlist.changes(owner, since)

    @get("/stats", operation_id=_operation_id("watchlistStats"), opt=READ)
    async def stats(self, owner: NamedDependency[str], watchlist: NamedDependency[WatchlistService]) -> Stats:
        """Totals by type, watched state and rating."""
        return await watchlist.stats(owner)

    @get("/{content_id:str}", operation_id=_operation_id("getWatchlistItem"), opt=READ)
    async def get_item(
        self,
        owner: NamedDependency[str],
        watchlist: NamedDependency[WatchlistService],
        content_id: PathContentId,
    ) -> Item:
        """One item of the list; 404 ``not-in-list`` when it is not there."""
        return await watchlist.get(owner, content_id)

    @patch("/{content_id:str}", operation_id=_operation_id("patchWatchlistItem"), opt=WRITE)
    async def patch_item(
        self,
        owner: NamedDependency[str],
        watchlist: NamedDependency[WatchlistService],
        content_id: PathContentId,
        data: JSONBody[PatchRequest],
    ) -> Item:
        """Change notes, watched or rating of an item; ``null`` clears notes or rating."""
        return await watchlist.update(owner, content_id, data)

    @put("/{content_id:str}", operation_id=_operation_id("replaceWatchlistItem"), opt=WRITE)
    async def replace_item(
        self,
        owner: NamedDependency[str],
        watchlist: NamedDependency[WatchlistService],
        content_id: PathContentId,
        data: JSONBody[ReplaceRequest],
    ) -> Item:
        """Replace notes, watched and rating of an item (an omitted field is cleared)."""
        return await watchlist.replace(owner, content_id, data)

    @delete(
        "/{content_id:str}",
        operation_id=_operation_id("removeFromWatchlist"),
        status_code=HTTP_204_NO_CONTENT,
        opt=WRITE,
    )
    async def remove(
        self,
        owner: NamedDependency[str],
        watchlist: NamedDependency[WatchlistService],
        content_id: PathContentId,
    ) -> None:
        """Remove a title; 404 ``not-in-list`` when it is not there."""
        await watchlist.remove(owner, content_id)


class MyWatchlistController(_WatchlistRoutes):
    """The caller's own list (the token's ``sub``)."""

    path = "/v1/watchlist"
    dependencies = {"owner": Provide(provide_own_user)}


class UserWatchlistController(_WatchlistRoutes):
    """Another user's list, for service tokens with ``watchlist:read:any`` / ``watchlist:write:any``."""

    path = "/v1/users/{user_id:str}/watchlist"
    tags = ["My List (service access)"]
    dependencies = {"owner": Provide(provide_path_user)}
