from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.catalog_item_type import CatalogItemType, check_catalog_item_type

T = TypeVar("T", bound="CatalogItem")


@_attrs_define
class CatalogItem:
    """
    Attributes:
        backdrop_path (None | str):
        content_id (str):
        genre_ids (list[int] | None):
        id (int):
        original_title (None | str):
        overview (None | str):
        popularity (float | None):
        poster_path (None | str):
        release_date (None | str):
        title (None | str):
        type_ (CatalogItemType):
        vote_average (float | None):
        vote_count (int | None):
    """

    backdrop_path: None | str
    content_id: str
    genre_ids: list[int] | None
    id: int
    original_title: None | str
    overview: None | str
    popularity: float | None
    poster_path: None | str
    release_date: None | str
    title: None | str
    type_: CatalogItemType
    vote_average: float | None
    vote_count: int | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        backdrop_path: None | str
        backdrop_path = self.backdrop_path

        content_id = self.content_id

        genre_ids: list[int] | None
        if isinstance(self.genre_ids, list):
            genre_ids = self.genre_ids

        else:
            genre_ids = self.genre_ids

        id = self.id

        original_title: None | str
        original_title = self.original_title

        overview: None | str
        overview = self.overview

        popularity: float | None
        popularity = self.popularity

        poster_path: None | str
        poster_path = self.poster_path

        release_date: None | str
        release_date = self.release_date

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
                "contentId": content_id,
                "genreIds": genre_ids,
                "id": id,
                "originalTitle": original_title,
                "overview": overview,
                "popularity": popularity,
                "posterPath": poster_path,
                "releaseDate": release_date,
                "title": title,
                "type": type_,
                "voteAverage": vote_average,
                "voteCount": vote_count,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_backdrop_path(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        backdrop_path = _parse_backdrop_path(d.pop("backdropPath"))

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

        id = d.pop("id")

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

        def _parse_release_date(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        release_date = _parse_release_date(d.pop("releaseDate"))

        def _parse_title(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        title = _parse_title(d.pop("title"))

        type_ = check_catalog_item_type(d.pop("type"))

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

        catalog_item = cls(
            backdrop_path=backdrop_path,
            content_id=content_id,
            genre_ids=genre_ids,
            id=id,
            original_title=original_title,
            overview=overview,
            popularity=popularity,
            poster_path=poster_path,
            release_date=release_date,
            title=title,
            type_=type_,
            vote_average=vote_average,
            vote_count=vote_count,
        )

        catalog_item.additional_properties = d
        return catalog_item

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
