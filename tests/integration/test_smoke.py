from __future__ import annotations

import httpx

from tests.conftest import User


async def test_add_then_list(app_client: httpx.AsyncClient, user: User) -> None:
    response = await app_client.post("/v1/watchlist", json={"contentId": "movie:550"}, headers=user.headers)
    assert response.status_code == 201, response.text
    page = await app_client.get("/v1/watchlist", headers=user.headers)
    assert page.status_code == 200, page.text
    assert [i["contentId"] for i in page.json()["items"]] == ["movie:550"]
