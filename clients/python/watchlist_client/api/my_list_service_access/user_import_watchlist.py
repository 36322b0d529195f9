from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.import_format import ImportFormat
from ...models.import_job import ImportJob
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    user_id: str,
    *,
    body: Any | str | Unset = UNSET,
    format_: ImportFormat | None | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

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
        "method": "post",
        "url": "/v1/users/{user_id}/watchlist/imports".format(
            user_id=quote(str(user_id), safe=""),
        ),
        "params": params,
    }

    if isinstance(body, Any):
        _kwargs["json"] = body

        headers["Content-Type"] = "application/json"
    if isinstance(body, str):
        _kwargs["content"] = body.payload
        headers["Content-Type"] = "text/csv"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ImportJob | Problem | None:
    if response.status_code == 202:
        response_202 = ImportJob.from_dict(response.json())

        return response_202

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

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = Problem.from_dict(response.json())

        return response_415

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ImportJob | Problem]:
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
    body: Any | str | Unset = UNSET,
    format_: ImportFormat | None | Unset = UNSET,
) -> Response[ImportJob | Problem]:
    """Import a file into the list

     Our own export (JSON or CSV), a Trakt watchlist export (JSON) or a Letterboxd watchlist (CSV),
    detected or named by `format`. 202 with the job and its `Location`; the titles are added in the
    background, through the same guarded add as single adds. A bad file is refused whole (400, 413, 415,
    422) and nothing is imported; 409 while another import of the list runs.

    Args:
        user_id (str): a user id (a token subject)
        format_ (ImportFormat | None | Unset): ours, trakt or letterboxd; detected from the file
            when absent
        body (Any):
        body (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ImportJob | Problem]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        body=body,
        format_=format_,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: Any | str | Unset = UNSET,
    format_: ImportFormat | None | Unset = UNSET,
) -> ImportJob | Problem | None:
    """Import a file into the list

     Our own export (JSON or CSV), a Trakt watchlist export (JSON) or a Letterboxd watchlist (CSV),
    detected or named by `format`. 202 with the job and its `Location`; the titles are added in the
    background, through the same guarded add as single adds. A bad file is refused whole (400, 413, 415,
    422) and nothing is imported; 409 while another import of the list runs.

    Args:
        user_id (str): a user id (a token subject)
        format_ (ImportFormat | None | Unset): ours, trakt or letterboxd; detected from the file
            when absent
        body (Any):
        body (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ImportJob | Problem
    """

    return sync_detailed(
        user_id=user_id,
        client=client,
        body=body,
        format_=format_,
    ).parsed


async def asyncio_detailed(
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: Any | str | Unset = UNSET,
    format_: ImportFormat | None | Unset = UNSET,
) -> Response[ImportJob | Problem]:
    """Import a file into the list

     Our own export (JSON or CSV), a Trakt watchlist export (JSON) or a Letterboxd watchlist (CSV),
    detected or named by `format`. 202 with the job and its `Location`; the titles are added in the
    background, through the same guarded add as single adds. A bad file is refused whole (400, 413, 415,
    422) and nothing is imported; 409 while another import of the list runs.

    Args:
        user_id (str): a user id (a token subject)
        format_ (ImportFormat | None | Unset): ours, trakt or letterboxd; detected from the file
            when absent
        body (Any):
        body (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ImportJob | Problem]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        body=body,
        format_=format_,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: Any | str | Unset = UNSET,
    format_: ImportFormat | None | Unset = UNSET,
) -> ImportJob | Problem | None:
    """Import a file into the list

     Our own export (JSON or CSV), a Trakt watchlist export (JSON) or a Letterboxd watchlist (CSV),
    detected or named by `format`. 202 with the job and its `Location`; the titles are added in the
    background, through the same guarded add as single adds. A bad file is refused whole (400, 413, 415,
    422) and nothing is imported; 409 while another import of the list runs.

    Args:
        user_id (str): a user id (a token subject)
        format_ (ImportFormat | None | Unset): ours, trakt or letterboxd; detected from the file
            when absent
        body (Any):
        body (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ImportJob | Problem
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            client=client,
            body=body,
            format_=format_,
        )
    ).parsed
