"""Helpers for the page-cache tests, on a single Redis and on a Redis Cluster."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import User
from watchlist_service.resources import resources_of
from watchlist_service.watchlist.cache import PageCache


def page_cache(client: httpx.AsyncClient) -> PageCache:
    """The page cache of an in-process app (``serve_in_process``)."""
    return resources_of(client._transport.app).page_cache  # type: ignore[attr-defined]


async def race_a_reader_against_a_write(
    client: httpx.AsyncClient, user: User
) -> tuple[httpx.Response, list[bool]]:
    """The stale-set race, made to happen: a reader of ``user``'s first page is paused between its database
    read and its cache fill while another title is added and acknowledged, then let go.

    ``user``'s list must hold ``movie:1`` before; the write adds ``movie:2``. Returns the reader's (old) page
    and what each of its fills returned (``False``: the cache refused the page).
    """
    cache = page_cache(client)
    original_fill = cache.fill
    reader_has_read, resume_reader = asyncio.Event(), asyncio.Event()
    fill_results: list[bool] = []

    async def paused_fill(
        user_id: str, key: str, version: int, total: int, body: bytes, observed: bytes
    ) -> bool:
        if user_id == user.id:
            reader_has_read.set()
            await resume_reader.wait()
        stored = await original_fill(user_id, key, version, total, body, observed)
        fill_results.append(stored)
        return stored

    cache.fill = paused_fill  # type: ignore[method-assign]
    try:
        reader = asyncio.create_task(client.get("/v1/watchlist", headers=user.headers))
        await reader_has_read.wait()
        write = await client.post("/v1/watchlist", json={"contentId": "movie:2"}, headers=user.headers)
        assert write.status_code == 201
        resume_reader.set()
        old_page = await reader
    finally:
        cache.fill = original_fill  # type: ignore[method-assign]
    return old_page, fill_results
