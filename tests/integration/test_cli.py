"""The console script: ``dev`` (what ``make run`` starts), ``serve`` and ``token``, as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from dotenv import dotenv_values

from tests.conftest import TEST_SECRET, Backends, start_server, stop_process
from watchlist_service.cli import ensure_dev_env
from watchlist_service.config import Settings
from watchlist_service.devstack.processes import free_port, pid_alive

pytestmark = pytest.mark.slow


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHLIST_")}
    env.update(extra)
    return env


def cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watchlist_service", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name may hold spaces; the parent pid is the 2nd field after the closing parenthesis.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_token_command_mints_a_verifiable_token(tmp_path: Path) -> None:
    result = cli(
        "token",
        "--sub",
        "alice",
        "--scope",
        "watchlist:read:any",
        "--ttl",
        "120",
        cwd=tmp_path,
        env=clean_env(WATCHLIST_JWT_SECRET=TEST_SECRET),
    )
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), TEST_SECRET, algorithms=["HS256"], audience="watchlist")
    assert claims["sub"] == "alice"
    assert claims["scope"] == "watchlist:read:any"
    assert claims["exp"] - claims["iat"] == 120


def test_token_command_refuses_without_a_secret(tmp_path: Path) -> None:
    env = clean_env(
        WATCHLIST_JWT_ALGORITHMS='["RS256"]', WATCHLIST_JWT_JWKS_URL="https://idp.example.com/jwks"
    )
    result = cli("token", "--sub", "alice", cwd=tmp_path, env=env)
    assert result.returncode != 0
    assert "refusing" in result.stderr


def test_serve_refuses_an_invalid_configuration(tmp_path: Path) -> None:
    result = cli(
        "serve", "--port", str(free_port()), cwd=tmp_path, env=clean_env(WATCHLIST_JWT_SECRET="short")
    )
    assert result.returncode != 0
    assert "WATCHLIST_JWT_SECRET must be at least 32 characters" in result.stderr


def test_dev_env_file_is_written_once(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    ensure_dev_env(env_file)
    first = dotenv_values(env_file)["WATCHLIST_JWT_SECRET"]
    ensure_dev_env(env_file)
    assert dotenv_values(env_file)["WATCHLIST_JWT_SECRET"] == first
    assert first is not None
    assert len(first) >= 32
    assert env_file.stat().st_mode & 0o077 == 0


@pytest.fixture
def dev_stack(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, str], int, Path]]:
    """``watchlist-service dev`` in an empty project directory, as ``make run`` starts it."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "watchlist_service", "dev", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    printed: dict[str, str] = {}
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 90
        while "TOKEN" not in printed and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            name, sep, value = line.strip().partition("=")
            if sep and name.isupper():
                printed[name] = value
        assert {"WATCHLIST_MONGODB_URI", "WATCHLIST_REDIS_URL", "TOKEN"} <= printed.keys(), printed
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield process, printed, port, tmp_path
    finally:
        stop_process(process, signal.SIGINT, timeout_s=30)
        if process.stdout is not None:
            process.stdout.close()


def test_dev_stack_serves_shares_with_a_second_instance_and_leaves_no_orphans(
    dev_stack: tuple[subprocess.Popen[str], dict[str, str], int, Path],
) -> None:
    process, printed, port, project = dev_stack
    headers = {"Authorization": f"Bearer {printed['TOKEN']}"}
    base = f"http://127.0.0.1:{port}"
    added = httpx.post(f"{base}/v1/watchlist", json={"contentId": "movie:550"}, headers=headers, timeout=10)
    assert added.status_code == 201, added.text
    assert (project / ".env").exists()
    assert (project / ".devdata" / "mongo" / "db").is_dir()

    # A second instance started in the project directory with the printed URIs shares data and cache,
    # and `token` run there signs with the same secret.
    settings = Settings(_env_file=project / ".env")
    second = start_server(
        settings,
        project,
        cwd=project,
        WATCHLIST_MONGODB_URI=printed["WATCHLIST_MONGODB_URI"],
        WATCHLIST_REDIS_URL=printed["WATCHLIST_REDIS_URL"],
        WATCHLIST_JWT_SECRET=str(dotenv_values(project / ".env")["WATCHLIST_JWT_SECRET"]),
    )
    try:
        token = cli("token", "--sub", "demo", cwd=project, env=clean_env()).stdout.strip()
        page = httpx.get(
            f"{second.url}/v1/watchlist", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert [i["contentId"] for i in page.json()["items"]] == ["movie:550"]
    finally:
        second.stop()

    children = children_of(process.pid)
    assert len(children) >= 2  # mongod and redis-server
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    deadline = time.monotonic() + 10
    while any(pid_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(pid_alive(pid) for pid in children)


def test_dev_stack_uses_configured_servers_and_spawns_nothing(tmp_path: Path, backends: Backends) -> None:
    port = free_port()
    env = clean_env(
        WATCHLIST_MONGODB_URI=backends.mongodb_uri,
        WATCHLIST_REDIS_URL=backends.redis_url,
        WATCHLIST_MONGODB_DATABASE="watchlist_cli_test",
        # A configured TMDb too; otherwise the stack starts the fake one.
        WATCHLIST_TMDB_BASE_URL="http://127.0.0.1:9",
        WATCHLIST_TMDB_TOKEN="configured-token",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "watchlist_service", "dev", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(2)]
        assert lines == [
            f"WATCHLIST_MONGODB_URI={backends.mongodb_uri}",
            f"WATCHLIST_REDIS_URL={backends.redis_url}",
        ]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert children_of(process.pid) == []
        assert not (tmp_path / ".devdata").exists()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def test_serve_writes_json_access_logs_with_the_request_id(settings: Settings, tmp_path: Path) -> None:
    server = start_server(settings, tmp_path, WATCHLIST_ACCESS_LOG="true", WATCHLIST_LOG_LEVEL="INFO")
    try:
        response = httpx.get(f"{server.url}/v1/watchlist", headers={"X-Request-ID": "trace-42"}, timeout=10)
        assert response.status_code == 401
    finally:
        server.stop()
    records = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]
    access = [r for r in records if r.get("requestId") == "trace-42"]
    assert access, records
    assert access[-1]["msg"] == "GET /v1/watchlist 401"
    assert access[-1]["status"] == 401
    assert access[-1]["level"] == "INFO"
    assert "durationMs" in access[-1]
    assert TEST_SECRET not in server.log_path.read_text()
