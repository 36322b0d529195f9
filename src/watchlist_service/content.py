"""The one definition of a valid TMDb id and of a content id (``"movie:550"``), shared by the request
schemas, the socket ops, the list and the TMDb client.

TMDb ids are positive 32-bit integers. The pattern says exactly that (not "up to ten digits"), so a request
schema that uses it refuses an out-of-range id with a 400, and generated clients know the bound too.
"""

from __future__ import annotations

import re
from typing import Final, Literal

ContentType = Literal["movie", "tv"]
MAX_TMDB_ID: Final = 2**31 - 1


def _at_most(limit: int) -> str:
    """A regular expression (no anchors) for the decimal integers 1..``limit`` without leading zeros."""
    digits = str(limit)
    # Every shorter number, then numbers of the same length that match a prefix of ``limit`` and are lower
    # in the next digit, then ``limit`` itself.
    parts = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for i, digit in enumerate(digits):
        low = 1 if i == 0 else 0
        high = int(digit) - 1
        if high < low:
            continue
        rest = len(digits) - i - 1
        tail = f"[0-9]{{{rest}}}" if rest else ""
        parts.append(f"{digits[:i]}[{low}-{high}]{tail}")
    parts.append(digits)
    return "(?:" + "|".join(parts) + ")"


TMDB_ID_PATTERN: Final = f"^{_at_most(MAX_TMDB_ID)}$"
CONTENT_ID_PATTERN: Final = f"^(?:movie|tv):{_at_most(MAX_TMDB_ID)}$"
CONTENT_ID_RE: Final = re.compile(CONTENT_ID_PATTERN)
_TMDB_ID_RE: Final = re.compile(TMDB_ID_PATTERN)


def is_tmdb_id(value: object) -> bool:
    """Whether ``value`` is a TMDb id (an ``int``, not a ``bool``, in 1..2^31-1)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_TMDB_ID


def is_tmdb_id_text(text: str) -> bool:
    """Whether ``text`` spells a TMDb id (as in a path)."""
    return _TMDB_ID_RE.match(text) is not None


def split_content_id(content_id: str) -> tuple[ContentType, int]:
    """``"movie:550"`` -> ``("movie", 550)``; ``ValueError`` unless it matches ``CONTENT_ID_RE``."""
    if not CONTENT_ID_RE.match(content_id):
        raise ValueError(f"not a content id: {content_id!r}")
    kind, _, tmdb_id = content_id.partition(":")
    return ("movie" if kind == "movie" else "tv"), int(tmdb_id)
