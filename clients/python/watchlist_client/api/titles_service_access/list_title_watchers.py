from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.watchers import Watchers
from ...types import UNSET, Response, Unset


def _get_kwargs(
    content_id: str,
    *,
    cursor: None | str | Unset = UNSET,
    count: int | Unset = 100,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

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
        "url": "/v1/titles/{content_id}/watchers".format(
            content_id=quote(str(content_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | Watchers | None:
    if response.status_code == 200:
        response_200 = Watchers.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Problem | Watchers]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    content_id: str,
    *,
    client: AuthenticatedClient | Client,
    cursor: None | str | Unset = UNSET,
    count: int | Unset = 100,
) -> Response[Problem | Watchers]:
    """List the users who hold a title

     The ids of the users whose list holds the title, ascending, `count` at a time; `nextCursor`
    continues the walk (keyset: a user who holds the title throughout is answered once). Needs a token
    with `watchlist:read:any` (403 otherwise).

    Args:
        content_id (str): "movie:550" or "tv:1396"
        cursor (None | str | Unset): `nextCursor` of the previous page; absent for the first
        count (int | Unset): user ids per page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Watchers]
    """

    kwargs = _get_kwargs(
        content_id=content_id,
        cursor=cursor,
        count=count,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    content_id: str,
    *,
    client: AuthenticatedClient | Client,
    cursor: None | str | Unset = UNSET,
    count: int | Unset = 100,
) -> Problem | Watchers | None:
    """List the users who hold a title

     The ids of the users whose list holds the title, ascending, `count` at a time; `nextCursor`
    continues the walk (keyset: a user who holds the title throughout is answered once). Needs a token
    with `watchlist:read:any` (403 otherwise).

    Args:
        content_id (str): "movie:550" or "tv:1396"
        cursor (None | str | Unset): `nextCursor` of the previous page; absent for the first
        count (int | Unset): user ids per page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Watchers
    """

    return sync_detailed(
        content_id=content_id,
        client=client,
        cursor=cursor,
        count=count,
    ).parsed


async def asyncio_detailed(
    content_id: str,
    *,
    client: AuthenticatedClient | Client,
    cursor: None | str | Unset = UNSET,
    count: int | Unset = 100,
) -> Response[Problem | Watchers]:
    """List the users who hold a title

     The ids of the users whose list holds the title, ascending, `count` at a time; `nextCursor`
    continues the walk (keyset: a user who holds the title throughout is answered once). Needs a token
    with `watchlist:read:any` (403 otherwise).

    Args:
        content_id (str): "movie:550" or "tv:1396"
        cursor (None | str | Unset): `nextCursor` of the previous page; absent for the first
        count (int | Unset): user ids per page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Watchers]
    """

    kwargs = _get_kwargs(
        content_id=content_id,
        cursor=cursor,
        count=count,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    content_id: str,
    *,
    client: AuthenticatedClient | Client,
    cursor: None | str | Unset = UNSET,
    count: int | Unset = 100,
) -> Problem | Watchers | None:
    """List the users who hold a title

     The ids of the users whose list holds the title, ascending, `count` at a time; `nextCursor`
    continues the walk (keyset: a user who holds the title throughout is answered once). Needs a token
    with `watchlist:read:any` (403 otherwise).

    Args:
        content_id (str): "movie:550" or "tv:1396"
        cursor (None | str | Unset): `nextCursor` of the previous page; absent for the first
        count (int | Unset): user ids per page Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Watchers
    """

    return (
        await asyncio_detailed(
            content_id=content_id,
            client=client,
            cursor=cursor,
            count=count,
        )
    ).parsed
