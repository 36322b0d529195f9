from typing import Literal

ImportJobState = Literal["done", "failed", "queued", "running"]

IMPORT_JOB_STATE_VALUES: set[ImportJobState] = {
    "done",
    "failed",
    "queued",
    "running",
}


def check_import_job_state(value: str) -> ImportJobState:
    if value in IMPORT_JOB_STATE_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {IMPORT_JOB_STATE_VALUES!r}")
