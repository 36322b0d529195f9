from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.add_request_position import AddRequestPosition, check_add_request_position
from ..types import UNSET, Unset

T = TypeVar("T", bound="AddRequest")


@_attrs_define
class AddRequest:
    """
    Attributes:
        content_id (str): "{type}:{tmdbId}", e.g. "movie:550" or "tv:1396"
        notes (None | str | Unset): free text, at most 2,000 characters
        position (AddRequestPosition | Unset):  Default: 'top'.
    """

    content_id: str
    notes: None | str | Unset = UNSET
    position: AddRequestPosition | Unset = "top"
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        content_id = self.content_id

        notes: None | str | Unset
        if isinstance(self.notes, Unset):
            notes = UNSET
        else:
            notes = self.notes

        position: str | Unset = UNSET
        if not isinstance(self.position, Unset):
            position = self.position

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "contentId": content_id,
            }
        )
        if notes is not UNSET:
            field_dict["notes"] = notes
        if position is not UNSET:
            field_dict["position"] = position

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        content_id = d.pop("contentId")

        def _parse_notes(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        notes = _parse_notes(d.pop("notes", UNSET))

        _position = d.pop("position", UNSET)
        position: AddRequestPosition | Unset
        if isinstance(_position, Unset):
            position = UNSET
        else:
            position = check_add_request_position(_position)

        add_request = cls(
            content_id=content_id,
            notes=notes,
            position=position,
        )

        add_request.additional_properties = d
        return add_request

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
