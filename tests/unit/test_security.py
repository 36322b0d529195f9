"""TokenVerifier's memory of verified tokens: a repeat is cheap, and nothing outlives its token."""

from __future__ import annotations

import time

import pytest

from tests.conftest import TEST_SECRET
from watchlist_service import security
from watchlist_service.config import Settings
from watchlist_service.errors import Unauthenticated
from watchlist_service.security import Principal, TokenVerifier, mint_token


@pytest.fixture
def settings() -> Settings:
    return Settings(_env_file=None, jwt_secret=TEST_SECRET, jwt_leeway_s=0)


async def test_a_verified_token_is_remembered(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = TokenVerifier(settings)
    token = mint_token(settings, "alice", scopes=["watchlist:read:any"])
    calls = []
    real = verifier._verify

    async def counting(raw: str) -> tuple[Principal, float]:
        calls.append(raw)
        return await real(raw)

    monkeypatch.setattr(verifier, "_verify", counting)
    first = await verifier.verify(token)
    second = await verifier.verify(token)
    assert first == second == Principal(sub="alice", scopes=frozenset({"watchlist:read:any"}))
    assert len(calls) == 1


async def test_a_remembered_token_is_checked_again_once_expired(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = TokenVerifier(settings)
    token = mint_token(settings, "alice", ttl_s=30)
    await verifier.verify(token)
    assert token in verifier._verified
    later = time.time() + 31

    async def expired(raw: str) -> tuple[Principal, float]:
        raise Unauthenticated("expired")

    monkeypatch.setattr(time, "time", lambda: later)
    monkeypatch.setattr(verifier, "_verify", expired)
    with pytest.raises(Unauthenticated):
        await verifier.verify(token)
    assert token not in verifier._verified


async def test_failures_are_not_remembered(settings: Settings) -> None:
    verifier = TokenVerifier(settings)
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await verifier.verify("not.a.token")
    assert len(verifier._verified) == 0


async def test_memory_is_bounded(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "VERIFIED_MAX", 3)
    verifier = TokenVerifier(settings)
    tokens = [mint_token(settings, f"user-{n}") for n in range(5)]
    for token in tokens:
        await verifier.verify(token)
    assert list(verifier._verified) == tokens[2:]
