"""The socket's wire format: op messages in, replies and events out (JSON text frames, camelCase keys).

Op arguments are validated by the very Structs the REST endpoints use (``AddRequest``, ``PatchRequest``), so a
message is accepted exactly when the equivalent REST body would be.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from watchlist_service.errors import BodyTooLarge, InvalidRequest
from watchlist_service.watchlist.schemas import (
    AddRequest,
    Change,
    ContentId,
    ContentType,
    IfMatch,
    ListEvent,
    PatchRequest,
    ReorderRequest,
    SortOrder,
    if_match_error,
    parse_if_match,
)

RequestId = str | int
REQUEST_ID_MAX = 128
_encode = msgspec.json.Encoder().encode
_PATH_RE = re.compile(r"`\$\.?([^`]*)`")


class RemoveArgs(Struct, rename="camel", forbid_unknown_fields=True):
    """``{"op": "remove", "contentId"}``."""

    content_id: ContentId


class ItemArgs(Struct, rename="camel"):
    """The item an ``update`` acts on; its other fields are a ``PatchRequest``."""

    content_id: ContentId


class ListArgs(Struct, rename="camel", forbid_unknown_fields=True):
    """``{"op": "list", "page"?, "limit"?, "type"?, "sort"?, "watched"?, "rated"?}``, with the REST query's
    bounds and defaults."""

    page: Annotated[int, Meta(ge=1, le=100_000)] = 1
    limit: Annotated[int, Meta(ge=1, le=100)] = 10
    type: ContentType | None = None
    sort: SortOrder = SortOrder.ADDED_DESC
    watched: bool | None = None
    rated: bool | None = None


class AddOp(Struct, frozen=True):
    request: AddRequest
    if_match: IfMatch | None = None


class RemoveOp(Struct, frozen=True):
    content_id: str
    if_match: IfMatch | None = None


class UpdateOp(Struct, frozen=True):
    content_id: str
    patch: PatchRequest
    if_match: IfMatch | None = None


class ReorderOp(Struct, frozen=True):
    request: ReorderRequest
    if_match: IfMatch | None = None


class ListOp(Struct, frozen=True):
    args: ListArgs


Op = AddOp | RemoveOp | UpdateOp | ReorderOp | ListOp
OP_NAMES = ("add", "remove", "update", "reorder", "list")
WRITE_OPS = ("add", "remove", "update", "reorder")


class Reply(Struct, rename="camel"):
    """The answer to one op: the REST status and body (``null`` for 204), and after a successful write the
    list's new ``version`` (what REST sends as the ``ETag``)."""

    request_id: RequestId | None
    status: int
    body: msgspec.Raw
    version: int | UnsetType = UNSET


class ResyncMessage(Struct, tag_field="event", tag="resync-required"):
    """The delta feed does not reach back to the client's ``since``: reload the list, then apply events."""

    version: int


class Ping(Struct, tag_field="event", tag="ping"):
    """Heartbeat."""


class EventHead(Struct):
    """The only part of a pushed event the server reads back: its version."""

    version: int


PING_MESSAGE = _encode(Ping())
decode_head = msgspec.json.Decoder(EventHead).decode


def resync_message(version: int) -> bytes:
    """``{"event": "resync-required", "version": N}``."""
    return _encode(ResyncMessage(version=version))


def reply_message(
    request_id: RequestId | None, status: int, body: bytes, version: int | UnsetType = UNSET
) -> bytes:
    """``{"requestId", "status", "body", "version"?}`` around an already encoded body."""
    return _encode(Reply(request_id=request_id, status=status, body=msgspec.Raw(body), version=version))


def change_event(change: Change) -> ListEvent | None:
    """A delta-feed change as the event a live socket would have received for it."""
    if change.op == "reordered":
        return ListEvent(event="list.reordered", version=change.version)
    if change.op == "removed":
        return ListEvent(event="item.removed", version=change.version, content_id=change.content_id)
    if change.item is None:  # the feed only lacks the item when a later removal also is in the feed
        return None
    kind: Literal["item.added", "item.updated"] = "item.added" if change.op == "added" else "item.updated"
    return ListEvent(event=kind, version=change.version, item=change.item)


def _field_errors(error: msgspec.ValidationError) -> list[dict[str, str]]:
    message = str(error)
    match = _PATH_RE.search(message)
    field = match.group(1) if match and match.group(1) else "message"
    return [{"field": field, "message": message}]


def _convert(args: dict[str, Any], kind: type[Any]) -> Any:
    try:
        return msgspec.convert(args, kind)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"Invalid message: {exc}", extra={"errors": _field_errors(exc)}) from exc


def request_id_of(document: Any) -> RequestId | None:
    """The message's ``requestId`` when it is usable (a string of at most 128 characters or an integer)."""
    if not isinstance(document, dict):
        return None
    value = document.get("requestId")
    if isinstance(value, str) and 0 < len(value) <= REQUEST_ID_MAX:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def decode_document(raw: str | bytes, *, max_bytes: int) -> Any:
    """The JSON document of a message; ``BodyTooLarge`` or ``InvalidRequest`` when there is none."""
    if len(raw) > max_bytes:
        raise BodyTooLarge(f"A message holds at most {max_bytes} bytes")
    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise InvalidRequest("The message is not valid JSON", extra={"errors": []}) from exc


def parse_op(document: Any) -> Op:
    """Validate a decoded message into an ``Op``; ``InvalidRequest`` names the offending field."""
    if not isinstance(document, dict):
        raise InvalidRequest("A message is a JSON object", extra={"errors": []})
    if request_id_of(document) is None:
        raise InvalidRequest(
            "The message needs a requestId",
            extra={
                "errors": [{"field": "requestId", "message": "a string of 1-128 characters or an integer"}]
            },
        )
    name = document.get("op")
    if name not in OP_NAMES:
        raise InvalidRequest(
            "Unknown op",
            extra={"errors": [{"field": "op", "message": f"one of {', '.join(OP_NAMES)}"}]},
        )
    args = {key: value for key, value in document.items() if key not in ("op", "requestId")}
    if_match = _if_match(args.pop("ifMatch", None)) if name in WRITE_OPS else None
    if name == "add":
        return AddOp(request=_convert(args, AddRequest), if_match=if_match)
    if name == "remove":
        return RemoveOp(content_id=_convert(args, RemoveArgs).content_id, if_match=if_match)
    if name == "update":
        item = _convert({"contentId": args.pop("contentId", None)}, ItemArgs)
        return UpdateOp(content_id=item.content_id, patch=_convert(args, PatchRequest), if_match=if_match)
    if name == "reorder":
        return ReorderOp(request=_convert(args, ReorderRequest), if_match=if_match)
    return ListOp(args=_convert(args, ListArgs))


def _if_match(value: object) -> IfMatch | None:
    """An op's ``ifMatch``: a version (``7``), or a string that REST's ``If-Match`` would take."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return IfMatch(versions=frozenset({value}))
    if isinstance(value, str):
        return parse_if_match(value, field="ifMatch")
    raise if_match_error(
        "ifMatch", 'a version (a non-negative integer), "*" or entity tags such as "\\"7\\""'
    )
