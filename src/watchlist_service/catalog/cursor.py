"""Opaque, tamper-evident catalog cursors.

A cursor is ``base64url("1:<offset>") + "." + base64url(HMAC-SHA256(secret, scope, payload)[:16])``. The
offset is the absolute position in TMDb's result list, so any ``count`` walks TMDb's 20-item pages without
skipping or repeating. The scope (endpoint, sort, query) is signed but not carried: a cursor only works for
the listing that issued it. All replicas must share the secret, or they reject each other's cursors.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import Final

from loguru import logger

from watchlist_service.config import Settings
from watchlist_service.errors import InvalidRequest

VERSION: Final = "1"
MAX_CURSOR_LENGTH: Final = 64
_MAC_BYTES: Final = 16
_DERIVATION_LABEL: Final = b"watchlist-service catalog cursor v1"


def cursor_secret(settings: Settings) -> bytes:
    """``cursor_secret``; else derived from the JWT secret; else random for this process (with a warning)."""
    if settings.cursor_secret is not None:
        return settings.cursor_secret.get_secret_value().encode()
    if settings.jwt_secret is not None:
        # A separate key per purpose: a cursor MAC can never be mistaken for a token signature.
        return hmac.new(
            settings.jwt_secret.get_secret_value().encode(), _DERIVATION_LABEL, hashlib.sha256
        ).digest()
    logger.warning(
        "no WATCHLIST_CURSOR_SECRET or JWT secret: catalog cursors are signed with a random per-process key, "
        "so they are not accepted by other replicas or after a restart"
    )
    return secrets.token_bytes(32)


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _invalid() -> InvalidRequest:
    return InvalidRequest(
        "The cursor is malformed, was modified, or belongs to another listing",
        extra={"errors": [{"field": "cursor", "message": "invalid cursor"}]},
    )


class CursorCodec:
    """Signs and checks cursors bound to one listing (``scope``)."""

    def __init__(self, secret: bytes, *, max_offset: int) -> None:
        self._secret = secret
        self._max_offset = max_offset

    def _mac(self, scope: str, payload: bytes) -> bytes:
        message = scope.encode() + b"\x00" + payload
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, scope: str, offset: int) -> str:
        """The cursor of position ``offset`` in the listing ``scope``."""
        payload = f"{VERSION}:{offset}".encode()
        return _b64encode(payload) + "." + _b64encode(self._mac(scope, payload))

    def decode(self, scope: str, cursor: str) -> int:
        """The offset a cursor points at; ``InvalidRequest`` (400) for anything not issued for ``scope``."""
        if len(cursor) > MAX_CURSOR_LENGTH or cursor.count(".") != 1:
            raise _invalid()
        payload_text, mac_text = cursor.split(".")
        try:
            payload, mac = _b64decode(payload_text), _b64decode(mac_text)
        except (binascii.Error, ValueError) as exc:
            raise _invalid() from exc
        # The decoder ignores stray characters and unused bits: only the canonical spelling is accepted,
        # so no modified cursor string decodes to a valid one.
        if _b64encode(payload) != payload_text or _b64encode(mac) != mac_text:
            raise _invalid()
        if not hmac.compare_digest(mac, self._mac(scope, payload)):
            raise _invalid()
        version, _, offset_text = payload.decode("ascii", errors="replace").partition(":")
        if version != VERSION or not offset_text.isdigit() or not offset_text.isascii():
            raise _invalid()
        offset = int(offset_text)
        if offset >= self._max_offset:
            raise _invalid()
        return offset
