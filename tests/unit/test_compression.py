"""``LazyCompression`` sends what Litestar's ``CompressionMiddleware`` sends, for every kind of answer, and
makes no compressor for an answer under the minimum size."""

from __future__ import annotations

import gzip
import itertools
from typing import Any

import pytest
from litestar.config.compression import CompressionConfig
from litestar.middleware.compression import CompressionMiddleware, gzip_facade

from watchlist_service.compression import LazyCompression

MINIMUM = 1_024
CONFIG = CompressionConfig(backend="brotli", brotli_gzip_fallback=True, minimum_size=MINIMUM)
BIG = b'{"items": [' + b",".join(b'{"contentId": "movie:%d"}' % n for n in range(200)) + b"]}"

# Each answer: its body messages after the start message (status, content-length header).
ANSWERS: dict[str, list[dict[str, Any]]] = {
    "empty (a 304)": [{"type": "http.response.body", "body": b""}],
    "small": [{"type": "http.response.body", "body": b'{"hello": "world"}'}],
    "one byte under the minimum": [{"type": "http.response.body", "body": b"x" * (MINIMUM - 1)}],
    "at the minimum": [{"type": "http.response.body", "body": b"x" * MINIMUM}],
    "big": [{"type": "http.response.body", "body": BIG}],
    "streamed": [
        {"type": "http.response.body", "body": b"a" * 10, "more_body": True},
        {"type": "http.response.body", "body": BIG, "more_body": True},
        {"type": "http.response.body", "body": b"", "more_body": False},
    ],
}
ENCODINGS = ["", "gzip", "gzip, deflate, br", "identity"]


def decoded(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages with a gzip body decompressed: gzip writes the time into its header, so the compressed
    bytes of two runs may differ by it (brotli's do not: they are compared as they are)."""
    start, *bodies = messages
    headers = dict(start["headers"])
    whole = b"".join(m["body"] for m in bodies)
    encoding = headers.get(b"content-encoding")
    if encoding == b"gzip":
        whole = gzip.decompress(whole)
    return [{**start, "headers": sorted(start["headers"])}, {"body": whole, "messages": len(bodies)}]


async def sent(middleware: type[CompressionMiddleware], accept: str, answer: list[dict[str, Any]]) -> Any:
    body_size = sum(len(m["body"]) for m in answer)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        start = {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(body_size).encode())],
        }
        for message in [start, *answer]:
            await send(dict(message))

    out: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        out.append(message)

    scope = {"type": "http", "path": "/", "headers": [(b"accept-encoding", accept.encode())], "state": {}}
    await middleware(app, CONFIG)(scope, None, send)  # type: ignore[arg-type]
    return decoded(out)


@pytest.mark.parametrize(("accept", "answer"), list(itertools.product(ENCODINGS, ANSWERS)))
async def test_the_same_messages_as_litestars_compression(accept: str, answer: str) -> None:
    assert await sent(LazyCompression, accept, ANSWERS[answer]) == await sent(
        CompressionMiddleware, accept, ANSWERS[answer]
    )


async def test_no_compressor_is_made_for_a_small_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    real = gzip_facade.GzipCompression.__init__

    def counted(self: Any, *args: Any, **kwargs: Any) -> None:
        made.append("gzip")
        real(self, *args, **kwargs)

    monkeypatch.setattr(gzip_facade.GzipCompression, "__init__", counted)
    await sent(LazyCompression, "gzip", ANSWERS["small"])
    assert made == []
    await sent(LazyCompression, "gzip", ANSWERS["big"])
    assert made == ["gzip"]  # the counting works: a big answer does make one
    await sent(CompressionMiddleware, "gzip", ANSWERS["small"])
    assert made == ["gzip", "gzip"]  # and Litestar's own makes one even for a small answer
