"""Another service reading users' lists on their behalf, with a ``watchlist:read:any`` service token."""

from __future__ import annotations

import random
from urllib.parse import quote

from locust import FastHttpUser, between, task

from loadtests.scenarios.checks import expect, json_body
from loadtests.scenarios.settings import IdentityPool, LoadTestSettings

SETTINGS = LoadTestSettings.from_env()
IDENTITIES = IdentityPool(SETTINGS)


class InternalServiceUser(FastHttpUser):
    """A recommendation or notification service: reads, never writes."""

    weight = 1
    host = SETTINGS.host
    wait_time = between(SETTINGS.think_min_s, SETTINGS.think_max_s)

    def on_start(self) -> None:
        """One service token for the whole run (services do not log in per request)."""
        self.auth = {"Authorization": f"Bearer {IDENTITIES.service_token()}"}

    @task
    def read_users_list(self) -> None:
        """The first page (or, now and then, the second) of some user's list."""
        user_id = IDENTITIES.user_id()
        page = 1 if random.random() < 0.8 else 2
        with self.client.get(
            f"/v1/users/{quote(user_id, safe='')}/watchlist?page={page}",
            headers=self.auth,
            name="/v1/users/[id]/watchlist",
            catch_response=True,
        ) as response:
            if expect(response, 200):
                json_body(response, "items", "total")
