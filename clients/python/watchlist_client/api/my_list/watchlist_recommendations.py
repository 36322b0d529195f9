from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.recommendations import Recommendations
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    count: int | Unset = 20,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["count"] = count

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/watchlist/recommendations",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | Recommendations | None:
    if response.status_code == 200:
        response_200 = Recommendations.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = Problem.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Problem | Recommendations]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    count: int | Unset = 20,
) -> Response[Problem | Recommendations]:
    """Recommend titles like the list's

     TMDb's recommendations for the list's most recently added titles, merged (a title recommended for
    more of them ranks higher) without the titles already in the list; cached per list version. While
    TMDb is down: the last good answer with `stale: true` and `X-Stale: true`, or 503 `catalog-
    unavailable` when there is none.

    Args:
        count (int | Unset): how many titles Default: 20.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Recommendations]
    """

    kwargs = _get_kwargs(
        count=count,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    count: int | Unset = 20,
) -> Problem | Recommendations | None:
    """Recommend titles like the list's

     TMDb's recommendations for the list's most recently added titles, merged (a title recommended for
    more of them ranks higher) without the titles already in the list; cached per list version. While
    TMDb is down: the last good answer with `stale: true` and `X-Stale: true`, or 503 `catalog-
    unavailable` when there is none.

    Args:
        count (int | Unset): how many titles Default: 20.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Recommendations
    """

    return sync_detailed(
        client=client,
        count=count,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    count: int | Unset = 20,
) -> Response[Problem | Recommendations]:
    """Recommend titles like the list's

     TMDb's recommendations for the list's most recently added titles, merged (a title recommended for
    more of them ranks higher) without the titles already in the list; cached per list version. While
    TMDb is down: the last good answer with `stale: true` and `X-Stale: true`, or 503 `catalog-
    unavailable` when there is none.

    Args:
        count (int | Unset): how many titles Default: 20.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Recommendations]
    """

    kwargs = _get_kwargs(
        count=count,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    count: int | Unset = 20,
) -> Problem | Recommendations | None:
    """Recommend titles like the list's

     TMDb's recommendations for the list's most recently added titles, merged (a title recommended for
    more of them ranks higher) without the titles already in the list; cached per list version. While
    TMDb is down: the last good answer with `stale: true` and `X-Stale: true`, or 503 `catalog-
    unavailable` when there is none.

    Args:
        count (int | Unset): how many titles Default: 20.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Recommendations
    """

    return (
        await asyncio_detailed(
            client=client,
            count=count,
        )
    ).parsed
