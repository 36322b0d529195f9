from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.export_format import ExportFormat
from ...models.export_watchlist_response_200 import ExportWatchlistResponse200
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    format_: ExportFormat | None | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_format_: None | str | Unset
    if isinstance(format_, Unset):
        json_format_ = UNSET
    elif isinstance(format_, str):
        json_format_ = format_
    else:
        json_format_ = format_
    params["format"] = json_format_

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/watchlist/export",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ExportWatchlistResponse200 | Problem | None:
    if response.status_code == 200:
        response_200 = ExportWatchlistResponse200.from_dict(response.json())

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
) -> Response[ExportWatchlistResponse200 | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    format_: ExportFormat | None | Unset = UNSET,
) -> Response[ExportWatchlistResponse200 | Problem]:
    """Export the list

     Every item with all its fields, at one list version (`X-List-Version`), streamed: JSON by default,
    CSV with `format=csv` or `Accept: text/csv` (cells that would start a spreadsheet formula are
    escaped). The file can be imported again as it is.

    Args:
        format_ (ExportFormat | None | Unset): json (default) or csv; else the Accept header

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ExportWatchlistResponse200 | Problem]
    """

    kwargs = _get_kwargs(
        format_=format_,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    format_: ExportFormat | None | Unset = UNSET,
) -> ExportWatchlistResponse200 | Problem | None:
    """Export the list

     Every item with all its fields, at one list version (`X-List-Version`), streamed: JSON by default,
    CSV with `format=csv` or `Accept: text/csv` (cells that would start a spreadsheet formula are
    escaped). The file can be imported again as it is.

    Args:
        format_ (ExportFormat | None | Unset): json (default) or csv; else the Accept header

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ExportWatchlistResponse200 | Problem
    """

    return sync_detailed(
        client=client,
        format_=format_,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    format_: ExportFormat | None | Unset = UNSET,
) -> Response[ExportWatchlistResponse200 | Problem]:
    """Export the list

     Every item with all its fields, at one list version (`X-List-Version`), streamed: JSON by default,
    CSV with `format=csv` or `Accept: text/csv` (cells that would start a spreadsheet formula are
    escaped). The file can be imported again as it is.

    Args:
        format_ (ExportFormat | None | Unset): json (default) or csv; else the Accept header

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ExportWatchlistResponse200 | Problem]
    """

    kwargs = _get_kwargs(
        format_=format_,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    format_: ExportFormat | None | Unset = UNSET,
) -> ExportWatchlistResponse200 | Problem | None:
    """Export the list

     Every item with all its fields, at one list version (`X-List-Version`), streamed: JSON by default,
    CSV with `format=csv` or `Accept: text/csv` (cells that would start a spreadsheet formula are
    escaped). The file can be imported again as it is.

    Args:
        format_ (ExportFormat | None | Unset): json (default) or csv; else the Accept header

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ExportWatchlistResponse200 | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            format_=format_,
        )
    ).parsed
