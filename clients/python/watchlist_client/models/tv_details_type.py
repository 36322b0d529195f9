from typing import Literal

TvDetailsType = Literal["movie", "tv"]

TV_DETAILS_TYPE_VALUES: set[TvDetailsType] = {
    "movie",
    "tv",
}


def check_tv_details_type(value: str) -> TvDetailsType:
    if value in TV_DETAILS_TYPE_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {TV_DETAILS_TYPE_VALUES!r}")
