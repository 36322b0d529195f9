"""A ``watchlist-service serve`` process for the benchmarks (one worker: uvicorn runs in that process)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from watchlist_service.devstack.processes import free_port, wait_for_port


@contextmanager
def serve_one_worker(env: dict[str, str], log_dir: Path) -> Iterator[tuple[str, int]]:
    """Start the server with ``env``, wait until it is ready; yields its base URL and pid."""
    port = free_port()
    with (log_dir / f"server-{port}.log").open("wb") as log:
        process = subprocess.Popen(  # noqa: S603  # our own argument list
            [sys.executable, "-m", "watchlist_service", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=log_dir,
        )
    try:
        wait_for_port(port, timeout_s=30, process=process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while httpx.get(url + "/v1/health/ready", timeout=5).status_code != 200:
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not get ready")
            time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=60)
