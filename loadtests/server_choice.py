"""The ASGI server, chosen by measurement: the bare route and our hello and cached page on uvicorn (as
``watchlist-service serve`` runs it) and on granian, one worker each, wrk ``-t1 -c32`` in one run.

granian is not a dependency: point ``GRANIAN`` at its executable (``python -m venv /tmp/g && /tmp/g/bin/pip
install granian``); its interpreter must be the same Python version as ours, since it imports our packages
through ``PYTHONPATH``.

    GRANIAN=/tmp/g/bin/granian .venv/bin/python -m loadtests.server_choice
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from loadtests.bench import Bench
from loadtests.servers import (
    ACCESS_LOG_WRITTEN,
    UNREACHED_LIMITS,
    serve_bare_route,
    serve_one_worker,
    start_backends,
)
from watchlist_dev.processes import free_port, wait_for_port, wait_ready
from watchlist_service.security import mint_token

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def granian(app: str, env: dict[str, str], log: Path, *, factory: bool = False) -> Iterator[str]:
    """``app`` on granian (uvloop, one worker) with our packages on its path; yields its base URL."""
    port = free_port()
    paths = [*site.getsitepackages(), str(ROOT / "src"), str(ROOT)]
    args = [os.environ["GRANIAN"], "--interface", "asgi", "--loop", "uvloop", "--host", "127.0.0.1"]
    args += ["--port", str(port), "--log-level", "warning", *(["--factory"] if factory else []), app]
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603  # our own argument list
            args, env={**env, "PYTHONPATH": os.pathsep.join(paths)}, cwd=log.parent, stdout=out, stderr=out
        )
    try:
        if factory:
            wait_ready(f"http://127.0.0.1:{port}", process, timeout_s=30, log_path=log)
        else:
            wait_for_port(port, timeout_s=30, process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    """Measure and print; nothing is written."""
    if "GRANIAN" not in os.environ:
        sys.exit(__doc__)
    with tempfile.TemporaryDirectory(prefix="watchlist-servers-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        settings, env = start_backends(work, stack)
        env.update({**UNREACHED_LIMITS, **ACCESS_LOG_WRITTEN})
        token = mint_token(settings, "server-choice", ttl_s=3600)
        bench = Bench(6, 32, work)
        with serve_bare_route(work) as url:
            bench.wrk("bare route, uvicorn", url, baseline="bare")
        with granian("loadtests.bare_app:app", env, work / "granian-bare.log") as base:
            bench.wrk("bare route, granian", base + "/bare", baseline="bare")
        with serve_one_worker(env, work) as (base, _):
            httpx.post(
                base + "/v1/watchlist",
                json={"contentId": "movie:550"},
                headers={"Authorization": f"Bearer {token}"},
            )
            bench.wrk("hello, uvicorn", base + "/v1/hello", token=token)
            bench.wrk("cached page, uvicorn", base + "/v1/watchlist", token=token)
        with granian("watchlist_service.app:app_factory", env, work / "granian.log", factory=True) as base:
            bench.wrk("hello, granian", base + "/v1/hello", token=token)
            bench.wrk("cached page, granian", base + "/v1/watchlist", token=token)


if __name__ == "__main__":
    main()
