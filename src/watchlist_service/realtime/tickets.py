"""How a socket proves who it is: a bearer token (apps) or a one-time ticket (browsers, which cannot set
``Authorization`` on a WebSocket).

A ticket is minted for an authenticated caller, lives ``ws_ticket_ttl_s`` seconds in Redis under a hash of
itself, and is consumed with GETDEL: one use, on any replica.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
import msgspec
from msgspec import Struct

from watchlist_service.errors import RealtimeUnavailable, Unauthenticated
from watchlist_service.infra.redis import RedisGuard, Unavailable, scan_keys
from watchlist_service.security import Principal, TokenVerifier

TICKET_KEY_PREFIX = "realtime:ticket:"
_TICKET_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


@dataclass(frozen=True, slots=True)
class SocketIdentity:
    """The socket's principal and when its credential expires (epoch seconds; the socket is closed then)."""

    principal: Principal
    expires_at: float | None


class _StoredTicket(Struct):
    sub: str
    scopes: list[str]
    exp: float | None


def token_expiry(token: str) -> float | None:
    """The ``exp`` of a token that ``TokenVerifier`` has already accepted (read, not verified, here)."""
    try:
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    return float(exp) if isinstance(exp, int | float) else None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header value."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class TicketStore:
    """One-time socket tickets in Redis."""

    def __init__(self, redis: RedisGuard, *, ttl_s: int) -> None:
        self._redis = redis
        self.ttl_s = ttl_s

    @staticmethod
    def _key(ticket: str) -> str:
        # Only a hash is stored: whoever reads Redis cannot open sockets with what they find there.
        return TICKET_KEY_PREFIX + hashlib.sha256(ticket.encode()).hexdigest()

    async def issue(self, identity: SocketIdentity) -> str:
        """A new ticket for ``identity``; ``RealtimeUnavailable`` when Redis does not answer."""
        ticket = secrets.token_urlsafe(32)
        stored = _StoredTicket(
            sub=identity.principal.sub, scopes=sorted(identity.principal.scopes), exp=identity.expires_at
        )
        key, value = self._key(ticket), msgspec.json.encode(stored)
        if isinstance(await self._redis.command("SET", key, value, "EX", self.ttl_s), Unavailable):
            raise RealtimeUnavailable("Socket tickets cannot be issued right now")
        return ticket

    async def redeem(self, ticket: str) -> SocketIdentity | None:
        """The identity of a valid, unused, unexpired ticket (which is used up); ``None`` otherwise."""
        if not _TICKET_RE.match(ticket):
            return None
        raw = await self._redis.command("GETDEL", self._key(ticket))
        if isinstance(raw, Unavailable):
            raise RealtimeUnavailable("Socket tickets cannot be checked right now")
        if raw is None:
            return None
        stored = msgspec.json.decode(raw, type=_StoredTicket)
        if stored.exp is not None and stored.exp <= time.time():
            return None
        return SocketIdentity(Principal(sub=stored.sub, scopes=frozenset(stored.scopes)), stored.exp)

    async def revoke(self, user_id: str, redis: RedisGuard) -> int | None:
        """Delete the unused tickets of ``user_id`` (an erase, docs/design.md §11); how many, ``None`` when
        Redis could not be reached. Tickets are keyed by their hash, not by user (a ticket alone must find
        its key), so this scans them all: at most the tickets issued in the last ``ttl_s`` seconds."""
        keys = await redis(lambda: scan_keys(redis.client, TICKET_KEY_PREFIX + "*"), force=True)
        if isinstance(keys, Unavailable):
            return None
        revoked = 0
        for start in range(0, len(keys), 100):
            batch = keys[start : start + 100]
            values = await redis.commands(*(("GET", key) for key in batch))
            if isinstance(values, Unavailable):
                return None
            mine = [
                key
                for key, raw in zip(batch, values, strict=True)
                if isinstance(raw, bytes) and msgspec.json.decode(raw, type=_StoredTicket).sub == user_id
            ]
            if mine:
                deleted = await redis.commands(*(("DEL", key) for key in mine))
                if isinstance(deleted, Unavailable):
                    return None
                revoked += sum(int(n) for n in deleted)
        return revoked


async def authenticate(
    verifier: TokenVerifier, tickets: TicketStore, *, authorization: str | None, ticket: str | None
) -> SocketIdentity | None:
    """The identity proven by a bearer header or else a ticket; ``None`` when neither proves one.

    ``RealtimeUnavailable`` (Redis down while a ticket must be checked) is not a failed proof: it propagates.
    """
    token = bearer_token(authorization)
    if token is not None:
        try:
            principal = await verifier.verify(token)
        except Unauthenticated:
            return None
        return SocketIdentity(principal, token_expiry(token))
    if ticket:
        return await tickets.redeem(ticket)
    return None
