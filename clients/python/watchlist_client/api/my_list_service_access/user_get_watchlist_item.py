from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.item import Item
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    user_id: str,
    content_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/users/{user_id}/watchlist/{content_id}".format(
            user_id=quote(str(user_id), safe=""),
            content_id=quote(str(content_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Item | Problem | None:
    if response.status_code == 200:
        response_200 = Item.from_dict(response.json())

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

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Item | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    user_id: str,
    content_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[Item | Problem]:
    """Read one item of the list

     Whether a title is in the list, with its notes, watched state and rating: 200 with the item, 404
    `not-in-list` when it is not there.

    Args:
        user_id (str): a user id (a token subject)
        content_id (str): "movie:550" or "tv:1396"

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Item | Problem]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        content_id=content_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: str,
    content_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Item | Problem | None:
    """Read one item of the list

     Whether a title is in the list, with its notes, watched state and rating: 200 with the item, 404
    `not-in-list` when it is not there.

    Args:
        user_id (str): a user id (a token subject)
        content_id (str): "movie:550" or "tv:1396"

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Item | Problem
    """

    return sync_detailed(
        user_id=user_id,
        content_id=content_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    user_id: str,
    content_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[Item | Problem]:
    """Read one item of the list

     Whether a title is in the list, with its notes, watched state and rating: 200 with the item, 404
    `not-in-list` when it is not there.

    Args:
        user_id (str): a user id (a token subject)
        content_id (str): "movie:550" or "tv:1396"

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Item | Problem]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        content_id=content_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: str,
    content_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Item | Problem | None:
    """Read one item of the list

     Whether a title is in the list, with its notes, watched state and rating: 200 with the item, 404
    `not-in-list` when it is not there.

    Args:
        user_id (str): a user id (a token subject)
        content_id (str): "movie:550" or "tv:1396"

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Item | Problem
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            content_id=content_id,
            client=client,
        )
    ).parsed
