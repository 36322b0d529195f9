from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="Season")


@_attrs_define
class Season:
    """
    Attributes:
        air_date (None | str):
        episode_count (int | None):
        id (int):
        name (None | str):
        overview (None | str):
        poster_path (None | str):
        season_number (int | None):
    """

    air_date: None | str
    episode_count: int | None
    id: int
    name: None | str
    overview: None | str
    poster_path: None | str
    season_number: int | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        air_date: None | str
        air_date = self.air_date

        episode_count: int | None
        episode_count = self.episode_count

        id = self.id

        name: None | str
        name = self.name

        overview: None | str
        overview = self.overview

        poster_path: None | str
        poster_path = self.poster_path

        season_number: int | None
        season_number = self.season_number

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "airDate": air_date,
                "episodeCount": episode_count,
                "id": id,
                "name": name,
                "overview": overview,
                "posterPath": poster_path,
                "seasonNumber": season_number,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_air_date(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        air_date = _parse_air_date(d.pop("airDate"))

        def _parse_episode_count(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        episode_count = _parse_episode_count(d.pop("episodeCount"))

        id = d.pop("id")

        def _parse_name(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        name = _parse_name(d.pop("name"))

        def _parse_overview(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        overview = _parse_overview(d.pop("overview"))

        def _parse_poster_path(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        poster_path = _parse_poster_path(d.pop("posterPath"))

        def _parse_season_number(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        season_number = _parse_season_number(d.pop("seasonNumber"))

        season = cls(
            air_date=air_date,
            episode_count=episode_count,
            id=id,
            name=name,
            overview=overview,
            poster_path=poster_path,
            season_number=season_number,
        )

        season.additional_properties = d
        return season

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
