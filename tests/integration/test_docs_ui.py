"""The API docs page works offline: a real browser (Debian's chromium, driven by Playwright) against a real
``watchlist-service serve`` renders the operations from the assets the service ships, and "Try it out" with
a token performs an add (docs/design.md §3)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import TEST_SECRET, start_server
from watchlist_dev import debian
from watchlist_dev.processes import ManagedProcess
from watchlist_service.config import Settings
from watchlist_service.security import mint_token

pytestmark = [pytest.mark.slow, pytest.mark.browser]

# Playwright cannot download its own browsers here; Debian's chromium, headless, with nothing of its own
# reaching out (updates, sync, safe browsing) and every host name but loopback left unresolved, so a page
# that still needs a CDN fails here as it would on an offline machine.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium, installed from Debian when missing and running as root (as CI does)."""
    try:
        return debian.ensure("chromium")
    except debian.MissingPackage as exc:
        if os.environ.get("CI"):
            pytest.fail(f"on CI: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedProcess]:
    process = start_server(settings, tmp_path_factory.mktemp("docs-ui"))
    try:
        yield process
    finally:
        process.stop()


def test_swagger_ui_renders_offline_and_try_it_out_adds_a_title(
    chromium: str, server: ManagedProcess
) -> None:
    """docs/design.md §3: /schema/swagger loads only from the service itself; the Authorize dialog takes a
    bearer token and "Try it out" on addToWatchlist adds the title."""
    from playwright.sync_api import Request, Route, sync_playwright

    user = f"docs-ui-{os.urandom(4).hex()}"
    token = mint_token(Settings(_env_file=None, jwt_secret=TEST_SECRET), user)
    requested: list[str] = []
    outside: list[str] = []

    def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            route.abort("internetdisconnected")

    def record(request: Request) -> None:
        requested.append(request.url)
        parts = urlsplit(request.url)
        if parts.scheme not in ("data", "blob") and parts.hostname not in LOOPBACK:
            outside.append(request.url)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            context.route("**/*", only_loopback)
            page = context.new_page()
            page.on("request", record)
            page.set_default_timeout(30_000)
            page.goto(f"{server.url}/schema/swagger", wait_until="networkidle")

            # The operations render (Swagger UI's script ran), one block per operation.
            add = page.locator("#operations-My_List-addToWatchlist")
            add.wait_for()
            assert page.locator(".opblock").count() >= 10
            assert page.locator("#operations-My_List-listWatchlist").count() == 1

            # Authorize with a bearer token.
            page.locator("button.authorize").first.click()
            dialog = page.locator(".modal-ux")
            dialog.locator("input").first.fill(token)
            dialog.locator("button.authorize").click()
            dialog.locator("button.btn-done").click()

            # Try it out: add a title.
            add.locator(".opblock-summary").click()
            add.locator("button.try-out__btn").click()
            add.locator("textarea.body-param__text").fill('{"contentId": "movie:603"}')
            add.locator("button.execute").click()
            status = add.locator(".live-responses-table .response .response-col_status").first
            status.wait_for()
            assert status.inner_text().strip() == "201", add.locator(".live-responses-table").inner_text()
        finally:
            browser.close()

    assert not outside, f"requests that left the machine: {outside}"
    assert any(url.endswith("/schema/assets/swagger-ui-bundle.js") for url in requested), requested
    # The add went through the API: it is on the list, and the server still serves.
    page_of_list = httpx.get(
        f"{server.url}/v1/watchlist", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert page_of_list.status_code == 200
    assert [i["contentId"] for i in page_of_list.json()["items"]] == ["movie:603"]


def test_the_assets_are_the_packaged_swagger_ui(server: ManagedProcess) -> None:
    """docs/design.md §3: the page's script, styles and icon come from /schema/assets, without a token."""
    from watchlist_service.app import SWAGGER_ASSETS

    html = httpx.get(f"{server.url}/schema/swagger", timeout=10).text
    assert "cdn" not in html.lower()
    for name in (
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "swagger-ui-standalone-preset.js",
        "favicon-32x32.png",
    ):
        assert f"{SWAGGER_ASSETS}/{name}" in html
        response = httpx.get(f"{server.url}{SWAGGER_ASSETS}/{name}", timeout=10)
        assert response.status_code == 200
        assert response.content
    assert httpx.get(f"{server.url}{SWAGGER_ASSETS}/no-such-file.js", timeout=10).status_code == 404
    assert httpx.get(f"{server.url}/v1/health/live", timeout=10).status_code == 200
