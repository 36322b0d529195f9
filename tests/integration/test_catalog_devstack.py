"""`make run`: the dev stack starts the fake TMDb when no TMDb is configured, or when the project's ``.env``
names one that is not running, and points the service at it."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Backends, make_settings
from watchlist_dev.processes import free_port, start_fake_tmdb
from watchlist_dev.stack import DevStack
from watchlist_service.config import Settings

pytestmark = pytest.mark.slow


def test_without_tmdb_settings_the_stack_starts_the_fake_with_a_token_of_its_own(
    backends: Backends, tmp_path: Path
) -> None:
    settings = make_settings(backends)  # MongoDB and Redis are configured: only the fake is started
    with DevStack(tmp_path, settings) as stack:
        url = stack.settings.tmdb_base_url
        assert url is not None
        assert url.startswith("http://127.0.0.1:")
        token, key = stack.settings.tmdb_token, stack.settings.tmdb_api_key
        assert token is not None
        assert key is not None
        assert stack.extra_lines() == [
            f"WATCHLIST_TMDB_BASE_URL={url}",
            f"WATCHLIST_TMDB_TOKEN={token.get_secret_value()}",
            f"WATCHLIST_TMDB_API_KEY={key.get_secret_value()}",
        ]
        assert len(token.get_secret_value()) >= 32
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
        assert httpx.get(f"{url}/3/movie/550", headers=headers, timeout=5).json()["title"] == "Fight Club"
        by_key = {"api_key": key.get_secret_value()}
        assert httpx.get(f"{url}/3/movie/550", params=by_key, timeout=5).json()["title"] == "Fight Club"
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
    process, token = start_fake_tmdb(tmp_path)
    try:
        assert token.startswith("-")
        headers = {"Authorization": f"Bearer {token}"}
        assert (
            httpx.get(f"http://127.0.0.1:{process.port}/3/movie/550", headers=headers, timeout=5).status_code
            == 200
        )
    finally:
        process.stop()


ENV_TOKEN = "token-of-the-env-file-0123456789abcdef"


def env_file_settings(backends: Backends, project: Path, tmdb_port: int) -> Settings:
    """Settings as ``watchlist-dev run`` reads them in a project whose ``.env`` names a fake TMDb."""
    url = f"http://127.0.0.1:{tmdb_port}"
    (project / ".env").write_text(f"WATCHLIST_TMDB_BASE_URL={url}\nWATCHLIST_TMDB_TOKEN={ENV_TOKEN}\n")
    return make_settings(backends, tmdb_base_url=url, tmdb_token=ENV_TOKEN)


def answers(url: str, token: str = ENV_TOKEN) -> int:
    return httpx.get(
        f"{url}/3/movie/550", headers={"Authorization": f"Bearer {token}"}, timeout=5
    ).status_code


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port something other than the fake listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def test_the_env_file_fake_is_started_on_its_port_with_its_token_and_reused(
    backends: Backends, tmp_path: Path
) -> None:
    port = free_port()
    settings = env_file_settings(backends, tmp_path, port)
    with DevStack(tmp_path, settings, env_file=tmp_path / ".env") as stack:
        assert stack.settings == settings  # the service is pointed where .env says, unchanged
        assert [p.name for p in stack.processes] == ["fake-tmdb"]
        assert answers(f"http://127.0.0.1:{port}") == 200
        assert stack.extra_lines() == [
            f"WATCHLIST_TMDB_BASE_URL=http://127.0.0.1:{port}",
            f"WATCHLIST_TMDB_TOKEN={ENV_TOKEN}",
        ]
        # A second `make run` in the project finds it running and starts nothing.
        with DevStack(tmp_path, settings, env_file=tmp_path / ".env") as second:
            assert second.processes == []
            assert second.settings == settings
    with pytest.raises(httpx.ConnectError):
        answers(f"http://127.0.0.1:{port}")


def test_the_env_file_fake_moves_when_something_else_holds_its_port(
    backends: Backends, tmp_path: Path, taken_port: int
) -> None:
    settings = env_file_settings(backends, tmp_path, taken_port)
    with DevStack(tmp_path, settings, env_file=tmp_path / ".env") as stack:
        url = stack.settings.tmdb_base_url
        assert url is not None
        assert url != f"http://127.0.0.1:{taken_port}"
        assert answers(url) == 200  # the same token, another port (printed by extra_lines)
        assert stack.extra_lines()[0] == f"WATCHLIST_TMDB_BASE_URL={url}"


def test_a_loopback_tmdb_not_from_the_env_file_is_used_as_it_is(backends: Backends, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("WATCHLIST_TMDB_BASE_URL=http://127.0.0.1:9\nWATCHLIST_TMDB_TOKEN=other\n")
    settings = make_settings(backends, tmdb_base_url=f"http://127.0.0.1:{free_port()}", tmdb_token="t")
    with DevStack(tmp_path, settings, env_file=tmp_path / ".env") as stack:
        assert stack.processes == []
        assert stack.settings == settings
        assert stack.extra_lines() == []
