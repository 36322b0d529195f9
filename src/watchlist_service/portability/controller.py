"""Export, import and erase routes (docs/design.md §11): ``/v1/watchlist/...`` for the caller and
``/v1/users/{userId}/watchlist/...`` for services, sharing their handlers as the list routes do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency, Provide
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import PathParameter, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from watchlist_service.errors import (
    DatabaseUnavailable,
    EraseIncomplete,
    Forbidden,
    ImportInProgress,
    ImportNotFound,
    ImportTooLarge,
    ImportTooManyRows,
    InvalidImportFile,
    UnsupportedImportFormat,
)
from watchlist_service.openapi import layer_errors
from watchlist_service.portability.erase import EraseService
from watchlist_service.portability.export import ExportService
from watchlist_service.portability.imports import ImportJob, ImportService
from watchlist_service.routes import RateClass, declared, facts
from watchlist_service.security import SCOPE_ERASE, SUBJECT_PATTERN, Principal, require_access, require_scope
from watchlist_service.watchlist.controller import UserWatchlistController
from watchlist_service.watchlist.portability import ImportFormat, export_csv_chunks, export_json_chunks

AppRequest = Request[Principal, str, Any]
JOB_ID_PATTERN = r"^[A-Za-z0-9_-]{22}$"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


class ExportFormat(StrEnum):
    """What ``GET .../export`` answers in."""

    JSON = "json"
    CSV = "csv"


@dataclass
class _ExportOperation(Operation):
    """The export's 200 in both of its media types (the handler streams bytes, which Litestar cannot type)."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse):
            ok.description = "every item of the list, as JSON (our export envelope) or CSV"
            ok.content = {
                "application/json": OpenAPIMediaType(schema=Schema(type=OpenAPIType.OBJECT)),
                "text/csv": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
            }


@dataclass
class _ImportOperation(Operation):
    """The import's body: the file itself, read by the handler (it applies its own size limit)."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            description="our export (JSON or CSV), a Trakt watchlist (JSON) or a Letterboxd watchlist (CSV)",
            required=True,
            content={
                "text/csv": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
                "application/json": OpenAPIMediaType(schema=Schema()),
            },
        )


def _operation_id(name: str) -> Any:
    def create(route_handler: HTTPRouteHandler, http_method: str, path_components: list[str | Any]) -> str:
        return ("user" + name[0].upper() + name[1:]) if "users" in path_components else name

    return create


def provide_own_owner(request: AppRequest) -> str:
    """``/v1/watchlist/...``: the token's subject."""
    return request.user.sub


def provide_path_owner(
    request: AppRequest,
    user_id: Annotated[
        str, PathParameter(pattern=SUBJECT_PATTERN, description="a user id (a token subject)")
    ],
) -> str:
    """``/v1/users/{userId}/watchlist/...``: the path's user, if the token may act for them."""
    route = declared(request.route_handler.opt)
    require_access(request.user, user_id, write=route is None or route.write)
    return user_id


def _wants_csv(request: AppRequest, chosen: ExportFormat | None) -> bool:
    if chosen is not None:
        return chosen is ExportFormat.CSV
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


def _upload_media_type(request: AppRequest) -> Literal["json", "csv"]:
    raw = request.headers.get("content-type", "")
    media, _, params = raw.partition(";")
    media = media.strip().lower()
    charset = next(
        (
            value.strip().strip('"').lower()
            for name, _, value in (p.partition("=") for p in params.split(";"))
            if name.strip().lower() == "charset"
        ),
        None,
    )
    if charset not in (None, "utf-8", "utf8"):
        raise InvalidImportFile(f"Files are read as UTF-8, not {charset}", extra={"errors": []})
    if media == "application/json":
        return "json"
    if media == "text/csv":
        return "csv"
    raise UnsupportedImportFormat("Send the file as text/csv or application/json")


async def _read_limited(request: AppRequest, max_bytes: int) -> bytes:
    """The request body, refused with 413 as soon as it is over ``max_bytes``."""
    announced = request.headers.get("content-length")
    if announced is not None and announced.isdigit() and int(announced) > max_bytes:
        raise ImportTooLarge(f"Files of at most {max_bytes} bytes can be imported")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise ImportTooLarge(f"Files of at most {max_bytes} bytes can be imported")
        chunks.append(chunk)
    return b"".join(chunks)


class _PortabilityRoutes(Controller):
    """Export and import; subclasses choose whose list."""

    tags = ["My List: export and import"]

    @get(
        "/export",
        operation_id=_operation_id("exportWatchlist"),
        summary="Export the list",
        description="Every item with all its fields, at one list version (`X-List-Version`), streamed: JSON "
        "by default, CSV with `format=csv` or `Accept: text/csv` (cells that would start a spreadsheet "
        "formula are escaped). The file can be imported again as it is.",
        operation_class=_ExportOperation,
        opt=facts(RateClass.READS, errors=(DatabaseUnavailable,)),
        response_headers=[
            ResponseHeader(
                name="X-List-Version", documentation_only=True, description="the list version exported"
            )
        ],
    )
    async def export(
        self,
        request: AppRequest,
        owner: NamedDependency[str],
        exporter: NamedDependency[ExportService],
        format: Annotated[  # the public query parameter is called "format"
            ExportFormat | None, QueryParameter(description="json (default) or csv; else the Accept header")
        ] = None,
    ) -> Stream:
        """Every item with all its fields, as JSON or CSV, at one list version (re-importable)."""
        snapshot = await exporter.snapshot(owner)
        items, version = snapshot.items, snapshot.version
        now = datetime.now(UTC)
        stamp = now.strftime("%Y%m%d")
        headers = {"X-List-Version": str(version), "Cache-Control": "private, no-store"}
        if _wants_csv(request, format):
            headers["Content-Disposition"] = f'attachment; filename="watchlist-{stamp}.csv"'
            return Stream(export_csv_chunks(items), media_type=CSV_MEDIA_TYPE, headers=headers)
        headers["Content-Disposition"] = f'attachment; filename="watchlist-{stamp}.json"'
        return Stream(
            export_json_chunks(items, version=version, at=now), media_type="application/json", headers=headers
        )

    @post(
        "/imports",
        operation_id=_operation_id("importWatchlist"),
        summary="Import a file into the list",
        description="Our own export (JSON or CSV), a Trakt watchlist export (JSON) or a Letterboxd "
        "watchlist (CSV), detected or named by `format`. 202 with the job and its `Location`; the titles are "
        "added in the background, through the same guarded add as single adds. A bad file is refused whole "
        "(400, 413, 415, 422) and nothing is imported; 409 while another import of the list runs.",
        operation_class=_ImportOperation,
        status_code=HTTP_202_ACCEPTED,
        opt=facts(
            RateClass.WRITES,
            write=True,
            errors=(
                InvalidImportFile,
                ImportInProgress,
                ImportTooLarge,
                UnsupportedImportFormat,
                ImportTooManyRows,
                DatabaseUnavailable,
            ),
        ),
        request_max_body_size=None,  # the import's own limit (WATCHLIST_IMPORT_MAX_BYTES), checked as read
        response_headers=[
            ResponseHeader(name="Location", documentation_only=True, description="where to follow the import")
        ],
    )
    async def start_import(
        self,
        request: AppRequest,
        owner: NamedDependency[str],
        imports: NamedDependency[ImportService],
        format: Annotated[
            ImportFormat | None,
            QueryParameter(description="ours, trakt or letterboxd; detected from the file when absent"),
        ] = None,
    ) -> Response[ImportJob]:
        """Import a file (our export, Trakt JSON, Letterboxd CSV) in the background; follow ``Location``."""
        media_type = _upload_media_type(request)
        body = await _read_limited(request, imports.max_bytes)
        job = await imports.submit(owner, body, media_type=media_type, named=format)
        location = request.url.path.rstrip("/") + "/" + job.id
        return Response(content=job, status_code=HTTP_202_ACCEPTED, headers={"Location": location})

    @get(
        "/imports/{job_id:str}",
        operation_id=_operation_id("getWatchlistImport"),
        summary="Follow an import",
        description="An import's state and progress (`total`, `done`); once finished, what it did with each "
        "row: `added`, `existing`, `unmatched`, `ambiguous` (with the candidates) or `full`.",
        opt=facts(RateClass.READS, errors=(ImportNotFound, DatabaseUnavailable)),
    )
    async def import_status(
        self,
        owner: NamedDependency[str],
        imports: NamedDependency[ImportService],
        job_id: Annotated[str, PathParameter(pattern=JOB_ID_PATTERN, description="the import's id")],
    ) -> ImportJob:
        """An import's progress; once finished, what it did with each row."""
        return await imports.status(owner, job_id)


class MyPortabilityController(_PortabilityRoutes):
    """The caller's own list."""

    path = "/v1/watchlist"
    dependencies = {"owner": Provide(provide_own_owner, sync_to_thread=False)}


class UserPortabilityController(_PortabilityRoutes):
    """Another user's list (``watchlist:read:any`` / ``watchlist:write:any``)."""

    path = "/v1/users/{user_id:str}/watchlist"
    tags = ["My List (service access)"]
    # provide_path_owner: 403 unless the token is the user's own or has the scope (docs/design.md §1).
    opt = layer_errors(Forbidden)
    dependencies = {"owner": Provide(provide_path_owner, sync_to_thread=False)}


class ErasableUserWatchlistController(UserWatchlistController):
    """The list routes for services, and erasing the whole list.

    A subclass, not a controller of its own: Litestar cannot merge two controllers' handlers on the same
    path (each would bring its own OPTIONS handler).
    """

    @delete(
        "/",
        operation_id="eraseWatchlist",
        summary="Erase a user's list",
        description="For services with the scope `watchlist:erase`: removes the user's list and everything "
        "derived from it (cached pages, idempotency records, socket tickets, import jobs) and closes the "
        "user's sockets (4410). 204 also when there was nothing to erase; 503 `erase-incomplete` when Redis "
        "could not be cleaned (erasing again finishes it).",
        status_code=HTTP_204_NO_CONTENT,
        opt=facts(RateClass.WRITES, write=True, errors=(EraseIncomplete, DatabaseUnavailable)),
    )
    async def erase(
        self,
        request: AppRequest,
        eraser: NamedDependency[EraseService],
        user_id: Annotated[
            str, PathParameter(pattern=SUBJECT_PATTERN, description="a user id (a token subject)")
        ],
    ) -> None:
        """Erase the user's list and everything derived from it (scope ``watchlist:erase``); idempotent."""
        require_scope(request.user, SCOPE_ERASE)
        await eraser.erase(user_id)
