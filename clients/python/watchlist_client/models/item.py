from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.item_type import ItemType, check_item_type
from ..types import UNSET, Unset

T = TypeVar("T", bound="Item")


@_attrs_define
class Item:
    """
    Attributes:
        added_at (datetime.datetime):
        content_id (str):
        tmdb_id (int):
        type_ (ItemType):
        updated_at (datetime.datetime):
        metadata_pending (bool | Unset):  Default: False.
        notes (None | str | Unset):
        poster_path (None | str | Unset):
        rating (int | None | Unset):
        release_date (None | str | Unset):
        title (None | str | Unset):
        watched (bool | Unset):  Default: False.
    """

    added_at: datetime.datetime
    content_id: str
    tmdb_id: int
    type_: ItemType
    updated_at: datetime.datetime
    metadata_pending: bool | Unset = False
    notes: None | str | Unset = UNSET
    poster_path: None | str | Unset = UNSET
    rating: int | None | Unset = UNSET
    release_date: None | str | Unset = UNSET
    title: None | str | Unset = UNSET
    watched: bool | Unset = False
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        added_at = self.added_at.isoformat()

        content_id = self.content_id

        tmdb_id = self.tmdb_id

        type_: str = self.type_

        updated_at = self.updated_at.isoformat()

        metadata_pending = self.metadata_pending

        notes: None | str | Unset
        if isinstance(self.notes, Unset):
            notes = UNSET
        else:
            notes = self.notes

        poster_path: None | str | Unset
        if isinstance(self.poster_path, Unset):
            poster_path = UNSET
        else:
            poster_path = self.poster_path

        rating: int | None | Unset
        if isinstance(self.rating, Unset):
            rating = UNSET
        else:
            rating = self.rating

        release_date: None | str | Unset
        if isinstance(self.release_date, Unset):
            release_date = UNSET
        else:
            release_date = self.release_date

        title: None | str | Unset
        if isinstance(self.title, Unset):
            title = UNSET
        else:
            title = self.title

        watched = self.watched

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "addedAt": added_at,
                "contentId": content_id,
                "tmdbId": tmdb_id,
                "type": type_,
                "updatedAt": updated_at,
            }
        )
        if metadata_pending is not UNSET:
            field_dict["metadataPending"] = metadata_pending
        if notes is not UNSET:
            field_dict["notes"] = notes
        if poster_path is not UNSET:
            field_dict["posterPath"] = poster_path
        if rating is not UNSET:
            field_dict["rating"] = rating
        if release_date is not UNSET:
            field_dict["releaseDate"] = release_date
        if title is not UNSET:
            field_dict["title"] = title
        if watched is not UNSET:
            field_dict["watched"] = watched

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        added_at = datetime.datetime.fromisoformat(d.pop("addedAt"))

        content_id = d.pop("contentId")

        tmdb_id = d.pop("tmdbId")

        type_ = check_item_type(d.pop("type"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updatedAt"))

        metadata_pending = d.pop("metadataPending", UNSET)

        def _parse_notes(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        notes = _parse_notes(d.pop("notes", UNSET))

        def _parse_poster_path(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        poster_path = _parse_poster_path(d.pop("posterPath", UNSET))

        def _parse_rating(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        rating = _parse_rating(d.pop("rating", UNSET))

        def _parse_release_date(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        release_date = _parse_release_date(d.pop("releaseDate", UNSET))

        def _parse_title(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        title = _parse_title(d.pop("title", UNSET))

        watched = d.pop("watched", UNSET)

        item = cls(
            added_at=added_at,
            content_id=content_id,
            tmdb_id=tmdb_id,
            type_=type_,
            updated_at=updated_at,
            metadata_pending=metadata_pending,
            notes=notes,
            poster_path=poster_path,
            rating=rating,
            release_date=release_date,
            title=title,
            watched=watched,
        )

        item.additional_properties = d
        return item

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
