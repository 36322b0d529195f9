from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.changes import Changes
from ...models.problem import Problem
from ...types import UNSET, Response


def _get_kwargs(
    user_id: str,
    *,
    since: int,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["since"] = since

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/users/{user_id}/watchlist/changes".format(
            user_id=quote(str(user_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Changes | Problem | None:
    if response.status_code == 200:
        response_200 = Changes.from_dict(response.json())

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

    if response.status_code == 410:
        response_410 = Problem.from_dict(response.json())

        return response_410

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Changes | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
    since: int,
) -> Response[Changes | Problem]:
    """Read what changed since a version

     Delta sync for apps that keep a copy: the latest state of each title changed after list version
    `since` (`removed` entries are tombstones) and the version now. 410 `resync-required` (with the
    list's `version`) when the feed no longer reaches back to `since`, or `since` is ahead of the list:
    read the list again from page 1.

    Args:
        user_id (str): a user id (a token subject)
        since (int): the list version the client has

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Changes | Problem]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        since=since,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
    since: int,
) -> Changes | Problem | None:
    """Read what changed since a version

     Delta sync for apps that keep a copy: the latest state of each title changed after list version
    `since` (`removed` entries are tombstones) and the version now. 410 `resync-required` (with the
    list's `version`) when the feed no longer reaches back to `since`, or `since` is ahead of the list:
    read the list again from page 1.

    Args:
        user_id (str): a user id (a token subject)
        since (int): the list version the client has

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Changes | Problem
    """

    return sync_detailed(
        user_id=user_id,
        client=client,
        since=since,
    ).parsed


async def asyncio_detailed(
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
    since: int,
) -> Response[Changes | Problem]:
    """Read what changed since a version

     Delta sync for apps that keep a copy: the latest state of each title changed after list version
    `since` (`removed` entries are tombstones) and the version now. 410 `resync-required` (with the
    list's `version`) when the feed no longer reaches back to `since`, or `since` is ahead of the list:
    read the list again from page 1.

    Args:
        user_id (str): a user id (a token subject)
        since (int): the list version the client has

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Changes | Problem]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        since=since,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
    since: int,
) -> Changes | Problem | None:
    """Read what changed since a version

     Delta sync for apps that keep a copy: the latest state of each title changed after list version
    `since` (`removed` entries are tombstones) and the version now. 410 `resync-required` (with the
    list's `version`) when the feed no longer reaches back to `since`, or `since` is ahead of the list:
    read the list again from page 1.

    Args:
        user_id (str): a user id (a token subject)
        since (int): the list version the client has

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Changes | Problem
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            client=client,
            since=since,
        )
    ).parsed
