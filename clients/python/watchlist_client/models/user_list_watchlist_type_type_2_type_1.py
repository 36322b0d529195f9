from typing import Literal

UserListWatchlistTypeType2Type1 = Literal["movie", "tv"]

USER_LIST_WATCHLIST_TYPE_TYPE_2_TYPE_1_VALUES: set[UserListWatchlistTypeType2Type1] = {
    "movie",
    "tv",
}


def check_user_list_watchlist_type_type_2_type_1(value: str) -> UserListWatchlistTypeType2Type1:
    if value in USER_LIST_WATCHLIST_TYPE_TYPE_2_TYPE_1_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {USER_LIST_WATCHLIST_TYPE_TYPE_2_TYPE_1_VALUES!r}")
