"""``watchlist-dev seed``: lists created through the repository look like lists built by the API."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import httpx

from tests.conftest import Backends, make_settings
from watchlist_dev.seed import seed
from watchlist_service.config import Settings


async def test_seeded_lists_behave_like_api_built_ones(
    backends: Backends, app_client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "users.jsonl"
    seeding = make_settings(backends, changes_kept=5)
    created = await seed(seeding, users=120, items=20, zipf=True, out=out, prefix="seed-a", batch=50)
    assert created == 120
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["userId"] for line in lines] == [f"seed-a-{n}" for n in range(120)]

    headers = {"Authorization": f"Bearer {lines[7]['token']}"}
    page = (await app_client.get("/v1/watchlist?limit=100", headers=headers)).json()
    assert page["total"] == 20
    assert page["version"] == 20
    added = [item["addedAt"] for item in page["items"]]
    assert added == sorted(added, reverse=True)
    assert len({item["contentId"] for item in page["items"]}) == 20
    feed = await app_client.get("/v1/watchlist/changes?since=15", headers=headers)
    assert [c["version"] for c in feed.json()["changes"]] == [16, 17, 18, 19, 20]
    assert (await app_client.get("/v1/watchlist/changes?since=14", headers=headers)).status_code == 410
    # The seeded list accepts the usual writes.
    new = await app_client.post("/v1/watchlist", json={"contentId": "tv:999999"}, headers=headers)
    assert new.status_code == 201
    assert (await app_client.get("/v1/watchlist", headers=headers)).json()["version"] == 21

    # Zipf: the most popular title is in far more lists than a uniform draw would put it.
    counts: Counter[str] = Counter()
    for line in lines[:50]:
        items = (
            await app_client.get(
                "/v1/watchlist?limit=100", headers={"Authorization": f"Bearer {line['token']}"}
            )
        ).json()["items"]
        counts.update(item["contentId"] for item in items)
    assert counts.most_common(1)[0][1] >= 25  # uniform over 6,000 titles would give about 1

    again = await seed(seeding, users=130, items=20, zipf=False, out=out, prefix="seed-a", batch=50)
    assert again == 10  # existing lists are left alone
