from typing import Literal

RowResultOutcome = Literal["added", "ambiguous", "existing", "full", "unmatched"]

ROW_RESULT_OUTCOME_VALUES: set[RowResultOutcome] = {
    "added",
    "ambiguous",
    "existing",
    "full",
    "unmatched",
}


def check_row_result_outcome(value: str) -> RowResultOutcome:
    if value in ROW_RESULT_OUTCOME_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {ROW_RESULT_OUTCOME_VALUES!r}")
