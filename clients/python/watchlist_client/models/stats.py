from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="Stats")


@_attrs_define
class Stats:
    """
    Attributes:
        average_rating (float | None):
        movies (int):
        rated (int):
        total (int):
        tv (int):
        unwatched (int):
        version (int):
        watched (int):
    """

    average_rating: float | None
    movies: int
    rated: int
    total: int
    tv: int
    unwatched: int
    version: int
    watched: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        average_rating: float | None
        average_rating = self.average_rating

        movies = self.movies

        rated = self.rated

        total = self.total

        tv = self.tv

        unwatched = self.unwatched

        version = self.version

        watched = self.watched

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "averageRating": average_rating,
                "movies": movies,
                "rated": rated,
                "total": total,
                "tv": tv,
                "unwatched": unwatched,
                "version": version,
                "watched": watched,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_average_rating(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        average_rating = _parse_average_rating(d.pop("averageRating"))

        movies = d.pop("movies")

        rated = d.pop("rated")

        total = d.pop("total")

        tv = d.pop("tv")

        unwatched = d.pop("unwatched")

        version = d.pop("version")

        watched = d.pop("watched")

        stats = cls(
            average_rating=average_rating,
            movies=movies,
            rated=rated,
            total=total,
            tv=tv,
            unwatched=unwatched,
            version=version,
            watched=watched,
        )

        stats.additional_properties = d
        return stats

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
