from typing import Literal

SortOrder = Literal["added.asc", "added.desc", "rank", "rating.desc", "release.desc", "title.asc"]

SORT_ORDER_VALUES: set[SortOrder] = {
    "added.asc",
    "added.desc",
    "rank",
    "rating.desc",
    "release.desc",
    "title.asc",
}


def check_sort_order(value: str) -> SortOrder:
    if value in SORT_ORDER_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {SORT_ORDER_VALUES!r}")
