from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.page import Page
from ...models.problem import Problem
from ...models.sort_order import SortOrder
from ...models.user_list_watchlist_type_type_1 import UserListWatchlistTypeType1
from ...models.user_list_watchlist_type_type_2_type_1 import (
    UserListWatchlistTypeType2Type1,
)
from ...models.user_list_watchlist_type_type_3_type_1 import (
    UserListWatchlistTypeType3Type1,
)
from ...types import UNSET, Response, Unset


def _get_kwargs(
    user_id: str,
    *,
    page: int | Unset = 1,
    limit: int | Unset = 10,
    type_: None
    | Unset
    | UserListWatchlistTypeType1
    | UserListWatchlistTypeType2Type1
    | UserListWatchlistTypeType3Type1 = UNSET,
    sort: SortOrder | Unset = UNSET,
    watched: bool | None | Unset = UNSET,
    rated: bool | None | Unset = UNSET,
    if_none_match: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_none_match, Unset):
        headers["If-None-Match"] = if_none_match

    params: dict[str, Any] = {}

    params["page"] = page

    params["limit"] = limit

    json_type_: None | str | Unset
    if isinstance(type_, Unset):
        json_type_ = UNSET
    elif isinstance(type_, str):
        json_type_ = type_
    elif isinstance(type_, str):
        json_type_ = type_
    elif isinstance(type_, str):
        json_type_ = type_
    else:
        json_type_ = type_
    params["type"] = json_type_

    json_sort: str | Unset = UNSET
    if not isinstance(sort, Unset):
        json_sort = sort

    params["sort"] = json_sort

    json_watched: bool | None | Unset
    if isinstance(watched, Unset):
        json_watched = UNSET
    else:
        json_watched = watched
    params["watched"] = json_watched

    json_rated: bool | None | Unset
    if isinstance(rated, Unset):
        json_rated = UNSET
    else:
        json_rated = rated
    params["rated"] = json_rated

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/users/{user_id}/watchlist".format(
            user_id=quote(str(user_id), safe=""),
        ),
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Any | Page | Problem | None:
    if response.status_code == 200:
        response_200 = Page.from_dict(response.json())

        return response_200

    if response.status_code == 304:
        response_304 = cast(Any, None)
        return response_304

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


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any | Page | Problem]:
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
    page: int | Unset = 1,
    limit: int | Unset = 10,
    type_: None
    | Unset
    | UserListWatchlistTypeType1
    | UserListWatchlistTypeType2Type1
    | UserListWatchlistTypeType3Type1 = UNSET,
    sort: SortOrder | Unset = UNSET,
    watched: bool | None | Unset = UNSET,
    rated: bool | None | Unset = UNSET,
    if_none_match: str | Unset = UNSET,
) -> Response[Any | Page | Problem]:
    """Read a page of the list

     One page of the list, newest first by default (`sort`), optionally only movies or TV shows (`type`),
    watched or unwatched (`watched`), rated or unrated (`rated`). A page past the end is 200 with no
    items. `Link` names the first, previous, next and last page of the same view; `ETag` is the page at
    this list version: send it back as `If-None-Match` for a 304 without body.

    Args:
        user_id (str): a user id (a token subject)
        page (int | Unset): 1-based page number Default: 1.
        limit (int | Unset): items per page Default: 10.
        type_ (None | Unset | UserListWatchlistTypeType1 | UserListWatchlistTypeType2Type1 |
            UserListWatchlistTypeType3Type1): only movies or only TV shows
        sort (SortOrder | Unset): order of the list
        watched (bool | None | Unset): only watched (true) or unwatched (false) titles
        rated (bool | None | Unset): only rated (true) or unrated (false) titles
        if_none_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Page | Problem]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        page=page,
        limit=limit,
        type_=type_,
        sort=sort,
        watched=watched,
        rated=rated,
        if_none_match=if_none_match,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
    page: int | Unset = 1,
    limit: int | Unset = 10,
    type_: None
    | Unset
    | UserListWatchlistTypeType1
    | UserListWatchlistTypeType2Type1
    | UserListWatchlistTypeType3Type1 = UNSET,
    sort: SortOrder | Unset = UNSET,
    watched: bool | None | Unset = UNSET,
    rated: bool | None | Unset = UNSET,
    if_none_match: str | Unset = UNSET,
) -> Any | Page | Problem | None:
    """Read a page of the list

     One page of the list, newest first by default (`sort`), optionally only movies or TV shows (`type`),
    watched or unwatched (`watched`), rated or unrated (`rated`). A page past the end is 200 with no
    items. `Link` names the first, previous, next and last page of the same view; `ETag` is the page at
    this list version: send it back as `If-None-Match` for a 304 without body.

    Args:
        user_id (str): a user id (a token subject)
        page (int | Unset): 1-based page number Default: 1.
        limit (int | Unset): items per page Default: 10.
        type_ (None | Unset | UserListWatchlistTypeType1 | UserListWatchlistTypeType2Type1 |
            UserListWatchlistTypeType3Type1): only movies or only TV shows
        sort (SortOrder | Unset): order of the list
        watched (bool | None | Unset): only watched (true) or unwatched (false) titles
        rated (bool | None | Unset): only rated (true) or unrated (false) titles
        if_none_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Page | Problem
    """

    return sync_detailed(
        user_id=user_id,
        client=client,
        page=page,
        limit=limit,
        type_=type_,
        sort=sort,
        watched=watched,
        rated=rated,
        if_none_match=if_none_match,
    ).parsed


async def asyncio_detailed(
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
    page: int | Unset = 1,
    limit: int | Unset = 10,
    type_: None
    | Unset
    | UserListWatchlistTypeType1
    | UserListWatchlistTypeType2Type1
    | UserListWatchlistTypeType3Type1 = UNSET,
    sort: SortOrder | Unset = UNSET,
    watched: bool | None | Unset = UNSET,
    rated: bool | None | Unset = UNSET,
    if_none_match: str | Unset = UNSET,
) -> Response[Any | Page | Problem]:
    """Read a page of the list

     One page of the list, newest first by default (`sort`), optionally only movies or TV shows (`type`),
    watched or unwatched (`watched`), rated or unrated (`rated`). A page past the end is 200 with no
    items. `Link` names the first, previous, next and last page of the same view; `ETag` is the page at
    this list version: send it back as `If-None-Match` for a 304 without body.

    Args:
        user_id (str): a user id (a token subject)
        page (int | Unset): 1-based page number Default: 1.
        limit (int | Unset): items per page Default: 10.
        type_ (None | Unset | UserListWatchlistTypeType1 | UserListWatchlistTypeType2Type1 |
            UserListWatchlistTypeType3Type1): only movies or only TV shows
        sort (SortOrder | Unset): order of the list
        watched (bool | None | Unset): only watched (true) or unwatched (false) titles
        rated (bool | None | Unset): only rated (true) or unrated (false) titles
        if_none_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Page | Problem]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        page=page,
        limit=limit,
        type_=type_,
        sort=sort,
        watched=watched,
        rated=rated,
        if_none_match=if_none_match,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
    page: int | Unset = 1,
    limit: int | Unset = 10,
    type_: None
    | Unset
    | UserListWatchlistTypeType1
    | UserListWatchlistTypeType2Type1
    | UserListWatchlistTypeType3Type1 = UNSET,
    sort: SortOrder | Unset = UNSET,
    watched: bool | None | Unset = UNSET,
    rated: bool | None | Unset = UNSET,
    if_none_match: str | Unset = UNSET,
) -> Any | Page | Problem | None:
    """Read a page of the list

     One page of the list, newest first by default (`sort`), optionally only movies or TV shows (`type`),
    watched or unwatched (`watched`), rated or unrated (`rated`). A page past the end is 200 with no
    items. `Link` names the first, previous, next and last page of the same view; `ETag` is the page at
    this list version: send it back as `If-None-Match` for a 304 without body.

    Args:
        user_id (str): a user id (a token subject)
        page (int | Unset): 1-based page number Default: 1.
        limit (int | Unset): items per page Default: 10.
        type_ (None | Unset | UserListWatchlistTypeType1 | UserListWatchlistTypeType2Type1 |
            UserListWatchlistTypeType3Type1): only movies or only TV shows
        sort (SortOrder | Unset): order of the list
        watched (bool | None | Unset): only watched (true) or unwatched (false) titles
        rated (bool | None | Unset): only rated (true) or unrated (false) titles
        if_none_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Page | Problem
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            client=client,
            page=page,
            limit=limit,
            type_=type_,
            sort=sort,
            watched=watched,
            rated=rated,
            if_none_match=if_none_match,
        )
    ).parsed
