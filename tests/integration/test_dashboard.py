"""The Grafana dashboard (k8s/grafana-dashboard.json) asks only for what the service exports: every metric and
grouping label of every panel's PromQL is checked against a real ``/metrics`` scrape after some traffic."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import REPO_ROOT, bearer, server_env
from tests.integration.catalog_support import FAST_TMDB, TMDB_TOKEN, FakeTmdb
from tests.integration.realtime_support import open_socket, receive, subscribed
from watchlist_dev.processes import ManagedProcess, free_port, start_api
from watchlist_service.config import Settings

pytest_plugins = ["tests.integration.catalog_fixtures"]
pytestmark = pytest.mark.slow

DASHBOARD = REPO_ROOT / "k8s" / "grafana-dashboard.json"
METRIC_RE = re.compile(r"\b(?:litestar|watchlist)_[a-z0-9_]+\b")
BY_RE = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
MATCHER_RE = re.compile(r"\{([^}]*)\}")
# Added by Prometheus to every series it scrapes, not by the service.
TARGET_LABELS = {"job", "instance"}
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")
# What the traffic below must have produced samples of (the others count faults: errors, breaker openings).
EXERCISED = {
    "litestar_requests",
    "litestar_request_duration_seconds",
    "litestar_requests_in_progress",
    "watchlist_cache_events",
    "watchlist_tmdb_requests",
    "watchlist_mongo_command_seconds",
    "watchlist_redis_pipeline_commands",
    "watchlist_breaker_open",
    "watchlist_invalidator_events",
    "watchlist_invalidator_delay_seconds",
    "watchlist_ws_sockets",
    "watchlist_ws_messages",
    "watchlist_ws_published",
}


def load_dashboard(path: Path = DASHBOARD) -> dict[str, Any]:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(dashboard, dict)
    return dashboard


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of every panel, rows' panels included."""
    found: list[tuple[str, str]] = []
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            found.extend((inner["title"], target["expr"]) for target in inner.get("targets", []))
    return found


def test_the_dashboard_is_well_formed() -> None:
    dashboard = load_dashboard()
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    graphs = [panel for panel in panels if panel["type"] != "row"]
    assert len(graphs) >= 10
    for panel in graphs:
        assert panel["targets"], panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["description"], panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    assert {variable["name"] for variable in dashboard["templating"]["list"]} == {"datasource", "job"}


@pytest.fixture(scope="module")
def server(
    settings: Settings, fake_tmdb: FakeTmdb, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ManagedProcess]:
    env = server_env(
        settings,
        WATCHLIST_TMDB_BASE_URL=fake_tmdb.url,
        WATCHLIST_TMDB_TOKEN=TMDB_TOKEN,
        **{f"WATCHLIST_{name.upper()}": str(value) for name, value in FAST_TMDB.items()},
    )
    port = free_port()
    logs = tmp_path_factory.mktemp("dashboard")
    process = start_api(port, env, logs / f"server-{port}.log", timeout_s=30)
    try:
        yield process
    finally:
        process.stop()


async def some_traffic(server: ManagedProcess, settings: Settings) -> None:
    """Adds (with TMDb lookups), cached and uncached pages, catalog reads, a socket that gets an event, and
    one that is refused."""
    headers = bearer(settings, f"dash-{uuid.uuid4().hex[:8]}")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        async with open_socket(server, headers) as ws:
            await subscribed(ws)
            for content_id in ("movie:550", "movie:603", "tv:1396"):
                added = await client.post("/v1/watchlist", json={"contentId": content_id}, headers=headers)
                assert added.status_code == 201, added.text
            # Events are best effort (a publish that times out is skipped and caught up by the next one), so
            # the socket is only expected to get some message about the list.
            assert (await receive(ws, wait_s=10))["event"] in ("item.added", "resync-required")
        for _ in range(3):
            assert (await client.get("/v1/watchlist", headers=headers)).status_code == 200
        assert (await client.get("/v1/movies/550", headers=headers)).status_code == 200
        assert (await client.get("/v1/movies", headers=headers)).status_code == 200
        assert (await client.get("/v1/no-such-route", headers=headers)).status_code == 404
    # A socket with a bad token: refused or closed by the server.
    try:
        async with open_socket(server, {"Authorization": "Bearer not-a-token"}) as refused:
            await refused.recv()
    except (ConnectionClosed, InvalidStatus):
        pass


async def scrape(server: ManagedProcess) -> dict[str, set[str]]:
    """Metric family name -> the label names its samples carry (empty: declared, no sample yet)."""
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"{server.url}/metrics")).text
    families: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        labels = families.setdefault(family.name, set())
        for sample in family.samples:
            labels.update(sample.labels)
            labels.add("__sample__")
    return families


def family_of(name: str, families: dict[str, set[str]]) -> str | None:
    if name in families:
        return name
    for suffix in SUFFIXES:
        if name.endswith(suffix) and name.removesuffix(suffix) in families:
            return name.removesuffix(suffix)
    return None


async def test_every_metric_of_every_panel_is_in_a_real_scrape(
    server: ManagedProcess, settings: Settings
) -> None:
    """docs/operations.md#dashboards: each panel's metrics and grouping labels exist in /metrics."""
    await some_traffic(server, settings)
    # The change stream's invalidations of the adds come a little after them: until they are counted.
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        families = await scrape(server)
        not_exercised = sorted(name for name in EXERCISED if "__sample__" not in families.get(name, set()))
        if not not_exercised or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert not not_exercised, f"the traffic produced no sample of {not_exercised}"
    missing: list[str] = []
    wrong_labels: list[str] = []
    used: set[str] = set()
    for title, expr in queries(load_dashboard()):
        names = METRIC_RE.findall(expr)
        assert names, f"{title}: no metric of the service in {expr}"
        labels_of_query: set[str] = set()
        for name in names:
            family = family_of(name, families)
            if family is None:
                missing.append(f"{title}: {name}")
                continue
            used.add(family)
            labels_of_query |= families[family] | ({"le"} if name.endswith("_bucket") else set())
        asked = {
            label.strip() for group in BY_RE.findall(expr) for label in group.split(",") if label.strip()
        }
        asked |= {
            m.split("=")[0].strip().rstrip("!~") for g in MATCHER_RE.findall(expr) for m in g.split(",")
        }
        asked -= TARGET_LABELS
        if "__sample__" in labels_of_query and not asked <= labels_of_query:
            wrong_labels.append(f"{title}: {sorted(asked - labels_of_query)} not on {names}")
    assert not missing, f"metrics the service does not export: {missing}"
    assert not wrong_labels, f"labels the metrics do not carry: {wrong_labels}"
    # prometheus_client exposes each counter's and histogram's creation time as a family of its own.
    ours = {name for name in families if name.startswith("watchlist_") and not name.endswith("_created")}
    assert ours <= used, f"metrics on no panel: {sorted(ours - used)}"
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(f"{server.url}/v1/health/ready")).status_code == 200
