"""The nginx configuration ``make cluster`` generates (the running cluster is in test_cluster_lb.py)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import uvicorn

from watchlist_dev.cluster import UPSTREAM_IDLE_S, ClusterError, find_nginx, nginx_config
from watchlist_service.cli import uvicorn_kwargs
from watchlist_service.config import Settings


def config(tmp_path: Path) -> str:
    return nginx_config(8080, [9001, 9002], tmp_path, keepalive=64)


def block(text: str, opening: str) -> str:
    start = text.index(opening)
    return text[start : text.index("}", start)]


def test_nginx_drops_idle_upstream_connections_before_uvicorn_does(tmp_path: Path) -> None:
    """Otherwise nginx reuses a connection uvicorn is closing: a reset, a 502, an instance marked down."""
    settings = Settings(_env_file=None, jwt_secret="x" * 40)
    uvicorn_idle = uvicorn_kwargs(settings).get(
        "timeout_keep_alive", uvicorn.Config(app="x:y").timeout_keep_alive
    )
    upstream = block(config(tmp_path), "upstream watchlist {")
    match = re.search(r"keepalive_timeout (\d+)s;", upstream)
    assert match is not None
    assert int(match.group(1)) == UPSTREAM_IDLE_S
    assert float(uvicorn_idle) > UPSTREAM_IDLE_S  # type: ignore[arg-type]


def test_balancing_websocket_and_retry_rules(tmp_path: Path) -> None:
    text = config(tmp_path)
    upstream = block(text, "upstream watchlist {")
    assert "least_conn;" in upstream
    assert "server 127.0.0.1:9001" in upstream
    assert "server 127.0.0.1:9002" in upstream
    assert "keepalive 64;" in upstream
    events = block(text, "location = /v1/watchlist/events {")
    assert "proxy_set_header Upgrade $http_upgrade;" in events
    assert "proxy_set_header Connection $connection_upgrade;" in events
    everything_else = block(text, "location / {")
    assert 'proxy_set_header Connection "";' in everything_else
    # Retried on another instance only where nginx deems the method idempotent (never POST or PATCH).
    assert "proxy_next_upstream error timeout;" in everything_else
    directives = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    assert "non_idempotent" not in directives
    assert "X-Request-ID $watchlist_request_id" in text
    assert "access_log off;" in text
    assert "worker_processes 1;" in text
    # Nothing under /etc or /var: every path nginx writes is in the run directory.
    for path in re.findall(r"(?:pid|error_log|_temp_path) (\S+?)[; ]", text):
        assert path.startswith(str(tmp_path)), path


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    try:
        nginx = find_nginx(install=False)
    except ClusterError as exc:
        pytest.skip(str(exc))
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / "temp" / name).mkdir(parents=True)
    conf = tmp_path / "nginx.conf"
    conf.write_text(config(tmp_path))
    check = subprocess.run(
        [nginx, "-t", "-p", f"{tmp_path}/", "-c", str(conf), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
