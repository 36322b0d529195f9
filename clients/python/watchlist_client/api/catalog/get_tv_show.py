from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.tv_details import TvDetails
from ...types import Response


def _get_kwargs(
    tv_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/tv/{tv_id}".format(
            tv_id=quote(str(tv_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | TvDetails | None:
    if response.status_code == 200:
        response_200 = TvDetails.from_dict(response.json())

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Problem | TvDetails]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    tv_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[Problem | TvDetails]:
    """Read a TV show's details

     One TV show with its genres, seasons and episode counts; 404 `tv-not-found` when TMDb does not know
    the id.

    Args:
        tv_id (str): TMDb TV show id (1..2^31-1)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | TvDetails]
    """

    kwargs = _get_kwargs(
        tv_id=tv_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    tv_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Problem | TvDetails | None:
    """Read a TV show's details

     One TV show with its genres, seasons and episode counts; 404 `tv-not-found` when TMDb does not know
    the id.

    Args:
        tv_id (str): TMDb TV show id (1..2^31-1)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | TvDetails
    """

    return sync_detailed(
        tv_id=tv_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    tv_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[Problem | TvDetails]:
    """Read a TV show's details

     One TV show with its genres, seasons and episode counts; 404 `tv-not-found` when TMDb does not know
    the id.

    Args:
        tv_id (str): TMDb TV show id (1..2^31-1)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | TvDetails]
    """

    kwargs = _get_kwargs(
        tv_id=tv_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    tv_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Problem | TvDetails | None:
    """Read a TV show's details

     One TV show with its genres, seasons and episode counts; 404 `tv-not-found` when TMDb does not know
    the id.

    Args:
        tv_id (str): TMDb TV show id (1..2^31-1)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | TvDetails
    """

    return (
        await asyncio_detailed(
            tv_id=tv_id,
            client=client,
        )
    ).parsed
