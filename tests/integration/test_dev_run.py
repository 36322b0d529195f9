"""``watchlist-dev run`` (what ``make run`` starts) and ``watchlist-dev fake-tmdb``, as real processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from dotenv import dotenv_values

from tests.conftest import Backends, clean_env, cli
from watchlist_dev.devenv import TMDB_VARIABLES, ensure_dev_env
from watchlist_dev.processes import descendants, free_port, pid_alive, start_api, stop_process, wait_ready

pytestmark = pytest.mark.slow


def dev(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """``watchlist-dev ARGS`` in ``cwd``, its standard output readable line by line."""
    return subprocess.Popen(
        [sys.executable, "-m", "watchlist_dev", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def test_dev_env_file_is_written_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WATCHLIST_JWT_SECRET", *TMDB_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / ".env"
    ensure_dev_env(env_file)
    first = dotenv_values(env_file)
    ensure_dev_env(env_file)
    assert dotenv_values(env_file) == first
    assert set(first) == {"WATCHLIST_JWT_SECRET", *TMDB_VARIABLES}
    assert len(first["WATCHLIST_JWT_SECRET"] or "") >= 32
    assert len(first["WATCHLIST_TMDB_TOKEN"] or "") >= 32
    assert len(first["WATCHLIST_TMDB_API_KEY"] or "") >= 32
    assert str(first["WATCHLIST_TMDB_BASE_URL"]).startswith("http://127.0.0.1:")
    assert env_file.stat().st_mode & 0o077 == 0


def test_a_configured_tmdb_keeps_the_fake_out_of_the_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WATCHLIST_JWT_SECRET", raising=False)
    monkeypatch.setenv("WATCHLIST_TMDB_TOKEN", "a-real-v4-token")
    ensure_dev_env(tmp_path / ".env")
    assert set(dotenv_values(tmp_path / ".env")) == {"WATCHLIST_JWT_SECRET"}


@dataclass
class DevRun:
    """A running ``watchlist-dev run`` and what it printed."""

    process: subprocess.Popen[str]
    printed: dict[str, str]
    url: str
    project: Path


def start_dev_run(project: Path, env: dict[str, str], *, timeout_s: float = 90) -> DevRun:
    """``watchlist-dev run`` in ``project``, once it printed its settings and the API is ready."""
    port = free_port()
    process = dev("run", "--port", str(port), cwd=project, env=env)
    printed: dict[str, str] = {}
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + timeout_s
        while "TOKEN" not in printed and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            name, sep, value = line.strip().partition("=")
            if sep and name.isupper():
                printed[name] = value
        assert {"WATCHLIST_MONGODB_URI", "WATCHLIST_REDIS_URL", "TOKEN"} <= printed.keys(), printed
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, process, timeout_s=max(1.0, deadline - time.monotonic()))
    except BaseException:
        stop_dev_run(process)
        raise
    return DevRun(process, printed, url, project)


def stop_dev_run(process: subprocess.Popen[str]) -> None:
    stop_process(process, signal.SIGINT, timeout_s=30)
    if process.stdout is not None:
        process.stdout.close()


@pytest.fixture
def dev_run(tmp_path: Path) -> Iterator[DevRun]:
    """``watchlist-dev run`` in an empty project directory, as ``make run`` starts it."""
    running = start_dev_run(tmp_path, clean_env())
    try:
        yield running
    finally:
        stop_dev_run(running.process)


def test_dev_run_serves_agrees_with_serve_and_token_in_the_project_and_leaves_no_orphans(
    dev_run: DevRun,
) -> None:
    headers = {"Authorization": f"Bearer {dev_run.printed['TOKEN']}"}
    added = httpx.post(
        f"{dev_run.url}/v1/watchlist", json={"contentId": "movie:550"}, headers=headers, timeout=10
    )
    assert added.status_code == 201, added.text
    project = dev_run.project
    written = dotenv_values(project / ".env")
    assert (project / ".devdata" / "mongo" / "db").is_dir()
    assert dev_run.printed["WATCHLIST_TMDB_BASE_URL"] == written["WATCHLIST_TMDB_BASE_URL"]

    # `watchlist-service serve` and `token` run in the project directory need only the printed URIs: the
    # JWT secret and the fake TMDb's URL and token come from .env.
    port = free_port()
    second = start_api(
        port,
        clean_env(
            WATCHLIST_MONGODB_URI=dev_run.printed["WATCHLIST_MONGODB_URI"],
            WATCHLIST_REDIS_URL=dev_run.printed["WATCHLIST_REDIS_URL"],
        ),
        project / f"server-{port}.log",
        cwd=project,
    )
    try:
        token = cli("token", "--sub", "demo", cwd=project, env=clean_env()).stdout.strip()
        mine = {"Authorization": f"Bearer {token}"}
        page = httpx.get(f"{second.url}/v1/watchlist", headers=mine, timeout=10)
        assert [i["contentId"] for i in page.json()["items"]] == ["movie:550"]
        movie = httpx.get(f"{second.url}/v1/movies/550", headers=mine, timeout=10)
        assert movie.status_code == 200, movie.text
        assert movie.json()["title"] == "Fight Club"
        movies = httpx.get(f"{second.url}/v1/movies", headers=mine, timeout=10)
        assert movies.status_code == 200, movies.text
        assert movies.json()["results"]
    finally:
        second.stop()
    # The fake takes either credential of .env, as TMDb does.
    fake = f"{written['WATCHLIST_TMDB_BASE_URL']}/3/movie/550"
    assert httpx.get(fake, params={"api_key": written["WATCHLIST_TMDB_API_KEY"]}, timeout=5).is_success
    by_token = {"Authorization": f"Bearer {written['WATCHLIST_TMDB_TOKEN']}"}
    assert httpx.get(fake, headers=by_token, timeout=5).is_success

    children = descendants(dev_run.process.pid)
    assert len(children) >= 3  # mongod, redis-server, the fake TMDb
    dev_run.process.send_signal(signal.SIGINT)
    assert dev_run.process.wait(timeout=30) == 0
    deadline = time.monotonic() + 10
    while any(pid_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(pid_alive(pid) for pid in children)


def test_dev_run_starts_the_fake_of_the_env_file_with_its_token(tmp_path: Path, backends: Backends) -> None:
    tmdb_port = free_port()
    (tmp_path / ".env").write_text(
        f"WATCHLIST_JWT_SECRET={'s' * 48}\n"
        f"WATCHLIST_TMDB_BASE_URL=http://127.0.0.1:{tmdb_port}\n"
        "WATCHLIST_TMDB_TOKEN=token-of-the-env-file-0123456789abcdef\n"
    )
    env = clean_env(WATCHLIST_MONGODB_URI=backends.mongodb_uri, WATCHLIST_REDIS_URL=backends.redis_url)
    running = start_dev_run(tmp_path, env)
    try:
        assert running.printed["WATCHLIST_TMDB_BASE_URL"] == f"http://127.0.0.1:{tmdb_port}"
        assert running.printed["WATCHLIST_TMDB_TOKEN"] == "token-of-the-env-file-0123456789abcdef"
        fake = httpx.get(
            f"http://127.0.0.1:{tmdb_port}/3/movie/550",
            headers={"Authorization": "Bearer token-of-the-env-file-0123456789abcdef"},
            timeout=5,
        )
        assert fake.status_code == 200
        headers = {"Authorization": f"Bearer {running.printed['TOKEN']}"}
        assert httpx.get(f"{running.url}/v1/movies/550", headers=headers, timeout=10).status_code == 200
        assert len(descendants(running.process.pid)) == 1  # only the fake: MongoDB and Redis are given
    finally:
        stop_dev_run(running.process)


def test_dev_run_uses_configured_servers_and_spawns_nothing(tmp_path: Path, backends: Backends) -> None:
    env = clean_env(
        WATCHLIST_MONGODB_URI=backends.mongodb_uri,
        WATCHLIST_REDIS_URL=backends.redis_url,
        WATCHLIST_MONGODB_DATABASE="watchlist_cli_test",
        # A TMDb configured by hand, even on loopback, is used as it is: no fake is started for it.
        WATCHLIST_TMDB_BASE_URL="http://127.0.0.1:9",
        WATCHLIST_TMDB_TOKEN="configured-token",
    )
    running = start_dev_run(tmp_path, env, timeout_s=30)
    try:
        assert list(running.printed) == ["WATCHLIST_MONGODB_URI", "WATCHLIST_REDIS_URL", "TOKEN"]
        assert running.printed["WATCHLIST_MONGODB_URI"] == backends.mongodb_uri
        assert running.printed["WATCHLIST_REDIS_URL"] == backends.redis_url
        assert descendants(running.process.pid) == set()
        assert not (tmp_path / ".devdata").exists()
    finally:
        stop_dev_run(running.process)


def test_fake_tmdb_command_serves_the_env_file_fake(tmp_path: Path) -> None:
    tmdb_port = free_port()
    (tmp_path / ".env").write_text(
        f"WATCHLIST_JWT_SECRET={'s' * 48}\n"
        f"WATCHLIST_TMDB_BASE_URL=http://127.0.0.1:{tmdb_port}\n"
        "WATCHLIST_TMDB_TOKEN=token-of-the-env-file\n"
    )
    process = dev("fake-tmdb", cwd=tmp_path, env=clean_env())
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == f"fake-tmdb listening on http://127.0.0.1:{tmdb_port}"
        url = f"http://127.0.0.1:{tmdb_port}/3/movie/550"
        assert httpx.get(url, headers={"Authorization": "Bearer token-of-the-env-file"}, timeout=5).is_success
        assert httpx.get(url, timeout=5).status_code == 401
    finally:
        stop_dev_run(process)
    assert process.returncode == 0
