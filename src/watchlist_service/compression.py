"""Litestar's response compression, without building a compressor for an answer too small to compress.

Litestar's ``CompressionMiddleware`` makes the compressor (a ``GzipFile`` or a brotli ``Compressor``, each
with its window and tables) as soon as the client accepts an encoding, before it knows the answer's size,
and closes it unused when the body is under ``minimum_size``. Apps send ``Accept-Encoding`` with every
request, and most answers are small (a hello, a 201, a 304, an error): that compressor cost up to a fifth of a
hello here (docs/performance.md#compression). ``LazyCompression`` holds the start message until the first
body: a single body under ``minimum_size`` goes out as it came, exactly as Litestar would send it; anything
else is handed, start message first, to Litestar's own wrapper. It is the ``middleware_class`` of the app's
``CompressionConfig``, the option Litestar offers for this.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from litestar.enums import CompressionEncoding
from litestar.middleware.compression import CompressionMiddleware

if TYPE_CHECKING:
    from litestar.types import Message, Scope, Send


class LazyCompression(CompressionMiddleware):
    """``CompressionMiddleware`` whose compressor is made only for a body that may be compressed."""

    def create_compression_send_wrapper(
        self,
        send: Send,
        compression_encoding: Literal[CompressionEncoding.BROTLI, CompressionEncoding.GZIP] | str,
        scope: Scope,
    ) -> Send:
        """Wrap ``send``: small single-body answers pass through, the others go to Litestar's wrapper."""
        minimum_size = self.config.minimum_size
        make_compressing = super().create_compression_send_wrapper
        start: Message | None = None
        compressing: Send | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal start, compressing
            if compressing is not None:
                await compressing(message)
                return
            if message["type"] == "http.response.start":
                start = message
                return
            if start is None:  # nothing started: nothing to compress (Litestar's wrapper drops these too)
                return
            if (
                message["type"] == "http.response.body"
                and not message.get("more_body", False)
                and len(message.get("body", b"")) < minimum_size
            ):
                await send(start)
                await send(message)
                return
            compressing = make_compressing(send, compression_encoding, scope)
            await compressing(start)
            await compressing(message)

        return send_wrapper
