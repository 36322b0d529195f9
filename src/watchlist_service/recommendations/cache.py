"""The recommendations cache: one answer per list version and count, and the user's last good answer.

Keys (rows of ``infra.redis.KEY_LAYOUTS``): ``{userId}:recs:{version}:{count}`` (``WATCHLIST_RECS_TTL_S``):
a change of the list raises its version, so the next request misses and computes afresh at once, with no
invalidation to send; ``{userId}:recs:last`` (``WATCHLIST_RECS_STALE_TTL_S``): served, marked stale, while
TMDb fails. Redis is a cache: a failure here is a miss, or no stale answer to fall back on.
"""

from __future__ import annotations

from typing import Final

import msgspec

from watchlist_service.infra.redis import RedisGuard, Unavailable
from watchlist_service.recommendations.schemas import Recommendations

_ENCODE: Final = msgspec.json.Encoder().encode
_DECODE: Final = msgspec.json.Decoder(Recommendations).decode


def answer_key(user_id: str, version: int, count: int) -> str:
    """The key of the answer for one list version and count."""
    return f"{{{user_id}}}:recs:{version}:{count}"


def last_key(user_id: str) -> str:
    """The key of the user's last good answer."""
    return f"{{{user_id}}}:recs:last"


def _decoded(raw: object) -> Recommendations | None:
    if not isinstance(raw, bytes):
        return None
    try:
        return _DECODE(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None  # written by another version: a miss


class RecommendationsCache:
    """Answers by list version, and the last good one per user."""

    def __init__(self, guard: RedisGuard, *, ttl_s: int, stale_ttl_s: int) -> None:
        self._guard = guard
        self._ttl_s = ttl_s
        self._stale_ttl_s = stale_ttl_s

    async def get(self, user_id: str, version: int, count: int) -> Recommendations | None:
        """The answer computed for this version and count, if cached."""
        raw = await self._guard.command("GET", answer_key(user_id, version, count))
        return None if isinstance(raw, Unavailable) else _decoded(raw)

    async def store(self, user_id: str, count: int, answer: Recommendations) -> None:
        """Keep ``answer`` for its version and count, and as the user's last good one."""
        body = _ENCODE(answer)
        await self._guard.commands(
            ("SET", answer_key(user_id, answer.version, count), body, "EX", self._ttl_s),
            ("SET", last_key(user_id), body, "EX", self._stale_ttl_s),
        )

    async def last(self, user_id: str) -> Recommendations | None:
        """The user's last good answer, if any is kept."""
        raw = await self._guard.command("GET", last_key(user_id))
        return None if isinstance(raw, Unavailable) else _decoded(raw)
