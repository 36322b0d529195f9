from typing import Literal

AddRequestPosition = Literal["bottom", "top"]

ADD_REQUEST_POSITION_VALUES: set[AddRequestPosition] = {
    "bottom",
    "top",
}


def check_add_request_position(value: str) -> AddRequestPosition:
    if value in ADD_REQUEST_POSITION_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {ADD_REQUEST_POSITION_VALUES!r}")
