from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.reorder_request import ReorderRequest
from ...models.reorder_result import ReorderResult
from ...types import UNSET, Response, Unset


def _get_kwargs(
    user_id: str,
    *,
    body: ReorderRequest,
    if_match: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_match, Unset):
        headers["If-Match"] = if_match

    _kwargs: dict[str, Any] = {
        "method": "put",
        "url": "/v1/users/{user_id}/watchlist/order".format(
            user_id=quote(str(user_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | ReorderResult | None:
    if response.status_code == 200:
        response_200 = ReorderResult.from_dict(response.json())

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

    if response.status_code == 412:
        response_412 = Problem.from_dict(response.json())

        return response_412

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 428:
        response_428 = Problem.from_dict(response.json())

        return response_428

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
) -> Response[Problem | ReorderResult]:
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
    body: ReorderRequest,
    if_match: None | str | Unset = UNSET,
) -> Response[Problem | ReorderResult]:
    """Put titles in the user's own order

     Moves the named titles (1..1,000 content ids) to the top of the user's order (`sort=rank`), in the
    order given; the others keep their order below them. `If-Match` is required (428 without, 412 when
    the list moved on). The answer says how many titles were placed, which ids were skipped (not in the
    list) and the version after it.

    Args:
        user_id (str): a user id (a token subject)
        if_match (None | str | Unset): required: the list version the order was read at, "7" (or a
            page's ETag, or "*"); 412 when it moved on, 428 without
        body (ReorderRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ReorderResult]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        body=body,
        if_match=if_match,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: ReorderRequest,
    if_match: None | str | Unset = UNSET,
) -> Problem | ReorderResult | None:
    """Put titles in the user's own order

     Moves the named titles (1..1,000 content ids) to the top of the user's order (`sort=rank`), in the
    order given; the others keep their order below them. `If-Match` is required (428 without, 412 when
    the list moved on). The answer says how many titles were placed, which ids were skipped (not in the
    list) and the version after it.

    Args:
        user_id (str): a user id (a token subject)
        if_match (None | str | Unset): required: the list version the order was read at, "7" (or a
            page's ETag, or "*"); 412 when it moved on, 428 without
        body (ReorderRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ReorderResult
    """

    return sync_detailed(
        user_id=user_id,
        client=client,
        body=body,
        if_match=if_match,
    ).parsed


async def asyncio_detailed(
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: ReorderRequest,
    if_match: None | str | Unset = UNSET,
) -> Response[Problem | ReorderResult]:
    """Put titles in the user's own order

     Moves the named titles (1..1,000 content ids) to the top of the user's order (`sort=rank`), in the
    order given; the others keep their order below them. `If-Match` is required (428 without, 412 when
    the list moved on). The answer says how many titles were placed, which ids were skipped (not in the
    list) and the version after it.

    Args:
        user_id (str): a user id (a token subject)
        if_match (None | str | Unset): required: the list version the order was read at, "7" (or a
            page's ETag, or "*"); 412 when it moved on, 428 without
        body (ReorderRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ReorderResult]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        body=body,
        if_match=if_match,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: ReorderRequest,
    if_match: None | str | Unset = UNSET,
) -> Problem | ReorderResult | None:
    """Put titles in the user's own order

     Moves the named titles (1..1,000 content ids) to the top of the user's order (`sort=rank`), in the
    order given; the others keep their order below them. `If-Match` is required (428 without, 412 when
    the list moved on). The answer says how many titles were placed, which ids were skipped (not in the
    list) and the version after it.

    Args:
        user_id (str): a user id (a token subject)
        if_match (None | str | Unset): required: the list version the order was read at, "7" (or a
            page's ETag, or "*"); 412 when it moved on, 428 without
        body (ReorderRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ReorderResult
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            client=client,
            body=body,
            if_match=if_match,
        )
    ).parsed
