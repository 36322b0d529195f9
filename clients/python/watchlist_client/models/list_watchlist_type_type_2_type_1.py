from typing import Literal

ListWatchlistTypeType2Type1 = Literal["movie", "tv"]

LIST_WATCHLIST_TYPE_TYPE_2_TYPE_1_VALUES: set[ListWatchlistTypeType2Type1] = {
    "movie",
    "tv",
}


def check_list_watchlist_type_type_2_type_1(value: str) -> ListWatchlistTypeType2Type1:
    if value in LIST_WATCHLIST_TYPE_TYPE_2_TYPE_1_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {LIST_WATCHLIST_TYPE_TYPE_2_TYPE_1_VALUES!r}")
