from typing import Literal

UserListWatchlistTypeType1 = Literal["movie", "tv"]

USER_LIST_WATCHLIST_TYPE_TYPE_1_VALUES: set[UserListWatchlistTypeType1] = {
    "movie",
    "tv",
}


def check_user_list_watchlist_type_type_1(value: str) -> UserListWatchlistTypeType1:
    if value in USER_LIST_WATCHLIST_TYPE_TYPE_1_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {USER_LIST_WATCHLIST_TYPE_TYPE_1_VALUES!r}")
