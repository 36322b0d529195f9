from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.batch_request import BatchRequest
from ...models.batch_result import BatchResult
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    user_id: str,
    *,
    body: BatchRequest,
    if_match: None | str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_match, Unset):
        headers["If-Match"] = if_match

    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/users/{user_id}/watchlist/batch".format(
            user_id=quote(str(user_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> BatchResult | Problem | None:
    if response.status_code == 200:
        response_200 = BatchResult.from_dict(response.json())

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

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

    if response.status_code == 412:
        response_412 = Problem.from_dict(response.json())

        return response_412

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

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
) -> Response[BatchResult | Problem]:
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
    body: BatchRequest,
    if_match: None | str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[BatchResult | Problem]:
    """Add and remove titles in one call

     Up to 100 adds and removes in all (import, sync): adds first, then removes, each one atomic on its
    own. The answer says what each did (`added`, `existing`, `removed`, `notFound`, `invalid`,
    `unknown`, `full`) and the list's version after the batch. Send an `Idempotency-Key` to retry
    safely.

    Args:
        user_id (str): a user id (a token subject)
        if_match (None | str | Unset): apply only if the list is at this version: "7" (the ETag of
            a write), a page's ETag, or "*" (the list exists); 412 otherwise
        idempotency_key (str | Unset):
        body (BatchRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BatchResult | Problem]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        body=body,
        if_match=if_match,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: BatchRequest,
    if_match: None | str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> BatchResult | Problem | None:
    """Add and remove titles in one call

     Up to 100 adds and removes in all (import, sync): adds first, then removes, each one atomic on its
    own. The answer says what each did (`added`, `existing`, `removed`, `notFound`, `invalid`,
    `unknown`, `full`) and the list's version after the batch. Send an `Idempotency-Key` to retry
    safely.

    Args:
        user_id (str): a user id (a token subject)
        if_match (None | str | Unset): apply only if the list is at this version: "7" (the ETag of
            a write), a page's ETag, or "*" (the list exists); 412 otherwise
        idempotency_key (str | Unset):
        body (BatchRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BatchResult | Problem
    """

    return sync_detailed(
        user_id=user_id,
        client=client,
        body=body,
        if_match=if_match,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: BatchRequest,
    if_match: None | str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[BatchResult | Problem]:
    """Add and remove titles in one call

     Up to 100 adds and removes in all (import, sync): adds first, then removes, each one atomic on its
    own. The answer says what each did (`added`, `existing`, `removed`, `notFound`, `invalid`,
    `unknown`, `full`) and the list's version after the batch. Send an `Idempotency-Key` to retry
    safely.

    Args:
        user_id (str): a user id (a token subject)
        if_match (None | str | Unset): apply only if the list is at this version: "7" (the ETag of
            a write), a page's ETag, or "*" (the list exists); 412 otherwise
        idempotency_key (str | Unset):
        body (BatchRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BatchResult | Problem]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        body=body,
        if_match=if_match,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: BatchRequest,
    if_match: None | str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> BatchResult | Problem | None:
    """Add and remove titles in one call

     Up to 100 adds and removes in all (import, sync): adds first, then removes, each one atomic on its
    own. The answer says what each did (`added`, `existing`, `removed`, `notFound`, `invalid`,
    `unknown`, `full`) and the list's version after the batch. Send an `Idempotency-Key` to retry
    safely.

    Args:
        user_id (str): a user id (a token subject)
        if_match (None | str | Unset): apply only if the list is at this version: "7" (the ETag of
            a write), a page's ETag, or "*" (the list exists); 412 otherwise
        idempotency_key (str | Unset):
        body (BatchRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BatchResult | Problem
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            client=client,
            body=body,
            if_match=if_match,
            idempotency_key=idempotency_key,
        )
    ).parsed
