"""List routes: ``/v1/watchlist`` for the caller, ``/v1/users/{userId}/watchlist`` for services."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Final, cast
from urllib.parse import parse_qsl, urlencode

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency, Provide
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT, HTTP_304_NOT_MODIFIED
from litestar.types import Scope

from watchlist_service.errors import (
    AlreadyInList,
    DatabaseUnavailable,
    Forbidden,
    InvalidRequest,
    ListFull,
    NotInList,
    PreconditionFailed,
    PreconditionRequired,
    ResyncRequired,
    UnknownContent,
)
from watchlist_service.openapi import docs, header, layer_errors
from watchlist_service.routes import Answer, RateClass, declared, facts, prefetched
from watchlist_service.security import (
    SCOPE_READ_ANY,
    SUBJECT_PATTERN,
    Principal,
    require_access,
    require_scope,
)
from watchlist_service.watchlist import examples
from watchlist_service.watchlist.schemas import (
    CONTENT_ID_RE,
    WATCHERS_MAX,
    AddRequest,
    BatchRequest,
    BatchResult,
    Changes,
    ContainsRequest,
    ContentType,
    IfMatch,
    Item,
    ListView,
    Page,
    PatchRequest,
    ReorderRequest,
    ReorderResult,
    ReplaceRequest,
    SortOrder,
    Stats,
    Watchers,
    parse_if_match,
)
from watchlist_service.watchlist.service import RenderedPage, WatchlistService, page_lookup

if TYPE_CHECKING:
    from watchlist_service.resources import Resources

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
WatchedFilter = Annotated[
    bool | None, QueryParameter(description="only watched (true) or unwatched (false) titles")
]
RatedFilter = Annotated[
    bool | None, QueryParameter(description="only rated (true) or unrated (false) titles")
]
Since = Annotated[int, QueryParameter(ge=0, description="the list version the client has")]
# What the parser takes, for the OpenAPI document only: the parser checks it and names the header in a 400.
IF_MATCH_PATTERN: Final = r'^(\*|\s*(W/)?"[!#-~]*"\s*(,\s*(W/)?"[!#-~]*"\s*)*)$'
IfMatchHeader = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        schema_extra={"pattern": IF_MATCH_PATTERN},
        description='apply only if the list is at this version: "7" (the ETag of a write), a page\'s ETag, '
        'or "*" (the list exists); 412 otherwise',
    ),
]
ReorderIfMatchHeader = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        schema_extra={"pattern": IF_MATCH_PATTERN},
        description='required: the list version the order was read at, "7" (or a page\'s ETag, or "*"); '
        "412 when it moved on, 428 without",
    ),
]


def _operation_id(name: str) -> Any:
    """Operation ids that stay unique although both controllers share these handlers."""

    def create(route_handler: HTTPRouteHandler, http_method: str, path_components: list[str | Any]) -> str:
        return ("user" + name[0].upper() + name[1:]) if "users" in path_components else name

    return create


def _etag(version: int, page: int, limit: int, view: str) -> str:
    return f'W/"{version}-{page}-{limit}-{view}"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip() for tag in if_none_match.split(",")}
    # Weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
    return "*" in candidates or etag in candidates or etag.removeprefix("W/") in candidates


IF_NONE_MATCH: Final = header(
    "If-None-Match", "the `ETag` of a page read before: 304 without a body while the page is unchanged"
)


def _precondition(value: str | None) -> IfMatch | None:
    return None if value is None else parse_if_match(value)


def _version_tag(version: int) -> dict[str, str]:
    """The strong ``ETag`` of a write's answer: the list version after it (what ``If-Match`` takes)."""
    return {"ETag": f'"{version}"'}


WRITE_HEADERS: Final = [
    ResponseHeader(
        name="ETag",
        documentation_only=True,
        description='the list version after the write, e.g. "8": send it as If-Match on the next write',
    ),
]
PAGE_HEADERS: Final = [
    ResponseHeader(
        name="Link",
        documentation_only=True,
        description='RFC 8288 links to the first, previous, next and last page (`rel="first"`, ...), '
        "with the same limit and view (type, sort, watched, rated)",
    ),
    ResponseHeader(
        name="X-Total-Count", documentation_only=True, description="titles in the (filtered) list: `total`"
    ),
    ResponseHeader(name="ETag", documentation_only=True, description="weak tag of this page at this version"),
]


def _view_query(view: ListView) -> dict[str, str]:
    """The query parameters that choose ``view``, as a client would write them."""
    query = {
        "type": view.content_type,
        "sort": None if view.sort is SortOrder.ADDED_DESC else view.sort.value,
    }
    for name, flag in (("watched", view.watched), ("rated", view.rated)):
        query[name] = None if flag is None else ("true" if flag else "false")
    return {name: value for name, value in query.items() if value is not None}


def _pagination_headers(path: str, page: int, limit: int, total: int, view: dict[str, str]) -> dict[str, str]:
    """``Link`` (first, prev, next, last; RFC 8288) and ``X-Total-Count`` for one list page."""
    last = max(1, math.ceil(total / limit))
    query: dict[str, str | int] = {"limit": limit, **view}
    targets = {
        "first": 1,
        "prev": min(page - 1, last) if page > 1 else None,  # past the end: back to the last page
        "next": page + 1 if page < last else None,
        "last": last,
    }
    links = [
        f'<{path}?{urlencode({"page": number, **query})}>; rel="{rel}"'
        for rel, number in targets.items()
        if number is not None
    ]
    return {"Link": ", ".join(links), "X-Total-Count": str(total)}


def _raw_json(body: bytes, headers: dict[str, str], status_code: int = HTTP_200_OK) -> Response[Page]:
    """A response whose body is already encoded (a cached page); typed as ``Page`` for the OpenAPI schema."""
    response = Response(content=body, media_type="application/json", headers=headers, status_code=status_code)
    return cast("Response[Page]", response)


class ListTarget:
    """The list a request acts on: whose it is, and the service that reads and changes it.

    One dependency rather than two: Litestar resolves several dependencies of one level concurrently, in a
    task group of their own, which cost a tenth of a cached page's time.
    """

    __slots__ = ("owner", "service")

    def __init__(self, owner: str, service: WatchlistService) -> None:
        self.owner = owner
        self.service = service


def provide_own_list(request: AppRequest, watchlist: NamedDependency[WatchlistService]) -> ListTarget:
    """``/v1/watchlist``: the list of the token's subject."""
    return ListTarget(request.user.sub, watchlist)


def provide_path_list(
    request: AppRequest,
    watchlist: NamedDependency[WatchlistService],
    user_id: Annotated[
        str, PathParameter(pattern=SUBJECT_PATTERN, description="a user id (a token subject)")
    ],
) -> ListTarget:
    """``/v1/users/{userId}/watchlist``: the path's user's list, if the token may act for them."""
    route = declared(request.route_handler.opt)
    require_access(request.user, user_id, write=route is None or route.write)
    return ListTarget(user_id, watchlist)


def _page_query(scope: Scope) -> tuple[int, int, ListView] | None:
    """The page, limit and view a ``GET`` list request asks for, read from its query string as the handler
    would. Anything unusual returns ``None``: the handler then validates the query as always."""
    page, limit, sort = 1, 10, SortOrder.ADDED_DESC
    content_type: ContentType | None = None
    flags: dict[str, bool | None] = {"watched": None, "rated": None}
    seen: set[str] = set()
    try:
        for name, value in parse_qsl(scope["query_string"].decode("latin-1"), strict_parsing=False):
            if name in seen:
                return None
            seen.add(name)
            if name in ("page", "limit"):
                if not (value.isascii() and value.isdigit()):
                    return None
                if name == "page":
                    page = int(value)
                else:
                    limit = int(value)
            elif name == "type":
                if value not in ("movie", "tv"):
                    return None
                content_type = cast("ContentType", value)
            elif name == "sort":
                sort = SortOrder(value)
            elif name in flags:
                if value not in ("true", "false"):
                    return None
                flags[name] = value == "true"
    except ValueError:
        return None
    if not (1 <= page <= 100_000 and 1 <= limit <= 100):
        return None
    return (
        page,
        limit,
        ListView(content_type=content_type, sort=sort, watched=flags["watched"], rated=flags["rated"]),
    )


def _page_prefetch(scope: Scope, owner: str) -> list[str] | None:
    """The cache keys of the page a ``GET`` list request asks for (the rate-limit call reads them along)."""
    query = _page_query(scope)
    return None if query is None else page_lookup(owner, *query)


def _page_answer(
    path: str, page: int, limit: int, view: ListView, rendered: RenderedPage, if_none_match: str | None
) -> Answer:
    """A list page's answer: 200 with the page, or 304 when ``If-None-Match`` names its ``ETag``."""
    query = _view_query(view)
    etag = _etag(rendered.version, page, limit, "&".join(f"{k}={v}" for k, v in query.items()) or "all")
    headers = {
        "ETag": etag,
        "Cache-Control": "private, no-cache",
        **_pagination_headers(path, page, limit, rendered.total, query),
    }
    if _matches(if_none_match, etag):
        return Answer(HTTP_304_NOT_MODIFIED, headers, b"")
    return Answer(HTTP_200_OK, headers, rendered.body)


def _answer_prefetched(scope: Scope, read: Mapping[str, bytes | None], resources: Resources) -> Answer | None:
    """The answer to a list page read by the caller for their own list, when the rate-limit call found the
    page in the cache: without the handler, its dependencies and Litestar's response (docs/performance.md,
    "The request path"). ``None`` (the handler answers) for anything else."""
    if scope["type"] != ScopeType.HTTP or scope["method"] != "GET" or scope["path_params"]:
        return None
    query = _page_query(scope)
    if query is None:
        return None
    page, limit, view = query
    rendered = resources.watchlist.prefetched_page(
        scope["user"].sub, page=page, limit=limit, view=view, prefetched=read
    )
    if rendered is None:
        return None
    if_none_match = None
    for key, value in scope["headers"]:
        if key == b"if-none-match":
            if_none_match = value.decode("latin-1")
            break
    return _page_answer(
        scope.get("root_path", "") + scope["path"], page, limit, view, rendered, if_none_match
    )


class _WatchlistRoutes(Controller):
    """The list operations; subclasses choose whose list they act on."""

    tags = ["My List"]

    @get(
        "/",
        operation_id=_operation_id("listWatchlist"),
        summary="Read a page of the list",
        description="One page of the list, newest first by default (`sort`), optionally only movies or TV "
        "shows (`type`), watched or unwatched (`watched`), rated or unrated (`rated`). A page past the end "
        "is 200 with no items. `Link` names the first, previous, next and last page of the same view; "
        "`ETag` is the page at this list version: send it back as `If-None-Match` for a 304 without body.",
        opt=facts(
            RateClass.READS, prefetch=_page_prefetch, answer=_answer_prefetched, errors=(DatabaseUnavailable,)
        )
        | docs(response=examples.PAGE, headers=[IF_NONE_MATCH]),
        response_headers=PAGE_HEADERS,
        responses={
            HTTP_304_NOT_MODIFIED: ResponseSpec(
                None, description="Not modified: the page's `ETag` matches `If-None-Match`"
            )
        },
    )
    async def list_page(
        self,
        request: AppRequest,
        target: NamedDependency[ListTarget],
        page: PageNumber = 1,
        limit: PageLimit = 10,
        type: TypeFilter = None,  # the public query parameter is called "type"
        sort: Sort = SortOrder.ADDED_DESC,
        watched: WatchedFilter = None,
        rated: RatedFilter = None,
    ) -> Response[Page]:
        """One page of the list, newest first by default; supports ETag / If-None-Match."""
        view = ListView(content_type=type, sort=sort, watched=watched, rated=rated)
        rendered = await target.service.page(
            target.owner,
            page=page,
            limit=limit,
            view=view,
            prefetched=prefetched(request.scope),
        )
        answer = _page_answer(
            request.url.path, page, limit, view, rendered, request.headers.get("if-none-match")
        )
        return _raw_json(answer.body, answer.headers, status_code=answer.status)

    @post(
        "/",
        operation_id=_operation_id("addToWatchlist"),
        summary="Add a title to the list",
        description="Adds a movie or TV show at the top of the list, with its title, poster and release date "
        "from TMDb (`metadataPending` while TMDb cannot say, filled in later). 201 with the item and its "
        "`Location`; 409 `already-in-list` carries the stored item; 409 `list-full` past the cap; 422 "
        "`unknown-content` when TMDb says the title does not exist. Send an `Idempotency-Key` to retry "
        "safely.",
        status_code=HTTP_201_CREATED,
        response_description="The item as stored",
        opt=facts(
            RateClass.WRITES,
            write=True,
            idempotent=True,
            errors=(PreconditionFailed, AlreadyInList, ListFull, UnknownContent, DatabaseUnavailable),
        )
        | docs(
            request=examples.ADD_REQUEST,
            response=examples.ITEM,
            problem_extra={AlreadyInList: examples.ALREADY_IN_LIST_EXTRA},
        ),
        response_headers=WRITE_HEADERS,
    )
    async def add(
        self,
        request: AppRequest,
        target: NamedDependency[ListTarget],
        data: JSONBody[AddRequest],
        if_match: IfMatchHeader = None,
    ) -> Response[Item]:
        """Add a title; 409 ``already-in-list`` with the stored item when it is there already."""
        item, version = await target.service.add(target.owner, data, if_match=_precondition(if_match))
        location = request.url.path.rstrip("/") + "/" + item.content_id
        headers = {"Location": location, **_version_tag(version)}
        return Response(content=item, status_code=HTTP_201_CREATED, headers=headers)

    @post(
        "/contains",
        operation_id=_operation_id("watchlistContains"),
        summary="Check which titles are in the list",
        description="For up to 100 content ids, whether each is in the list (for badges on catalog "
        "screens): one answer keyed by content id. Reads only, despite POST (the ids are a body).",
        status_code=HTTP_200_OK,
        opt=facts(RateClass.READS, errors=(DatabaseUnavailable,))
        | docs(request=examples.CONTAINS_REQUEST, response=examples.CONTAINS_ANSWER),
    )
    async def contains(
        self,
        target: NamedDependency[ListTarget],
        data: JSONBody[ContainsRequest],
    ) -> dict[str, bool]:
        """For up to 100 titles, whether each is in the list."""
        return await target.service.contains(target.owner, data.content_ids)

    @post(
        "/batch",
        operation_id=_operation_id("batchWatchlist"),
        summary="Add and remove titles in one call",
        description="Up to 100 adds and removes in all (import, sync): adds first, then removes, each one "
        "atomic on its own. The answer says what each did (`added`, `existing`, `removed`, `notFound`, "
        "`invalid`, `unknown`, `full`) and the list's version after the batch. Send an `Idempotency-Key` "
        "to retry safely.",
        status_code=HTTP_200_OK,
        opt=facts(
            RateClass.WRITES,
            write=True,
            idempotent=True,
            errors=(
                PreconditionFailed,
                DatabaseUnavailable,
            ),
        )
        | docs(request=examples.BATCH_REQUEST, response=examples.BATCH_RESULT),
        response_headers=WRITE_HEADERS,
    )
    async def batch(
        self,
        target: NamedDependency[ListTarget],
        data: JSONBody[BatchRequest],
        if_match: IfMatchHeader = None,
    ) -> Response[BatchResult]:
        """Up to 100 adds and removes in one call; reports what each did."""
        result = await target.service.batch(target.owner, data, if_match=_precondition(if_match))
        return Response(content=result, headers=_version_tag(result.version))

    @put(
        "/order",
        operation_id=_operation_id("reorderWatchlist"),
        summary="Put titles in the user's own order",
        description="Moves the named titles (1..1,000 content ids) to the top of the user's order "
        "(`sort=rank`), in the order given; the others keep their order below them. `If-Match` is required "
        "(428 without, 412 when the list moved on). The answer says how many titles were placed, which ids "
        "were skipped (not in the list) and the version after it.",
        status_code=HTTP_200_OK,
        opt=facts(
            RateClass.WRITES,
            write=True,
            errors=(PreconditionFailed, PreconditionRequired, DatabaseUnavailable),
        )
        | docs(
            request=examples.REORDER_REQUEST,
            response=examples.REORDER_RESULT,
            problem_extra={PreconditionFailed: examples.PRECONDITION_FAILED_EXTRA},
        ),
        response_headers=WRITE_HEADERS,
    )
    async def reorder(
        self,
        target: NamedDependency[ListTarget],
        data: JSONBody[ReorderRequest],
        if_match: ReorderIfMatchHeader = None,
    ) -> Response[ReorderResult]:
        """Move the named titles to the top of the user's order (``sort=rank``); needs If-Match."""
        result = await target.service.reorder(target.owner, data, if_match=_precondition(if_match))
        return Response(content=result, headers=_version_tag(result.version))

    @get(
        "/changes",
        operation_id=_operation_id("watchlistChanges"),
        summary="Read what changed since a version",
        description="Delta sync for apps that keep a copy: the latest state of each title changed after "
        "list version `since` (`removed` entries are tombstones) and the version now. 410 "
        "`resync-required` (with the list's `version`) when the feed no longer reaches back to `since`, "
        "or `since` is ahead of the list: read the list again from page 1.",
        opt=facts(RateClass.READS, errors=(ResyncRequired, DatabaseUnavailable))
        | docs(response=examples.CHANGES, problem_extra={ResyncRequired: examples.RESYNC_EXTRA}),
    )
    async def changes(self, target: NamedDependency[ListTarget], since: Since) -> Changes:
        """What changed since a version (latest state per title, tombstones); 410 when too old."""
        return await target.service.changes(target.owner, since)

    @get(
        "/stats",
        operation_id=_operation_id("watchlistStats"),
        summary="Count the list",
        description="Totals of the list: titles, movies, TV shows, watched, unwatched, rated, the average "
        "rating, and the list version they were counted at.",
        opt=facts(RateClass.READS, errors=(DatabaseUnavailable,)) | docs(response=examples.STATS),
    )
    async def stats(self, target: NamedDependency[ListTarget]) -> Stats:
        """Totals by type, watched state and rating."""
        return await target.service.stats(target.owner)

    @get(
        "/{content_id:str}",
        operation_id=_operation_id("getWatchlistItem"),
        summary="Read one item of the list",
        description="Whether a title is in the list, with its notes, watched state and rating: 200 with "
        "the item, 404 `not-in-list` when it is not there.",
        opt=facts(RateClass.READS, errors=(NotInList, DatabaseUnavailable)) | docs(response=examples.ITEM),
    )
    async def get_item(
        self,
        target: NamedDependency[ListTarget],
        content_id: PathContentId,
    ) -> Item:
        """One item of the list; 404 ``not-in-list`` when it is not there."""
        return await target.service.get(target.owner, content_id)

    @patch(
        "/{content_id:str}",
        operation_id=_operation_id("patchWatchlistItem"),
        summary="Change some fields of an item",
        description="Changes the fields the body names: `notes`, `watched`, `rating` (1..10); `null` "
        "clears notes or rating, an absent field stays as it is. A patch that changes nothing leaves the "
        "version alone; a patch that names no field is 400.",
        opt=facts(RateClass.WRITES, write=True, errors=(PreconditionFailed, NotInList, DatabaseUnavailable))
        | docs(request=examples.PATCH_REQUEST, response=examples.WATCHED_ITEM),
        response_headers=WRITE_HEADERS,
    )
    async def patch_item(
        self,
        target: NamedDependency[ListTarget],
        content_id: PathContentId,
        data: JSONBody[PatchRequest],
        if_match: IfMatchHeader = None,
    ) -> Response[Item]:
        """Change notes, watched or rating of an item; ``null`` clears notes or rating."""
        item, version = await target.service.update(
            target.owner, content_id, data, if_match=_precondition(if_match)
        )
        return Response(content=item, headers=_version_tag(version))

    @put(
        "/{content_id:str}",
        operation_id=_operation_id("replaceWatchlistItem"),
        summary="Replace the fields of an item",
        description="Sets `notes`, `watched` and `rating` of an item all at once; an omitted field is "
        "cleared (no notes, not watched, no rating).",
        opt=facts(RateClass.WRITES, write=True, errors=(PreconditionFailed, NotInList, DatabaseUnavailable))
        | docs(request=examples.REPLACE_REQUEST, response=examples.WATCHED_ITEM),
        response_headers=WRITE_HEADERS,
    )
    async def replace_item(
        self,
        target: NamedDependency[ListTarget],
        content_id: PathContentId,
        data: JSONBody[ReplaceRequest],
        if_match: IfMatchHeader = None,
    ) -> Response[Item]:
        """Replace notes, watched and rating of an item (an omitted field is cleared)."""
        item, version = await target.service.replace(
            target.owner, content_id, data, if_match=_precondition(if_match)
        )
        return Response(content=item, headers=_version_tag(version))

    @delete(
        "/{content_id:str}",
        operation_id=_operation_id("removeFromWatchlist"),
        summary="Remove a title from the list",
        description="Removes the title: 204 without a body, 404 `not-in-list` when it is not there (a "
        "retried remove that already succeeded answers 404 too).",
        status_code=HTTP_204_NO_CONTENT,
        opt=facts(RateClass.WRITES, write=True, errors=(PreconditionFailed, NotInList, DatabaseUnavailable)),
        # Documented without a body: Litestar would describe Response[None] as JSON `null`.
        responses={
            HTTP_204_NO_CONTENT: ResponseSpec(
                data_container=None, description='Removed; `ETag` is the list version after it, e.g. "8"'
            )
        },
    )
    async def remove(
        self,
        target: NamedDependency[ListTarget],
        content_id: PathContentId,
        if_match: IfMatchHeader = None,
    ) -> Response[None]:
        """Remove a title; 404 ``not-in-list`` when it is not there."""
        version = await target.service.remove(target.owner, content_id, if_match=_precondition(if_match))
        return Response(content=None, status_code=HTTP_204_NO_CONTENT, headers=_version_tag(version))


class MyWatchlistController(_WatchlistRoutes):
    """The caller's own list (the token's ``sub``)."""

    path = "/v1/watchlist"
    dependencies = {"target": Provide(provide_own_list, sync_to_thread=False)}


class UserWatchlistController(_WatchlistRoutes):
    """Another user's list, for service tokens with ``watchlist:read:any`` / ``watchlist:write:any``."""

    path = "/v1/users/{user_id:str}/watchlist"
    tags = ["My List (service access)"]
    # provide_path_list: 403 unless the token is the user's own or has the scope (docs/design.md §1).
    opt = layer_errors(Forbidden)
    dependencies = {"target": Provide(provide_path_list, sync_to_thread=False)}


WatchersCount = Annotated[int, QueryParameter(ge=1, le=WATCHERS_MAX, description="user ids per page")]
WatchersCursor = Annotated[
    str | None,
    QueryParameter(max_length=512, description="`nextCursor` of the previous page; absent for the first"),
]


class TitleWatchersController(Controller):
    """Across lists, for service tokens with ``watchlist:read:any``: who holds a title."""

    path = "/v1/titles"
    tags = ["Titles (service access)"]

    @get(
        "/{content_id:str}/watchers",
        operation_id="listTitleWatchers",
        summary="List the users who hold a title",
        description="The ids of the users whose list holds the title, ascending, `count` at a time; "
        "`nextCursor` continues the walk (keyset: a user who holds the title throughout is answered "
        "once). Needs a token with `watchlist:read:any` (403 otherwise).",
        opt=facts(RateClass.READS, errors=(Forbidden, InvalidRequest, DatabaseUnavailable)),
    )
    async def watchers(
        self,
        request: AppRequest,
        watchlist: NamedDependency[WatchlistService],
        content_id: PathContentId,
        cursor: WatchersCursor = None,
        count: WatchersCount = 100,
    ) -> Watchers:
        """The user ids whose list holds the title, ascending, cursor-paginated; needs watchlist:read:any."""
        require_scope(request.user, SCOPE_READ_ANY)
        return await watchlist.watchers(content_id, cursor=cursor, count=count)
