from typing import Literal

ListWatchlistTypeType1 = Literal["movie", "tv"]

LIST_WATCHLIST_TYPE_TYPE_1_VALUES: set[ListWatchlistTypeType1] = {
    "movie",
    "tv",
}


def check_list_watchlist_type_type_1(value: str) -> ListWatchlistTypeType1:
    if value in LIST_WATCHLIST_TYPE_TYPE_1_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {LIST_WATCHLIST_TYPE_TYPE_1_VALUES!r}")
