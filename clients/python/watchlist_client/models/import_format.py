from typing import Literal

ImportFormat = Literal["letterboxd", "ours", "trakt"]

IMPORT_FORMAT_VALUES: set[ImportFormat] = {
    "letterboxd",
    "ours",
    "trakt",
}


def check_import_format(value: str) -> ImportFormat:
    if value in IMPORT_FORMAT_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {IMPORT_FORMAT_VALUES!r}")
