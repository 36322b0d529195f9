from typing import Literal

ItemType = Literal["movie", "tv"]

ITEM_TYPE_VALUES: set[ItemType] = {
    "movie",
    "tv",
}


def check_item_type(value: str) -> ItemType:
    if value in ITEM_TYPE_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {ITEM_TYPE_VALUES!r}")
