"""The service's console script, ``watchlist-service serve | token``, as real processes."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import jwt
import pytest

from tests.conftest import TEST_SECRET, clean_env, cli, start_server
from watchlist_dev.processes import free_port
from watchlist_service.config import Settings

pytestmark = pytest.mark.slow


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
