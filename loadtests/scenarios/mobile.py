"""A mobile app user: browses the catalog, marks what is in the list, reads pages, adds and removes titles.

Task weights give roughly 70 % reads (catalog, pages, conditional page reads), 15 % ``contains`` and 15 %
writes.
Requests are named by route so that Locust groups them (``/v1/watchlist/[id]``, not one row per title).
"""

from __future__ import annotations

import random
from urllib.parse import urlencode

from locust import FastHttpUser, between, task

from loadtests.scenarios.checks import expect, json_body
from loadtests.scenarios.mix import CATALOG_PAGE, CONTAINS_BATCH, PAGE_LIMIT, SEED_CONTENT
from loadtests.scenarios.rampup import record_ramp_up
from loadtests.scenarios.settings import IdentityPool, LoadTestSettings

SETTINGS = LoadTestSettings.from_env()
record_ramp_up()
IDENTITIES = IdentityPool(SETTINGS)
# Bounded so a long run does not grow memory; shared by all users of this process.
CATALOG_POOL_MAX = 2_000
catalog_pool: list[str] = list(SEED_CONTENT)


def remember_catalog(content_ids: list[str]) -> None:
    """Add browsed titles to the pool users add from, up to a bound."""
    known = set(catalog_pool)
    for content_id in content_ids:
        if len(catalog_pool) >= CATALOG_POOL_MAX:
            return
        if content_id not in known:
            catalog_pool.append(content_id)
            known.add(content_id)


class MobileUser(FastHttpUser):
    """One device of one user, with its own token and the list state it has seen."""

    weight = 9
    host = SETTINGS.host
    wait_time = between(SETTINGS.think_min_s, SETTINGS.think_max_s)

    def on_start(self) -> None:
        """Take an identity; start from an unknown list state."""
        identity = IDENTITIES.identity()
        self.user_id = identity.user_id
        self.auth = {"Authorization": f"Bearer {identity.token}"}
        self.in_list: list[str] = []
        self.total_pages = 1
        self.etag: str | None = None

    def _learn_page(self, body: dict[str, object]) -> None:
        total_pages = body.get("totalPages")
        if isinstance(total_pages, int):
            self.total_pages = max(1, total_pages)
        items = body.get("items")
        if isinstance(items, list):
            for item in items:
                content_id = item.get("contentId") if isinstance(item, dict) else None
                if isinstance(content_id, str) and content_id not in self.in_list:
                    self.in_list.append(content_id)

    @task(20)
    def browse_catalog(self) -> None:
        """A catalog screen, then one scroll (the next cursor)."""
        query = {"count": CATALOG_PAGE}
        with self.client.get(
            f"/v1/movies?{urlencode(query)}", headers=self.auth, name="/v1/movies", catch_response=True
        ) as response:
            body = json_body(response, "results", "nextCursor") if expect(response, 200) else None
        if body is None:
            return
        remember_catalog(
            [r["contentId"] for r in body["results"] if isinstance(r, dict) and "contentId" in r]
        )
        cursor = body["nextCursor"]
        if not cursor:
            return
        with self.client.get(
            f"/v1/movies?{urlencode({'cursor': cursor, 'count': CATALOG_PAGE})}",
            headers=self.auth,
            name="/v1/movies?cursor=[cursor]",
            catch_response=True,
        ) as response:
            body = json_body(response, "results") if expect(response, 200) else None
        if body is not None:
            remember_catalog(
                [r["contentId"] for r in body["results"] if isinstance(r, dict) and "contentId" in r]
            )

    @task(30)
    def read_page(self) -> None:
        """Any page of the list; a page past the end is still a 200."""
        page = random.randint(1, self.total_pages)
        with self.client.get(
            f"/v1/watchlist?page={page}&limit={PAGE_LIMIT}",
            headers=self.auth,
            name="/v1/watchlist?page=[n]",
            catch_response=True,
        ) as response:
            body = json_body(response, "items", "totalPages") if expect(response, 200) else None
        if body is not None:
            self._learn_page(body)

    @task(20)
    def conditional_first_page(self) -> None:
        """The first page again with the last ETag: 304 when nothing changed, a fresh 200 otherwise."""
        headers = dict(self.auth)
        if self.etag:
            headers["If-None-Match"] = self.etag
        with self.client.get(
            f"/v1/watchlist?page=1&limit={PAGE_LIMIT}",
            headers=headers,
            name="/v1/watchlist?page=1 [If-None-Match]",
            catch_response=True,
        ) as response:
            if not expect(response, 200, 304) or response.status_code == 304:
                return
            self.etag = response.headers.get("ETag")
            body = json_body(response, "items", "totalPages")
        if body is not None:
            self._learn_page(body)

    @task(15)
    def contains(self) -> None:
        """Which of 20 titles on a catalog screen are in the list."""
        candidates = list(dict.fromkeys([*self.in_list[:5], *random.sample(catalog_pool, CONTAINS_BATCH)]))
        with self.client.post(
            "/v1/watchlist/contains",
            json={"contentIds": candidates[:CONTAINS_BATCH]},
            headers=self.auth,
            name="/v1/watchlist/contains",
            catch_response=True,
        ) as response:
            if expect(response, 200):
                json_body(response)

    @task(8)
    def add(self) -> None:
        """Add a title; 409 (already there, or the list is full) is an expected answer."""
        content_id = random.choice(catalog_pool)
        with self.client.post(
            "/v1/watchlist",
            json={"contentId": content_id},
            headers=self.auth,
            name="/v1/watchlist",
            catch_response=True,
        ) as response:
            if expect(response, 201, 409) and content_id not in self.in_list:
                self.in_list.append(content_id)

    @task(7)
    def remove(self) -> None:
        """Remove a title this device saw in the list; 404 (another device removed it) is expected."""
        if self.in_list:
            content_id = self.in_list.pop(random.randrange(len(self.in_list)))
        else:
            content_id = random.choice(catalog_pool)
        with self.client.delete(
            f"/v1/watchlist/{content_id}", headers=self.auth, name="/v1/watchlist/[id]", catch_response=True
        ) as response:
            expect(response, 204, 404)
