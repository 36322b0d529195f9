from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="Company")


@_attrs_define
class Company:
    """
    Attributes:
        id (int):
        logo_path (None | str):
        name (None | str):
        origin_country (None | str):
    """

    id: int
    logo_path: None | str
    name: None | str
    origin_country: None | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        logo_path: None | str
        logo_path = self.logo_path

        name: None | str
        name = self.name

        origin_country: None | str
        origin_country = self.origin_country

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "logoPath": logo_path,
                "name": name,
                "originCountry": origin_country,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        def _parse_logo_path(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        logo_path = _parse_logo_path(d.pop("logoPath"))

        def _parse_name(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        name = _parse_name(d.pop("name"))

        def _parse_origin_country(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        origin_country = _parse_origin_country(d.pop("originCountry"))

        company = cls(
            id=id,
            logo_path=logo_path,
            name=name,
            origin_country=origin_country,
        )

        company.additional_properties = d
        return company

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
