"""Example bodies of the catalog routes for the OpenAPI document, built from the API Structs."""

from __future__ import annotations

from typing import Final

import msgspec

from watchlist_service.catalog.schemas import CatalogItem, CatalogPage, Genre, MovieDetails, Season, TvDetails

_MOVIE: Final = CatalogItem(
    id=550,
    type="movie",
    content_id="movie:550",
    title="Fight Club",
    original_title="Fight Club",
    overview="A ticking-time-bomb insomniac and a slippery soap salesman channel primal male aggression.",
    poster_path="/pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg",
    backdrop_path="/hZkgoQYus5vegHoetLkCJzb17zJ.jpg",
    release_date="1999-10-15",
    genre_ids=[18],
    popularity=61.4,
    vote_average=8.4,
    vote_count=29_000,
)
_TV: Final = CatalogItem(
    id=1396,
    type="tv",
    content_id="tv:1396",
    title="Breaking Bad",
    original_title="Breaking Bad",
    overview="A chemistry teacher diagnosed with lung cancer turns to making methamphetamine.",
    poster_path="/ztkUQFLlC19CCMYHW9o1zWhJRNq.jpg",
    backdrop_path="/tsRy63Mu5cu8etL1X7ZLyf7UP1M.jpg",
    release_date="2008-01-20",
    genre_ids=[18, 80],
    popularity=120.5,
    vote_average=8.9,
    vote_count=14_000,
)
CATALOG_PAGE: Final = CatalogPage(
    results=[_MOVIE, _TV],
    next_cursor="eyJzIjoiZGlzY292ZXIiLCJwIjoyMH0.c2lnbmF0dXJl",
)
MOVIE: Final = MovieDetails(
    **msgspec.structs.asdict(_MOVIE),
    genres=[Genre(id=18, name="Drama")],
    runtime=139,
    status="Released",
    tagline="Mischief. Mayhem. Soap.",
    budget=63_000_000,
    revenue=100_853_753,
    imdb_id="tt0137523",
    homepage=None,
    production_companies=None,
    spoken_languages=None,
)
TV_SHOW: Final = TvDetails(
    **msgspec.structs.asdict(_TV),
    genres=[Genre(id=18, name="Drama"), Genre(id=80, name="Crime")],
    status="Ended",
    tagline="Remember my name",
    homepage=None,
    production_companies=None,
    spoken_languages=None,
    number_of_seasons=5,
    number_of_episodes=62,
    seasons=[
        Season(
            id=3572,
            season_number=1,
            name="Season 1",
            episode_count=7,
            air_date="2008-01-20",
            poster_path=None,
            overview=None,
        )
    ],
    episode_run_time=[45, 47],
    last_air_date="2013-09-29",
    in_production=False,
)
