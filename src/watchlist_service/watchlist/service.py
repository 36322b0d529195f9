"""The My List use cases: the database is the truth, the page cache is kept exact around every write."""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
from collections.abc import Mapping
from typing import Any, Protocol

import msgspec
from loguru import logger

from watchlist_service.errors import (
    AlreadyInList,
    CatalogUnavailable,
    DatabaseUnavailable,
    InvalidRequest,
    ListFull,
    MovieNotFound,
    NotInList,
    PreconditionRequired,
    ResyncRequired,
    TvNotFound,
    UnknownContent,
)
from watchlist_service.watchlist.cache import Hit, PageCache, lookup_keys, page_key
from watchlist_service.watchlist.repository import WatchlistRepository, utcnow
from watchlist_service.watchlist.schemas import (
    BATCH_MAX,
    CONTENT_ID_RE,
    DEFAULT_VIEW,
    AddRequest,
    BatchRequest,
    BatchResult,
    Change,
    Changes,
    ContentType,
    IfMatch,
    Item,
    ListEvent,
    ListView,
    Page,
    PatchRequest,
    ReorderRequest,
    ReorderResult,
    ReplaceRequest,
    Stats,
    Watchers,
    split_content_id,
)

_encode = msgspec.json.Encoder().encode
LOOKUP_CONCURRENCY = 8
FILL_ATTEMPTS = 4


class _WatchersCursor(msgspec.Struct, frozen=True):
    """Where a walk of a title's watchers stopped: the title and the last user id answered."""

    c: str
    u: str


_decode_cursor = msgspec.json.Decoder(_WatchersCursor).decode


def encode_watchers_cursor(content_id: str, last_user: str) -> str:
    """An opaque cursor (base64url JSON): the walk goes on with the user ids above ``last_user``."""
    return base64.urlsafe_b64encode(_encode(_WatchersCursor(content_id, last_user))).decode().rstrip("=")


def decode_watchers_cursor(content_id: str, cursor: str) -> str:
    """The last user id of a cursor given out for ``content_id``; ``InvalidRequest`` for anything else."""
    try:
        decoded = _decode_cursor(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        decoded = None
    if decoded is None or decoded.c != content_id:
        raise InvalidRequest(
            "The cursor is not one this listing gave out",
            extra={"errors": [{"field": "cursor", "message": "not a cursor of this title's watchers"}]},
        )
    return decoded.u


class RenderedPage(msgspec.Struct, frozen=True):
    """A page as JSON bytes, with the list version it was read at (for the ETag) and the list's total (for
    the pagination headers)."""

    body: bytes
    version: int
    total: int


def page_lookup(user_id: str, page: int, limit: int, view: ListView) -> list[str]:
    """The cache keys reading this page starts with (a route may read them early, with its rate limit)."""
    return lookup_keys(user_id, page_key(user_id, page, limit, view))


class EventSink(Protocol):
    """Where the service announces real changes (the realtime fan-out)."""

    async def publish(self, user_id: str, event: ListEvent) -> None:
        """Deliver ``event`` to the user's connections on every replica; must not raise."""


class TitleMetadata(Protocol):
    """What the list keeps of a title."""

    title: str | None
    poster_path: str | None
    release_date: str | None


class TitleLookup(Protocol):
    """The catalog, as the list sees it."""

    async def lite(self, kind: ContentType, tmdb_id: int, *, timeout_s: float | None = None) -> TitleMetadata:
        """The title's metadata; ``MovieNotFound``/``TvNotFound`` or ``CatalogUnavailable`` otherwise."""
        ...


class WatchlistService:
    """Reads and changes one user's list."""

    def __init__(
        self,
        repository: WatchlistRepository,
        cache: PageCache,
        events: EventSink | None = None,
        *,
        titles: TitleLookup | None = None,
        lookup_timeout_s: float = 1.0,
    ) -> None:
        self._repo = repository
        self._cache = cache
        self._events = events
        self._titles = titles
        self._lookup_timeout_s = lookup_timeout_s
        self._fills: dict[str, asyncio.Task[int]] = {}

    async def _announce(self, user_id: str, event: ListEvent) -> None:
        if self._events is None:
            return
        try:
            await self._events.publish(user_id, event)
        except Exception:  # the write is already acknowledged; a lost event is recovered by `since`
            logger.exception("publishing {} for a list failed", event.event)

    async def page(
        self,
        user_id: str,
        *,
        page: int,
        limit: int,
        view: ListView = DEFAULT_VIEW,
        prefetched: Mapping[str, bytes | None] | None = None,
    ) -> RenderedPage:
        """One page of the list, from the cache when it holds it (``prefetched``: cache keys the request has
        already read, see ``page_lookup``)."""
        key = page_key(user_id, page, limit, view)
        cached = await self._cache.get(user_id, key, prefetched)
        if isinstance(cached, Hit):
            return RenderedPage(body=cached.body, version=cached.version, total=cached.total)
        read = await self._repo.page(user_id, skip=(page - 1) * limit, limit=limit, view=view)
        body = _encode(
            Page(
                items=read.items,
                page=page,
                limit=limit,
                total=read.total,
                total_pages=math.ceil(read.total / limit),
                version=read.version,
            )
        )
        if cached.observed is not None:
            await self._cache.fill(user_id, key, read.version, read.total, body, cached.observed)
        if any(item.metadata_pending for item in read.items):
            self._schedule_fill(user_id)
        return RenderedPage(body=body, version=read.version, total=read.total)

    def prefetched_page(
        self, user_id: str, *, page: int, limit: int, view: ListView, prefetched: Mapping[str, bytes | None]
    ) -> RenderedPage | None:
        """The page from what the request read early, when it is a cache hit there; ``None`` otherwise (then
        ``page`` reads it)."""
        hit = self._cache.prefetched_hit(user_id, page_key(user_id, page, limit, view), prefetched)
        return None if hit is None else RenderedPage(body=hit.body, version=hit.version, total=hit.total)

    async def add(
        self, user_id: str, request: AddRequest, *, if_match: IfMatch | None = None
    ) -> tuple[Item, int]:
        """Add a title; returns it and the new version. ``AlreadyInList`` (with the stored item), ``ListFull``
        or ``PreconditionFailed`` when it cannot be added."""
        content_type, tmdb_id = split_content_id(request.content_id)
        metadata = await self._lookup(content_type, tmdb_id)
        item, version = await self._add(user_id, request, metadata, if_match=if_match)
        await self._cache.invalidate(user_id, version)
        await self._announce(user_id, ListEvent(event="item.added", version=version, item=item))
        return item, version

    async def _add(
        self,
        user_id: str,
        request: AddRequest,
        metadata: TitleMetadata | None,
        *,
        if_match: IfMatch | None = None,
    ) -> tuple[Item, int]:
        content_type, tmdb_id = split_content_id(request.content_id)
        now = utcnow()
        item = Item(
            content_id=request.content_id,
            type=content_type,
            tmdb_id=tmdb_id,
            title=metadata.title if metadata else None,
            poster_path=metadata.poster_path if metadata else None,
            release_date=metadata.release_date if metadata else None,
            metadata_pending=metadata is None and self._titles is not None,
            added_at=now,
            updated_at=now,
            notes=request.notes,
        )
        return item, await self._repo.add(user_id, item, position=request.position, if_match=if_match)

    async def _lookup(self, content_type: ContentType, tmdb_id: int) -> TitleMetadata | None:
        """The title's metadata; ``None`` when TMDb cannot say in time (the add goes on, pending)."""
        if self._titles is None:
            return None
        try:
            return await self._titles.lite(content_type, tmdb_id, timeout_s=self._lookup_timeout_s)
        except (MovieNotFound, TvNotFound):
            raise UnknownContent(f"TMDb has no {content_type} with id {tmdb_id}") from None
        except CatalogUnavailable:
            return None

    async def _lookup_many(self, content_ids: list[str]) -> dict[str, TitleMetadata | UnknownContent | None]:
        """Look titles up a few at a time (the catalog coalesces and rate-limits what reaches TMDb)."""
        limit = asyncio.Semaphore(LOOKUP_CONCURRENCY)

        async def one(content_id: str) -> TitleMetadata | UnknownContent | None:
            async with limit:
                try:
                    return await self._lookup(*split_content_id(content_id))
                except UnknownContent as unknown:
                    return unknown

        found = await asyncio.gather(*(one(content_id) for content_id in content_ids))
        return dict(zip(content_ids, found, strict=True))

    def _schedule_fill(self, user_id: str) -> None:
        if user_id not in self._fills:
            task = asyncio.create_task(self._fill_soon(user_id))
            self._fills[user_id] = task
            task.add_done_callback(lambda _: self._fills.pop(user_id, None))

    async def _fill_soon(self, user_id: str) -> int:
        """Fill now; while TMDb is still down, retry a few times (1, 2, 4 s), then leave it to the sweep."""
        filled = 0
        for attempt in range(FILL_ATTEMPTS):
            try:
                filled += await self.fill_pending(user_id)
                if not await self._repo.pending_items(user_id):
                    break
            except DatabaseUnavailable:
                pass
            await asyncio.sleep(2**attempt)
        return filled

    async def fill_pending(self, user_id: str) -> int:
        """Fill in the metadata of the user's titles added while TMDb was unreachable; returns how many."""
        if self._titles is None:
            return 0
        filled = 0
        for item in await self._repo.pending_items(user_id):
            try:
                metadata = await self._titles.lite(item.type, item.tmdb_id)
                fields: dict[str, Any] = {
                    "title": metadata.title,
                    "poster_path": metadata.poster_path,
                    "release_date": metadata.release_date,
                    "metadata_pending": False,
                }
            except (MovieNotFound, TvNotFound):
                # TMDb now says the title does not exist: keep the user's entry, stop asking.
                logger.warning("{} is unknown to TMDb; its metadata stays empty", item.content_id)
                fields = {"metadata_pending": False}
            except CatalogUnavailable:
                break  # still down: the next read or sweep tries again
            try:
                await self._set_fields(user_id, item.content_id, fields, None)
                filled += 1
            except NotInList:
                continue  # removed in the meantime
        return filled

    async def fill_all_pending(self, batch: int = 100) -> int:
        """One sweep over lists with pending metadata (run periodically by every replica)."""
        filled = 0
        for user_id in await self._repo.users_with_pending(batch):
            try:
                filled += await self.fill_pending(user_id)
            except DatabaseUnavailable:
                break
        return filled

    async def aclose(self) -> None:
        """Stop the background metadata fills."""
        for task in list(self._fills.values()):
            task.cancel()
        await asyncio.gather(*self._fills.values(), return_exceptions=True)

    async def get(self, user_id: str, content_id: str) -> Item:
        """One item of the list, or ``NotInList``."""
        item, _ = await self._repo.get(user_id, content_id)
        return item

    async def update(
        self, user_id: str, content_id: str, patch: PatchRequest, *, if_match: IfMatch | None = None
    ) -> tuple[Item, int]:
        """Change the fields present in ``patch``; returns the item and the version. A patch that changes
        nothing leaves the version alone."""
        fields = {
            name: value
            for name, value in (("notes", patch.notes), ("watched", patch.watched), ("rating", patch.rating))
            if value is not msgspec.UNSET
        }
        if not fields:
            raise InvalidRequest("The patch names no field to change", extra={"errors": []})
        return await self._set_fields(user_id, content_id, fields, if_match)

    async def replace(
        self, user_id: str, content_id: str, request: ReplaceRequest, *, if_match: IfMatch | None = None
    ) -> tuple[Item, int]:
        """Replace all mutable fields of an item; returns it and the version."""
        fields = {"notes": request.notes, "watched": request.watched, "rating": request.rating}
        return await self._set_fields(user_id, content_id, fields, if_match)

    async def _set_fields(
        self, user_id: str, content_id: str, fields: dict[str, Any], if_match: IfMatch | None
    ) -> tuple[Item, int]:
        item, version, changed = await self._repo.update(user_id, content_id, fields, if_match=if_match)
        if changed:
            await self._cache.invalidate(user_id, version)
            await self._announce(user_id, ListEvent(event="item.updated", version=version, item=item))
        return item, version

    async def remove(self, user_id: str, content_id: str, *, if_match: IfMatch | None = None) -> int:
        """Remove a title; returns the new version. ``NotInList`` or ``PreconditionFailed`` otherwise."""
        version = await self._repo.remove(user_id, content_id, if_match=if_match)
        await self._cache.invalidate(user_id, version)
        await self._announce(user_id, ListEvent(event="item.removed", version=version, content_id=content_id))
        return version

    async def reorder(
        self, user_id: str, request: ReorderRequest, *, if_match: IfMatch | None
    ) -> ReorderResult:
        """Move the named titles to the top of the user's order, in the order given (docs/design.md §10);
        the precondition is required (``PreconditionRequired`` without it)."""
        if if_match is None:
            raise PreconditionRequired("A reorder needs If-Match with the list's version")
        placed, version, changed = await self._repo.reorder(user_id, request.content_ids, if_match)
        if changed:
            await self._cache.invalidate(user_id, version)
            await self._announce(user_id, ListEvent(event="list.reordered", version=version))
        in_list = set(placed)
        skipped = [cid for cid in dict.fromkeys(request.content_ids) if cid not in in_list]
        return ReorderResult(updated=len(placed), skipped=skipped, version=version)

    async def contains(self, user_id: str, content_ids: list[str]) -> dict[str, bool]:
        """For each title, whether it is in the list."""
        found = await self._repo.contains(user_id, list(dict.fromkeys(content_ids)))
        return {content_id: content_id in found for content_id in content_ids}

    async def batch(
        self, user_id: str, request: BatchRequest, *, if_match: IfMatch | None = None
    ) -> BatchResult:
        """Apply adds, then removes, one atomic operation each; report what each one did. ``if_match`` is
        checked by the first operation that changes the list, atomically with it (docs/design.md §10)."""
        if len(request.add) + len(request.remove) > BATCH_MAX:
            raise InvalidRequest(f"A batch holds at most {BATCH_MAX} operations", extra={"errors": []})
        result = BatchResult(
            added=[], existing=[], removed=[], not_found=[], invalid=[], unknown=[], full=[], version=0
        )
        events: list[ListEvent] = []
        to_add = [cid for cid in dict.fromkeys(request.add) if CONTENT_ID_RE.match(cid)]
        result.invalid.extend(cid for cid in dict.fromkeys(request.add) if not CONTENT_ID_RE.match(cid))
        looked_up = await self._lookup_many(to_add)
        guard = if_match  # until the first change: a 412 can only come before anything was changed
        try:
            for content_id in to_add:
                metadata = looked_up[content_id]
                if isinstance(metadata, UnknownContent):
                    result.unknown.append(content_id)
                    continue
                try:
                    item, result.version = await self._add(
                        user_id, AddRequest(content_id=content_id), metadata, if_match=guard
                    )
                    guard = None
                    result.added.append(content_id)
                    events.append(ListEvent(event="item.added", version=result.version, item=item))
                except AlreadyInList:
                    result.existing.append(content_id)
                except ListFull:
                    result.full.append(content_id)
            for content_id in dict.fromkeys(request.remove):
                if not CONTENT_ID_RE.match(content_id):
                    result.invalid.append(content_id)
                    continue
                try:
                    result.version = await self._repo.remove(user_id, content_id, if_match=guard)
                    guard = None
                    result.removed.append(content_id)
                    events.append(
                        ListEvent(event="item.removed", version=result.version, content_id=content_id)
                    )
                except NotInList:
                    result.not_found.append(content_id)
        finally:
            # One invalidation for the whole batch, also when it stopped half-way.
            if events:
                await self._cache.invalidate(user_id, result.version)
            for event in events:
                await self._announce(user_id, event)
        if guard is not None:  # nothing changed: the precondition is checked all the same
            result.version = await self._repo.check(user_id, guard)
        elif not (result.added or result.removed):
            result.version = await self._repo.version(user_id)
        return result

    async def changes(self, user_id: str, since: int) -> Changes:
        """The latest change of each title changed after version ``since`` (tombstones for removals)."""
        records, version, reaches_back_to = await self._repo.changes(user_id)
        if since > version or since < reaches_back_to:
            raise ResyncRequired(
                f"The changes feed reaches back to version {reaches_back_to}; the list is at {version}",
                extra={"version": version},
            )
        latest: dict[str | None, Change] = {}  # by title; the latest reorder under None
        for change in records:
            if change.version > since:
                latest.pop(change.content_id, None)
                latest[change.content_id] = change
        return Changes(changes=list(latest.values()), version=version)

    async def watchers(self, content_id: str, *, cursor: str | None, count: int) -> Watchers:
        """The users whose list holds ``content_id``, ``count`` at a time, by user id (keyset pagination: a
        user who holds the title throughout a walk is answered exactly once, whatever changes meanwhile)."""
        after = decode_watchers_cursor(content_id, cursor) if cursor else None
        found = await self._repo.watchers(content_id, after=after, limit=count + 1)
        page = found[:count]
        more = len(found) > count
        return Watchers(
            user_ids=page, next_cursor=encode_watchers_cursor(content_id, page[-1]) if more else None
        )

    async def stats(self, user_id: str) -> Stats:
        """Totals of the list."""
        return await self._repo.stats(user_id)
