from typing import Literal

CatalogItemType = Literal["movie", "tv"]

CATALOG_ITEM_TYPE_VALUES: set[CatalogItemType] = {
    "movie",
    "tv",
}


def check_catalog_item_type(value: str) -> CatalogItemType:
    if value in CATALOG_ITEM_TYPE_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {CATALOG_ITEM_TYPE_VALUES!r}")
