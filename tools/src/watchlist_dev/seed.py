"""``watchlist-dev seed``: fill MongoDB with users and lists for load tests, through the repository."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from itertools import accumulate
from pathlib import Path

from rich.progress import Progress

from watchlist_service.config import Settings
from watchlist_service.infra.mongo import mongo_client
from watchlist_service.security import mint_token
from watchlist_service.watchlist.repository import WatchlistRepository, utcnow
from watchlist_service.watchlist.schemas import Item, split_content_id

CATALOG_SIZE = 5_000  # distinct titles to draw from: movie:1..N and tv:1..N/5
ZIPF_EXPONENT = 1.1


def catalog(zipf: bool) -> tuple[list[str], list[float] | None]:
    """The titles seeded lists draw from, and their cumulative weights (Zipf: a few titles are everywhere)."""
    titles = [f"movie:{n}" for n in range(1, CATALOG_SIZE + 1)] + [
        f"tv:{n}" for n in range(1, CATALOG_SIZE // 5 + 1)
    ]
    if not zipf:
        return titles, None
    weights = [1 / (rank**ZIPF_EXPONENT) for rank in range(1, len(titles) + 1)]
    return titles, list(accumulate(weights))


def draw_list(
    rng: random.Random, titles: list[str], cum_weights: list[float] | None, size: int
) -> list[Item]:
    """``size`` distinct titles, newest first, added a minute apart."""
    chosen: dict[str, None] = {}
    while len(chosen) < min(size, len(titles)):
        for title in rng.choices(titles, cum_weights=cum_weights, k=size - len(chosen)):
            chosen[title] = None
    now = utcnow()
    items = []
    for age, content_id in enumerate(chosen):
        content_type, tmdb_id = split_content_id(content_id)
        added = now - timedelta(minutes=age)
        items.append(
            Item(content_id=content_id, type=content_type, tmdb_id=tmdb_id, added_at=added, updated_at=added)
        )
    return items


async def seed(
    settings: Settings,
    *,
    users: int,
    items: int,
    zipf: bool,
    out: Path,
    prefix: str = "load-user",
    batch: int = 500,
    token_ttl_s: int = 24 * 3600,
    seed_value: int = 42,
) -> int:
    """Create ``users`` lists of ``items`` titles; write ``{"userId", "token"}`` lines to ``out``."""
    mongo = mongo_client(settings)
    try:
        repository = WatchlistRepository(
            mongo[settings.mongodb_database], cap=settings.list_cap, changes_kept=settings.changes_kept
        )
        await repository.ensure_indexes()
        rng = random.Random(seed_value)
        titles, weights = catalog(zipf)
        created = 0
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w") as sink, Progress() as progress:
            task = progress.add_task(f"seeding {users:,} users x {items} items", total=users)
            for start in range(0, users, batch):
                user_ids = [f"{prefix}-{n}" for n in range(start, min(start + batch, users))]
                lists = {user_id: draw_list(rng, titles, weights, items) for user_id in user_ids}
                created += await repository.insert_new_lists(lists)
                if settings.can_mint_tokens:
                    for user_id in user_ids:
                        token = mint_token(settings, user_id, ttl_s=token_ttl_s)
                        sink.write(json.dumps({"userId": user_id, "token": token}) + "\n")
                else:
                    sink.writelines(json.dumps({"userId": user_id}) + "\n" for user_id in user_ids)
                progress.update(task, advance=len(user_ids))
        return created
    finally:
        await mongo.close()
