from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.movie_details import MovieDetails
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    movie_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/movies/{movie_id}".format(
            movie_id=quote(str(movie_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> MovieDetails | Problem | None:
    if response.status_code == 200:
        response_200 = MovieDetails.from_dict(response.json())

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


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[MovieDetails | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    movie_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[MovieDetails | Problem]:
    """Read a movie's details

     One movie with its genres, runtime, tagline, budget and companies; 404 `movie-not-found` when TMDb
    does not know the id.

    Args:
        movie_id (str): TMDb movie id (1..2^31-1)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[MovieDetails | Problem]
    """

    kwargs = _get_kwargs(
        movie_id=movie_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    movie_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> MovieDetails | Problem | None:
    """Read a movie's details

     One movie with its genres, runtime, tagline, budget and companies; 404 `movie-not-found` when TMDb
    does not know the id.

    Args:
        movie_id (str): TMDb movie id (1..2^31-1)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        MovieDetails | Problem
    """

    return sync_detailed(
        movie_id=movie_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    movie_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[MovieDetails | Problem]:
    """Read a movie's details

     One movie with its genres, runtime, tagline, budget and companies; 404 `movie-not-found` when TMDb
    does not know the id.

    Args:
        movie_id (str): TMDb movie id (1..2^31-1)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[MovieDetails | Problem]
    """

    kwargs = _get_kwargs(
        movie_id=movie_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    movie_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> MovieDetails | Problem | None:
    """Read a movie's details

     One movie with its genres, runtime, tagline, budget and companies; 404 `movie-not-found` when TMDb
    does not know the id.

    Args:
        movie_id (str): TMDb movie id (1..2^31-1)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        MovieDetails | Problem
    """

    return (
        await asyncio_detailed(
            movie_id=movie_id,
            client=client,
        )
    ).parsed
