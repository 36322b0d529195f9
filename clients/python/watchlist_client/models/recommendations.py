from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.catalog_item import CatalogItem


T = TypeVar("T", bound="Recommendations")


@_attrs_define
class Recommendations:
    """
    Attributes:
        based_on (list[str]):
        results (list[CatalogItem]):
        version (int):
        stale (bool | Unset):  Default: False.
    """

    based_on: list[str]
    results: list[CatalogItem]
    version: int
    stale: bool | Unset = False
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        based_on = self.based_on

        results = []
        for results_item_data in self.results:
            results_item = results_item_data.to_dict()
            results.append(results_item)

        version = self.version

        stale = self.stale

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "basedOn": based_on,
                "results": results,
                "version": version,
            }
        )
        if stale is not UNSET:
            field_dict["stale"] = stale

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.catalog_item import CatalogItem  # noqa: PLC0415

        d = dict(src_dict)
        based_on = cast(list[str], d.pop("basedOn"))

        results = []
        _results = d.pop("results")
        for results_item_data in _results:
            results_item = CatalogItem.from_dict(results_item_data)

            results.append(results_item)

        version = d.pop("version")

        stale = d.pop("stale", UNSET)

        recommendations = cls(
            based_on=based_on,
            results=results,
            version=version,
            stale=stale,
        )

        recommendations.additional_properties = d
        return recommendations

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
