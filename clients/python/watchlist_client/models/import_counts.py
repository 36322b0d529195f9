from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ImportCounts")


@_attrs_define
class ImportCounts:
    """
    Attributes:
        added (int | Unset):  Default: 0.
        ambiguous (int | Unset):  Default: 0.
        existing (int | Unset):  Default: 0.
        full (int | Unset):  Default: 0.
        unmatched (int | Unset):  Default: 0.
    """

    added: int | Unset = 0
    ambiguous: int | Unset = 0
    existing: int | Unset = 0
    full: int | Unset = 0
    unmatched: int | Unset = 0
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        added = self.added

        ambiguous = self.ambiguous

        existing = self.existing

        full = self.full

        unmatched = self.unmatched

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if added is not UNSET:
            field_dict["added"] = added
        if ambiguous is not UNSET:
            field_dict["ambiguous"] = ambiguous
        if existing is not UNSET:
            field_dict["existing"] = existing
        if full is not UNSET:
            field_dict["full"] = full
        if unmatched is not UNSET:
            field_dict["unmatched"] = unmatched

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        added = d.pop("added", UNSET)

        ambiguous = d.pop("ambiguous", UNSET)

        existing = d.pop("existing", UNSET)

        full = d.pop("full", UNSET)

        unmatched = d.pop("unmatched", UNSET)

        import_counts = cls(
            added=added,
            ambiguous=ambiguous,
            existing=existing,
            full=full,
            unmatched=unmatched,
        )

        import_counts.additional_properties = d
        return import_counts

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
