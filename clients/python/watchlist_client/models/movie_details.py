from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.movie_details_type import MovieDetailsType, check_movie_details_type

if TYPE_CHECKING:
    from ..models.company import Company
    from ..models.genre import Genre
    from ..models.spoken_language import SpokenLanguage


T = TypeVar("T", bound="MovieDetails")


@_attrs_define
class MovieDetails:
    """
    Attributes:
        backdrop_path (None | str):
        budget (int | None):
        content_id (str):
        genre_ids (list[int] | None):
        genres (list[Genre] | None):
        homepage (None | str):
        id (int):
        imdb_id (None | str):
        original_title (None | str):
        overview (None | str):
        popularity (float | None):
        poster_path (None | str):
        production_companies (list[Company] | None):
        release_date (None | str):
        revenue (int | None):
        runtime (int | None):
        spoken_languages (list[SpokenLanguage] | None):
        status (None | str):
        tagline (None | str):
        title (None | str):
        type_ (MovieDetailsType):
        vote_average (float | None):
        vote_count (int | None):
    """

    backdrop_path: None | str
    budget: int | None
    content_id: str
    genre_ids: list[int] | None
    genres: list[Genre] | None
    homepage: None | str
    id: int
    imdb_id: None | str
    original_title: None | str
    overview: None | str
    popularity: float | None
    poster_path: None | str
    production_companies: list[Company] | None
    release_date: None | str
    revenue: int | None
    runtime: int | None
    spoken_languages: list[SpokenLanguage] | None
    status: None | str
    tagline: None | str
    title: None | str
    type_: MovieDetailsType
    vote_average: float | None
    vote_count: int | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        backdrop_path: None | str
        backdrop_path = self.backdrop_path

        budget: int | None
        budget = self.budget

        content_id = self.content_id

        genre_ids: list[int] | None
        if isinstance(self.genre_ids, list):
            genre_ids = self.genre_ids

        else:
            genre_ids = self.genre_ids

        genres: list[dict[str, Any]] | None
        if isinstance(self.genres, list):
            genres = []
            for genres_type_0_item_data in self.genres:
                genres_type_0_item = genres_type_0_item_data.to_dict()
                genres.append(genres_type_0_item)

        else:
            genres = self.genres

        homepage: None | str
        homepage = self.homepage

        id = self.id

        imdb_id: None | str
        imdb_id = self.imdb_id

        original_title: None | str
        original_title = self.original_title

        overview: None | str
        overview = self.overview

        popularity: float | None
        popularity = self.popularity

        poster_path: None | str
        poster_path = self.poster_path

        production_companies: list[dict[str, Any]] | None
        if isinstance(self.production_companies, list):
            production_companies = []
            for production_companies_type_0_item_data in self.production_companies:
                production_companies_type_0_item = production_companies_type_0_item_data.to_dict()
                production_companies.append(production_companies_type_0_item)

        else:
            production_companies = self.production_companies

        release_date: None | str
        release_date = self.release_date

        revenue: int | None
        revenue = self.revenue

        runtime: int | None
        runtime = self.runtime

        spoken_languages: list[dict[str, Any]] | None
        if isinstance(self.spoken_languages, list):
            spoken_languages = []
            for spoken_languages_type_0_item_data in self.spoken_languages:
                spoken_languages_type_0_item = spoken_languages_type_0_item_data.to_dict()
                spoken_languages.append(spoken_languages_type_0_item)

        else:
            spoken_languages = self.spoken_languages

        status: None | str
        status = self.status

        tagline: None | str
        tagline = self.tagline

        title: None | str
        title = self.title

        type_: str = self.type_

        vote_average: float | None
        vote_average = self.vote_average

        vote_count: int | None
        vote_count = self.vote_count

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "backdropPath": backdrop_path,
                "budget": budget,
                "contentId": content_id,
                "genreIds": genre_ids,
                "genres": genres,
                "homepage": homepage,
                "id": id,
                "imdbId": imdb_id,
                "originalTitle": original_title,
                "overview": overview,
                "popularity": popularity,
                "posterPath": poster_path,
                "productionCompanies": production_companies,
                "releaseDate": release_date,
                "revenue": revenue,
                "runtime": runtime,
                "spokenLanguages": spoken_languages,
                "status": status,
                "tagline": tagline,
                "title": title,
                "type": type_,
                "voteAverage": vote_average,
                "voteCount": vote_count,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.company import Company  # noqa: PLC0415
        from ..models.genre import Genre  # noqa: PLC0415
        from ..models.spoken_language import SpokenLanguage  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_backdrop_path(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        backdrop_path = _parse_backdrop_path(d.pop("backdropPath"))

        def _parse_budget(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        budget = _parse_budget(d.pop("budget"))

        content_id = d.pop("contentId")

        def _parse_genre_ids(data: object) -> list[int] | None:
            if data is None:
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                genre_ids_type_0 = cast(list[int], data)

                return genre_ids_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[int] | None, data)

        genre_ids = _parse_genre_ids(d.pop("genreIds"))

        def _parse_genres(data: object) -> list[Genre] | None:
            if data is None:
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                genres_type_0 = []
                _genres_type_0 = data
                for genres_type_0_item_data in _genres_type_0:
                    genres_type_0_item = Genre.from_dict(genres_type_0_item_data)

                    genres_type_0.append(genres_type_0_item)

                return genres_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[Genre] | None, data)

        genres = _parse_genres(d.pop("genres"))

        def _parse_homepage(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        homepage = _parse_homepage(d.pop("homepage"))

        id = d.pop("id")

        def _parse_imdb_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        imdb_id = _parse_imdb_id(d.pop("imdbId"))

        def _parse_original_title(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        original_title = _parse_original_title(d.pop("originalTitle"))

        def _parse_overview(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        overview = _parse_overview(d.pop("overview"))

        def _parse_popularity(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        popularity = _parse_popularity(d.pop("popularity"))

        def _parse_poster_path(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        poster_path = _parse_poster_path(d.pop("posterPath"))

        def _parse_production_companies(data: object) -> list[Company] | None:
            if data is None:
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                production_companies_type_0 = []
                _production_companies_type_0 = data
                for production_companies_type_0_item_data in _production_companies_type_0:
                    production_companies_type_0_item = Company.from_dict(production_companies_type_0_item_data)

                    production_companies_type_0.append(production_companies_type_0_item)

                return production_companies_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[Company] | None, data)

        production_companies = _parse_production_companies(d.pop("productionCompanies"))

        def _parse_release_date(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        release_date = _parse_release_date(d.pop("releaseDate"))

        def _parse_revenue(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        revenue = _parse_revenue(d.pop("revenue"))

        def _parse_runtime(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        runtime = _parse_runtime(d.pop("runtime"))

        def _parse_spoken_languages(data: object) -> list[SpokenLanguage] | None:
            if data is None:
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                spoken_languages_type_0 = []
                _spoken_languages_type_0 = data
                for spoken_languages_type_0_item_data in _spoken_languages_type_0:
                    spoken_languages_type_0_item = SpokenLanguage.from_dict(spoken_languages_type_0_item_data)

                    spoken_languages_type_0.append(spoken_languages_type_0_item)

                return spoken_languages_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[SpokenLanguage] | None, data)

        spoken_languages = _parse_spoken_languages(d.pop("spokenLanguages"))

        def _parse_status(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        status = _parse_status(d.pop("status"))

        def _parse_tagline(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        tagline = _parse_tagline(d.pop("tagline"))

        def _parse_title(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        title = _parse_title(d.pop("title"))

        type_ = check_movie_details_type(d.pop("type"))

        def _parse_vote_average(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        vote_average = _parse_vote_average(d.pop("voteAverage"))

        def _parse_vote_count(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        vote_count = _parse_vote_count(d.pop("voteCount"))

        movie_details = cls(
            backdrop_path=backdrop_path,
            budget=budget,
            content_id=content_id,
            genre_ids=genre_ids,
            genres=genres,
            homepage=homepage,
            id=id,
            imdb_id=imdb_id,
            original_title=original_title,
            overview=overview,
            popularity=popularity,
            poster_path=poster_path,
            production_companies=production_companies,
            release_date=release_date,
            revenue=revenue,
            runtime=runtime,
            spoken_languages=spoken_languages,
            status=status,
            tagline=tagline,
            title=title,
            type_=type_,
            vote_average=vote_average,
            vote_count=vote_count,
        )

        movie_details.additional_properties = d
        return movie_details

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
