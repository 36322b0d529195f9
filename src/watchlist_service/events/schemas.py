"""The event contract: a CloudEvents 1.0 JSON event per real list change (docs/events.schema.json)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from watchlist_service.watchlist.schemas import Item

SPEC_VERSION: Final = "1.0"
TYPE_PREFIX: Final = "com.example.watchlist.item."
CONTENT_TYPE: Final = "application/json"
FIELD: Final = "event"  # the one field of a stream entry: the event's JSON


class ChangeData(msgspec.Struct, rename="camel", kw_only=True):
    """``data`` of an event: the change record and the item it names."""

    user_id: str
    version: int
    op: str
    content_id: str | None
    at: datetime
    item: Item | None
    item_version: int | None
    record: dict[str, Any]  # the stored change record as it is (ops added later may carry more fields)


class CloudEvent(msgspec.Struct, kw_only=True):
    """A CloudEvents 1.0 event in structured JSON mode."""

    specversion: str = SPEC_VERSION
    id: str
    source: str
    type: str
    subject: str
    time: datetime
    datacontenttype: str = CONTENT_TYPE
    data: ChangeData


def event_id(user_id: str, version: int) -> str:
    """Unique and stable: the same change published twice carries the same id (consumers dedupe by it)."""
    return f"{user_id}:{version}"


def event_type(op: str) -> str:
    """``com.example.watchlist.item.<op>`` for every change op the list records (added, updated, ...)."""
    return TYPE_PREFIX + op


def _json_safe(record: Mapping[str, Any]) -> dict[str, Any]:
    safe = msgspec.to_builtins(dict(record))  # as it reads back: datetimes as RFC 3339 strings
    assert isinstance(safe, dict)
    return safe


def cloud_event(
    *,
    source: str,
    user_id: str,
    version: int,
    record: Mapping[str, Any],
    item: Item | None,
    item_version: int | None,
) -> CloudEvent:
    """The event of one change record (its time is the record's: a re-publish is the same event)."""
    op = str(record.get("op", "changed"))
    at = record.get("at")
    when = at if isinstance(at, datetime) else datetime.fromtimestamp(0, UTC)
    content_id = record.get("contentId")
    return CloudEvent(
        id=event_id(user_id, version),
        source=source,
        type=event_type(op),
        subject=user_id,
        time=when,
        data=ChangeData(
            user_id=user_id,
            version=version,
            op=op,
            content_id=content_id if isinstance(content_id, str) else None,
            at=when,
            item=item,
            item_version=item_version,
            record=_json_safe(record),
        ),
    )


_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final = msgspec.json.Decoder(CloudEvent)


def encode(event: CloudEvent) -> bytes:
    """The event's JSON."""
    return _ENCODER.encode(event)


def decode(raw: bytes) -> CloudEvent:
    """An event read back from the stream."""
    return _DECODER.decode(raw)
