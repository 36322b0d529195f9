from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    user_id: str,
    content_id: str,
    *,
    if_match: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_match, Unset):
        headers["If-Match"] = if_match

    _kwargs: dict[str, Any] = {
        "method": "delete",
        "url": "/v1/users/{user_id}/watchlist/{content_id}".format(
            user_id=quote(str(user_id), safe=""),
            content_id=quote(str(content_id), safe=""),
        ),
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Any | Problem | None:
    if response.status_code == 204:
        response_204 = cast(Any, None)
        return response_204

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

    if response.status_code == 412:
        response_412 = Problem.from_dict(response.json())

        return response_412

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Any | Problem]:
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
    if_match: None | str | Unset = UNSET,
) -> Response[Any | Problem]:
    """Remove a title from the list

     Removes the title: 204 without a body, 404 `not-in-list` when it is not there (a retried remove that
    already succeeded answers 404 too).

    Args:
        user_id (str): a user id (a token subject)
        content_id (str): "movie:550" or "tv:1396"
        if_match (None | str | Unset): apply only if the list is at this version: "7" (the ETag of
            a write), a page's ETag, or "*" (the list exists); 412 otherwise

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        content_id=content_id,
        if_match=if_match,
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
    if_match: None | str | Unset = UNSET,
) -> Any | Problem | None:
    """Remove a title from the list

     Removes the title: 204 without a body, 404 `not-in-list` when it is not there (a retried remove that
    already succeeded answers 404 too).

    Args:
        user_id (str): a user id (a token subject)
        content_id (str): "movie:550" or "tv:1396"
        if_match (None | str | Unset): apply only if the list is at this version: "7" (the ETag of
            a write), a page's ETag, or "*" (the list exists); 412 otherwise

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem
    """

    return sync_detailed(
        user_id=user_id,
        content_id=content_id,
        client=client,
        if_match=if_match,
    ).parsed


async def asyncio_detailed(
    user_id: str,
    content_id: str,
    *,
    client: AuthenticatedClient | Client,
    if_match: None | str | Unset = UNSET,
) -> Response[Any | Problem]:
    """Remove a title from the list

     Removes the title: 204 without a body, 404 `not-in-list` when it is not there (a retried remove that
    already succeeded answers 404 too).

    Args:
        user_id (str): a user id (a token subject)
        content_id (str): "movie:550" or "tv:1396"
        if_match (None | str | Unset): apply only if the list is at this version: "7" (the ETag of
            a write), a page's ETag, or "*" (the list exists); 412 otherwise

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        content_id=content_id,
        if_match=if_match,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: str,
    content_id: str,
    *,
    client: AuthenticatedClient | Client,
    if_match: None | str | Unset = UNSET,
) -> Any | Problem | None:
    """Remove a title from the list

     Removes the title: 204 without a body, 404 `not-in-list` when it is not there (a retried remove that
    already succeeded answers 404 too).

    Args:
        user_id (str): a user id (a token subject)
        content_id (str): "movie:550" or "tv:1396"
        if_match (None | str | Unset): apply only if the list is at this version: "7" (the ETag of
            a write), a page's ETag, or "*" (the list exists); 412 otherwise

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            content_id=content_id,
            client=client,
            if_match=if_match,
        )
    ).parsed
