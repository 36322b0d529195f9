"""The image, built and run: the Dockerfile built here (``watchlist-dev image``, as ``make image``), then run
as production runs it, against the test session's real mongod, Redis and fake TMDb
(docs/operations.md#the-image).

The container gets a read-only root filesystem with only /tmp writable, runs as the image's non-root user,
reaches the host's loopback services through slirp4netns (10.0.2.2) and is reached on a published port. As
root (CI) a missing podman, runc or debootstrap is installed from Debian; otherwise the test skips with the
install hint.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import TEST_SECRET, Backends, bearer
from tests.integration.catalog_support import TMDB_TOKEN, FakeTmdb
from watchlist_dev import debian
from watchlist_dev.image import Built, Engine, ImageError, build, find_engine, runnable
from watchlist_dev.processes import free_port
from watchlist_service.config import Settings

pytest_plugins = ["tests.integration.catalog_fixtures"]
pytestmark = [pytest.mark.image, pytest.mark.slow]

HOST_FROM_CONTAINER = "10.0.2.2"  # slirp4netns with allow_host_loopback: the host's 127.0.0.1
IMAGE_TAG = "localhost/watchlist-service:test"
READY_TIMEOUT_S = 90
UID = "10001"


@dataclass(frozen=True)
class Image:
    engine: Engine
    run_flags: list[str]
    built: Built


@dataclass(frozen=True)
class Container:
    engine: Engine
    name: str
    url: str

    def logs(self) -> str:
        result = self.engine.run("logs", self.name, timeout_s=30)
        return result.stdout + result.stderr

    def state(self) -> dict[str, object]:
        raw = self.engine.run("inspect", "--format", "{{json .State}}", self.name, timeout_s=30, check=True)
        state: dict[str, object] = json.loads(raw.stdout)
        return state


def _from_container(url: str) -> str:
    return url.replace("127.0.0.1", HOST_FROM_CONTAINER)


@pytest.fixture(scope="module")
def image() -> Image:
    try:
        engine = find_engine()
        built = build(engine, tag=IMAGE_TAG)
        engine, flags = runnable(engine, IMAGE_TAG)
    except ImageError as exc:
        if not debian.can_install() and "not found" in str(exc):
            pytest.skip(str(exc))
        raise
    size_mb = built.size_bytes / 1e6
    print(f"\nimage {built.tag} FROM {built.base}: built in {built.seconds:.0f} s, {size_mb:.0f} MB")
    return Image(engine=engine, run_flags=flags, built=built)


@pytest.fixture
def container(
    image: Image, backends: Backends, settings: Settings, fake_tmdb: FakeTmdb
) -> Iterator[Container]:
    port = free_port()
    name = f"watchlist-test-{uuid.uuid4().hex[:8]}"
    env = {
        "WATCHLIST_MONGODB_URI": f"mongodb://{HOST_FROM_CONTAINER}:{backends.mongod.port}/?directConnection=true",
        "WATCHLIST_MONGODB_DATABASE": "watchlist_image_test",
        "WATCHLIST_REDIS_URL": _from_container(backends.redis_url),
        "WATCHLIST_JWT_SECRET": TEST_SECRET,
        "WATCHLIST_TMDB_BASE_URL": _from_container(fake_tmdb.url),
        "WATCHLIST_TMDB_TOKEN": TMDB_TOKEN,
    }
    env_flags = [flag for key, value in env.items() for flag in ("-e", f"{key}={value}")]
    started = image.engine.run(
        "run",
        "--detach",
        "--name",
        name,
        "--read-only",
        "--tmpfs",
        "/tmp",  # noqa: S108 (the container's own /tmp, a tmpfs)
        "--network",
        "slirp4netns:allow_host_loopback=true",
        "--publish",
        f"127.0.0.1:{port}:8000",
        *image.run_flags,
        *env_flags,
        image.built.tag,
        timeout_s=120,
    )
    assert started.returncode == 0, started.stderr
    running = Container(engine=image.engine, name=name, url=f"http://127.0.0.1:{port}")
    try:
        _wait_ready(running)
        yield running
    finally:
        image.engine.run("rm", "--force", "--time", "0", name, timeout_s=60)


def _wait_ready(container: Container) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{container.url}/v1/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the container did not get ready in {READY_TIMEOUT_S} s:\n{container.logs()[-4000:]}")


def test_the_image_runs_read_only_as_a_user_serves_a_list_and_stops_cleanly(
    container: Container, settings: Settings
) -> None:
    """docs/operations.md#the-image: non-root, read-only root, HEALTHCHECK, an authenticated add and page,
    bad input answered 4xx with the process still serving, and SIGTERM ending in exit code 0."""
    engine = container.engine
    assert engine.run("exec", container.name, "id", "-u", timeout_s=30).stdout.strip() == UID
    read_only = engine.run("exec", container.name, "touch", "/app/written", timeout_s=30)
    assert read_only.returncode != 0
    assert "Read-only file system" in read_only.stderr
    writable = engine.run("exec", container.name, "touch", "/tmp/written", timeout_s=30)  # noqa: S108
    assert writable.returncode == 0, writable.stderr

    healthcheck = engine.run("healthcheck", "run", container.name, timeout_s=60)
    assert healthcheck.returncode == 0, healthcheck.stdout + healthcheck.stderr

    headers = bearer(settings, f"image-{uuid.uuid4().hex[:8]}")
    with httpx.Client(base_url=container.url, headers=headers, timeout=10) as client:
        bad = client.post("/v1/watchlist", json={"contentId": "film:1"})
        assert bad.status_code == 400
        assert bad.headers["content-type"].startswith("application/problem+json")
        added = client.post("/v1/watchlist", json={"contentId": "movie:550"})
        assert added.status_code == 201, added.text
        page = client.get("/v1/watchlist", params={"page": 1, "limit": 10})
        assert page.status_code == 200
        assert [item["contentId"] for item in page.json()["items"]] == ["movie:550"]

    stopped = engine.run("stop", "--time", "30", container.name, timeout_s=60)  # SIGTERM, then 30 s of grace
    assert stopped.returncode == 0, stopped.stderr
    state = container.state()
    logs = container.logs()
    assert state["ExitCode"] == 0, logs[-4000:]
    assert "Application shutdown complete" in logs


def test_the_dockerfile_builds_from_a_base_this_machine_can_get(image: Image) -> None:
    """The base is the named one when it can be pulled, else one made with debootstrap (said by the build)."""
    assert image.built.base in {"python:3.11-slim-bookworm", "localhost/watchlist-base:bookworm"}
    inspect = image.engine.run(
        "image",
        "inspect",
        "--format",
        '{"user": {{json .Config.User}}, "healthcheck": {{json .Config.Healthcheck}}}',
        image.built.tag,
        timeout_s=30,
        check=True,
    )
    config = json.loads(inspect.stdout)
    assert config["user"] == f"{UID}:{UID}"
    assert config["healthcheck"]["Test"][:2] == ["CMD", "python"]
