"""JWT verification, the authenticated Principal, scopes and the token minting used in development."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import jwt

from watchlist_service.config import HMAC_ALGORITHMS, Settings
from watchlist_service.errors import Forbidden, Unauthenticated

if TYPE_CHECKING:
    from litestar.types import Scope

SCOPE_READ_ANY = "watchlist:read:any"
SCOPE_WRITE_ANY = "watchlist:write:any"
SCOPE_ERASE = "watchlist:erase"  # DELETE /v1/users/{userId}/watchlist (docs/design.md §11)
SERVICE_SCOPES = frozenset(
    {SCOPE_READ_ANY, SCOPE_WRITE_ANY, SCOPE_ERASE}
)  # tokens of services, not end users
REQUIRED_CLAIMS = ["exp", "iat", "sub"]
VERIFIED_MAX = 10_000
VERIFIED_TTL_S = 60.0
# Printable, no whitespace, no braces (they delimit the Redis Cluster hash tag of the user's keys).
SUBJECT_PATTERN = r"^[!-z|~]{1,128}$"
_SUBJECT_RE = re.compile(SUBJECT_PATTERN)
# Paths that never need a token: probes, metrics and the API description.
PUBLIC_PATHS = ["^/v1/health/", "^/metrics", "^/schema"]
_PUBLIC_RE = re.compile("|".join(PUBLIC_PATHS))


def is_public(scope: Scope) -> bool:
    """Health, metrics and schema requests: no token, no rate limit."""
    return _PUBLIC_RE.match(scope["path"]) is not None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's subject and its scopes."""

    sub: str
    scopes: frozenset[str]

    def may_act_for(self, user_id: str, *, write: bool) -> bool:
        """End users act for themselves; service tokens for anyone, within their scopes."""
        if user_id == self.sub:
            return True
        return (SCOPE_WRITE_ANY if write else SCOPE_READ_ANY) in self.scopes


def require_access(principal: Principal, user_id: str, *, write: bool) -> None:
    """Raise ``Forbidden`` unless ``principal`` may read (or write) ``user_id``'s list."""
    if not principal.may_act_for(user_id, write=write):
        raise Forbidden("This token may not act for that user")


def require_scope(principal: Principal, scope: str) -> None:
    """Raise ``Forbidden`` unless the token carries ``scope`` (service routes: erase, reads across users)."""
    if scope not in principal.scopes:
        raise Forbidden(f"This route needs a token with the {scope} scope")


class JwksCache:
    """Signing keys from a JWKS URL, fetched asynchronously and cached; refreshed once on an unknown kid."""

    def __init__(self, url: str, ttl_s: int, http: httpx.AsyncClient) -> None:
        self._url = url
        self._ttl_s = ttl_s
        self._http = http
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> jwt.PyJWK:
        """Return the key with ``kid``; unknown after a refresh means the token is rejected."""
        fresh = time.monotonic() - self._fetched_at < self._ttl_s
        if kid in self._keys and fresh:
            return self._keys[kid]
        async with self._lock:
            # A refresh at most every few seconds, so random kids cannot hammer the identity provider.
            if time.monotonic() - self._fetched_at > min(self._ttl_s, 10):
                await self._refresh()
        if kid not in self._keys:
            raise Unauthenticated("The token's signing key is unknown")
        return self._keys[kid]

    async def _refresh(self) -> None:
        try:
            response = await self._http.get(self._url, timeout=5.0)
            response.raise_for_status()
            key_set = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, jwt.PyJWTError, ValueError) as exc:
            raise Unauthenticated("The signing keys could not be loaded") from exc
        self._keys = {k.key_id: k for k in key_set.keys if k.key_id}
        self._fetched_at = time.monotonic()


class TokenVerifier:
    """Verifies bearer tokens with pinned algorithms and the configured key material."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None) -> None:
        self._algorithms = list(settings.jwt_algorithms)
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._leeway = settings.jwt_leeway_s
        self._static_key: Any = None
        self._jwks: JwksCache | None = None
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        if all(a in HMAC_ALGORITHMS for a in self._algorithms):
            assert settings.jwt_secret is not None  # guaranteed by Settings validation
            self._static_key = settings.jwt_secret.get_secret_value()
        elif settings.jwt_public_key is not None:
            self._static_key = settings.jwt_public_key.get_secret_value()
        else:
            assert settings.jwt_jwks_url is not None
            self._jwks = JwksCache(
                settings.jwt_jwks_url, settings.jwks_cache_ttl_s, http or httpx.AsyncClient()
            )

    async def verify(self, token: str) -> Principal:
        """Return the Principal of a valid token or raise ``Unauthenticated``.

        Apps send the same token with every request, so verified tokens are remembered (bounded, and never
        beyond their own ``exp`` or ``VERIFIED_TTL_S``): a repeat costs a dictionary lookup, not a signature
        check. Only successful verifications are remembered.
        """
        now = time.time()
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, valid_until = remembered
            if now < valid_until:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]
        principal, expires_at = await self._verify(token)
        self._verified[token] = (principal, min(expires_at + self._leeway, now + VERIFIED_TTL_S))
        if len(self._verified) > VERIFIED_MAX:
            self._verified.popitem(last=False)
        return principal

    def remembers(self, token: str) -> bool:
        """Whether ``token`` was verified recently and is still valid (no I/O, no signature check)."""
        remembered = self._verified.get(token)
        return remembered is not None and time.time() < remembered[1]

    async def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in self._algorithms:
                raise Unauthenticated("The token's algorithm is not accepted")
            key = self._static_key
            if self._jwks is not None:
                kid = header.get("kid")
                if not isinstance(kid, str):
                    raise Unauthenticated("The token has no key id")
                key = (await self._jwks.key_for(kid)).key
            claims = jwt.decode(
                token,
                key=key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS, "verify_iat": True},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"Invalid token: {exc}") from exc
        sub = claims.get("sub")
        if not isinstance(sub, str) or not _SUBJECT_RE.match(sub):
            raise Unauthenticated("The token's subject is missing or invalid")
        scope = claims.get("scope", "")
        scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
        return Principal(sub=sub, scopes=scopes), float(claims["exp"])


def mint_token(settings: Settings, sub: str, *, scopes: list[str] | None = None, ttl_s: int = 3600) -> str:
    """Sign a real, short-lived token with the configured HMAC secret (development and load tests)."""
    if not settings.can_mint_tokens or settings.jwt_secret is None:
        raise RuntimeError("tokens can only be minted with an HMAC secret (WATCHLIST_JWT_SECRET)")
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_s,
        "jti": uuid.uuid4().hex,
    }
    if scopes:
        claims["scope"] = " ".join(scopes)
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=settings.jwt_algorithms[0])
