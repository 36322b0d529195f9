from typing import Literal

MovieDetailsType = Literal["movie", "tv"]

MOVIE_DETAILS_TYPE_VALUES: set[MovieDetailsType] = {
    "movie",
    "tv",
}


def check_movie_details_type(value: str) -> MovieDetailsType:
    if value in MOVIE_DETAILS_TYPE_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {MOVIE_DETAILS_TYPE_VALUES!r}")
