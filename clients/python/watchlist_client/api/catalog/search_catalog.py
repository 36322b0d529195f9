from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.catalog_page import CatalogPage
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    query: str,
    cursor: None | str | Unset = UNSET,
    count: int | Unset = 20,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["query"] = query

    json_cursor: None | str | Unset
    if isinstance(cursor, Unset):
        json_cursor = UNSET
    else:
        json_cursor = cursor
    params["cursor"] = json_cursor

    params["count"] = count

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/search",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> CatalogPage | Problem | None:
    if response.status_code == 200:
        response_200 = CatalogPage.from_dict(response.json())

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
) -> Response[CatalogPage | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    query: str,
    cursor: None | str | Unset = UNSET,
    count: int | Unset = 20,
) -> Response[CatalogPage | Problem]:
    """Search movies and TV shows by title

     Movies and TV shows whose title matches `query` (people are left out, so a page may hold fewer than
    `count`); follow `nextCursor` for more.

    Args:
        query (str): words of the title
        cursor (None | str | Unset): opaque: the previous page's nextCursor
        count (int | Unset): results per page Default: 20.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CatalogPage | Problem]
    """

    kwargs = _get_kwargs(
        query=query,
        cursor=cursor,
        count=count,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    query: str,
    cursor: None | str | Unset = UNSET,
    count: int | Unset = 20,
) -> CatalogPage | Problem | None:
    """Search movies and TV shows by title

     Movies and TV shows whose title matches `query` (people are left out, so a page may hold fewer than
    `count`); follow `nextCursor` for more.

    Args:
        query (str): words of the title
        cursor (None | str | Unset): opaque: the previous page's nextCursor
        count (int | Unset): results per page Default: 20.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CatalogPage | Problem
    """

    return sync_detailed(
        client=client,
        query=query,
        cursor=cursor,
        count=count,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    query: str,
    cursor: None | str | Unset = UNSET,
    count: int | Unset = 20,
) -> Response[CatalogPage | Problem]:
    """Search movies and TV shows by title

     Movies and TV shows whose title matches `query` (people are left out, so a page may hold fewer than
    `count`); follow `nextCursor` for more.

    Args:
        query (str): words of the title
        cursor (None | str | Unset): opaque: the previous page's nextCursor
        count (int | Unset): results per page Default: 20.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CatalogPage | Problem]
    """

    kwargs = _get_kwargs(
        query=query,
        cursor=cursor,
        count=count,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    query: str,
    cursor: None | str | Unset = UNSET,
    count: int | Unset = 20,
) -> CatalogPage | Problem | None:
    """Search movies and TV shows by title

     Movies and TV shows whose title matches `query` (people are left out, so a page may hold fewer than
    `count`); follow `nextCursor` for more.

    Args:
        query (str): words of the title
        cursor (None | str | Unset): opaque: the previous page's nextCursor
        count (int | Unset): results per page Default: 20.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CatalogPage | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            query=query,
            cursor=cursor,
            count=count,
        )
    ).parsed
