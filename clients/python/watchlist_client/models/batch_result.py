from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="BatchResult")


@_attrs_define
class BatchResult:
    """
    Attributes:
        added (list[str]):
        existing (list[str]):
        full (list[str]):
        invalid (list[str]):
        not_found (list[str]):
        removed (list[str]):
        unknown (list[str]):
        version (int):
    """

    added: list[str]
    existing: list[str]
    full: list[str]
    invalid: list[str]
    not_found: list[str]
    removed: list[str]
    unknown: list[str]
    version: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        added = self.added

        existing = self.existing

        full = self.full

        invalid = self.invalid

        not_found = self.not_found

        removed = self.removed

        unknown = self.unknown

        version = self.version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "added": added,
                "existing": existing,
                "full": full,
                "invalid": invalid,
                "notFound": not_found,
                "removed": removed,
                "unknown": unknown,
                "version": version,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        added = cast(list[str], d.pop("added"))

        existing = cast(list[str], d.pop("existing"))

        full = cast(list[str], d.pop("full"))

        invalid = cast(list[str], d.pop("invalid"))

        not_found = cast(list[str], d.pop("notFound"))

        removed = cast(list[str], d.pop("removed"))

        unknown = cast(list[str], d.pop("unknown"))

        version = d.pop("version")

        batch_result = cls(
            added=added,
            existing=existing,
            full=full,
            invalid=invalid,
            not_found=not_found,
            removed=removed,
            unknown=unknown,
            version=version,
        )

        batch_result.additional_properties = d
        return batch_result

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
