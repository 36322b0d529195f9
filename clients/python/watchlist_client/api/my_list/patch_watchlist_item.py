from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.item import Item
from ...models.patch_request import PatchRequest
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    content_id: str,
    *,
    body: PatchRequest,
    if_match: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_match, Unset):
        headers["If-Match"] = if_match

    _kwargs: dict[str, Any] = {
        "method": "patch",
        "url": "/v1/watchlist/{content_id}".format(
            content_id=quote(str(content_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
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

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 412:
        response_412 = Problem.from_dict(response.json())

        return response_412

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

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
    content_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: PatchRequest,
    if_match: None | str | Unset = UNSET,
) -> Response[Item | Problem]:
    """Change some fields of an item

     Changes the fields the body names: `notes`, `watched`, `rating` (1..10); `null` clears notes or
    rating, an absent field stays as it is. A patch that changes nothing leaves the version alone; a
    patch that names no field is 400.

    Args:
        content_id (str): "movie:550" or "tv:1396"
        if_match (None | str | Unset): apply only if the list is at this version: "7" (the ETag of
            a write), a page's ETag, or "*" (the list exists); 412 otherwise
        body (PatchRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Item | Problem]
    """

    kwargs = _get_kwargs(
        content_id=content_id,
        body=body,
        if_match=if_match,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    content_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: PatchRequest,
    if_match: None | str | Unset = UNSET,
) -> Item | Problem | None:
    """Change some fields of an item

     Changes the fields the body names: `notes`, `watched`, `rating` (1..10); `null` clears notes or
    rating, an absent field stays as it is. A patch that changes nothing leaves the version alone; a
    patch that names no field is 400.

    Args:
        content_id (str): "movie:550" or "tv:1396"
        if_match (None | str | Unset): apply only if the list is at this version: "7" (the ETag of
            a write), a page's ETag, or "*" (the list exists); 412 otherwise
        body (PatchRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Item | Problem
    """

    return sync_detailed(
        content_id=content_id,
        client=client,
        body=body,
        if_match=if_match,
    ).parsed


async def asyncio_detailed(
    content_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: PatchRequest,
    if_match: None | str | Unset = UNSET,
) -> Response[Item | Problem]:
    """Change some fields of an item

     Changes the fields the body names: `notes`, `watched`, `rating` (1..10); `null` clears notes or
    rating, an absent field stays as it is. A patch that changes nothing leaves the version alone; a
    patch that names no field is 400.

    Args:
        content_id (str): "movie:550" or "tv:1396"
        if_match (None | str | Unset): apply only if the list is at this version: "7" (the ETag of
            a write), a page's ETag, or "*" (the list exists); 412 otherwise
        body (PatchRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Item | Problem]
    """

    kwargs = _get_kwargs(
        content_id=content_id,
        body=body,
        if_match=if_match,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    content_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: PatchRequest,
    if_match: None | str | Unset = UNSET,
) -> Item | Problem | None:
    """Change some fields of an item

     Changes the fields the body names: `notes`, `watched`, `rating` (1..10); `null` clears notes or
    rating, an absent field stays as it is. A patch that changes nothing leaves the version alone; a
    patch that names no field is 400.

    Args:
        content_id (str): "movie:550" or "tv:1396"
        if_match (None | str | Unset): apply only if the list is at this version: "7" (the ETag of
            a write), a page's ETag, or "*" (the list exists); 412 otherwise
        body (PatchRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Item | Problem
    """

    return (
        await asyncio_detailed(
            content_id=content_id,
            client=client,
            body=body,
            if_match=if_match,
        )
    ).parsed
