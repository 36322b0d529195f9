"""`make run`: the dev stack starts the fake TMDb when no TMDb is configured and points the service at it."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest

from tests.conftest import Backends, make_settings
from watchlist_service.devstack import stack as stack_module
from watchlist_service.devstack.stack import DevStack

pytestmark = pytest.mark.slow


def test_without_tmdb_settings_the_stack_starts_the_fake_with_a_token_of_its_own(
    backends: Backends, tmp_path: Path
) -> None:
    settings = make_settings(backends)  # MongoDB and Redis are configured: only the fake is started
    with DevStack(tmp_path, settings) as stack:
        url = stack.settings.tmdb_base_url
        assert url is not None
        assert url.startswith("http://127.0.0.1:")
        token = stack.settings.tmdb_token
        assert token is not None
        assert stack.extra_lines() == [
            f"WATCHLIST_TMDB_BASE_URL={url}",
            f"WATCHLIST_TMDB_TOKEN={token.get_secret_value()}",
        ]
        assert len(token.get_secret_value()) >= 32
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
        assert httpx.get(f"{url}/3/movie/550", headers=headers, timeout=5).json()["title"] == "Fight Club"
        assert httpx.get(f"{url}/3/movie/550", timeout=5).status_code == 401
        assert stack.settings.mongodb_uri == settings.mongodb_uri
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/3/movie/550", headers=headers, timeout=2)
    assert stack.extra_lines() == []

    with DevStack(tmp_path, settings) as again:
        assert again.settings.tmdb_token is not None
        assert again.settings.tmdb_token.get_secret_value() != token.get_secret_value()  # one per run


def test_a_configured_tmdb_is_used_as_it_is(backends: Backends, tmp_path: Path) -> None:
    real = make_settings(backends, tmdb_token="a-real-v4-token")
    with DevStack(tmp_path, real) as stack:
        assert stack.settings.tmdb_base_url is None  # the client then calls https://api.themoviedb.org
        assert stack.extra_lines() == []
    elsewhere = make_settings(backends, tmdb_base_url="http://tmdb.internal:8080", tmdb_token="t")
    with DevStack(tmp_path, elsewhere) as stack:
        assert stack.settings.tmdb_base_url == "http://tmdb.internal:8080"
        assert stack.extra_lines() == []


def test_a_token_that_begins_with_a_dash_is_passed_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # token_urlsafe() begins with "-" one time in 64; argparse would have taken it for an option.
    monkeypatch.setattr(secrets, "token_urlsafe", lambda _n: "-dash-led-token-" + "x" * 32)
    process, token = stack_module.start_fake_tmdb(tmp_path)
    try:
        assert token.startswith("-")
        headers = {"Authorization": f"Bearer {token}"}
        assert (
            httpx.get(f"http://127.0.0.1:{process.port}/3/movie/550", headers=headers, timeout=5).status_code
            == 200
        )
    finally:
        process.stop()
