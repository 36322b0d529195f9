"""The access log's own fast path writes the same JSON shape as loguru's sink, and honours the level."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pytest
from loguru import logger

from watchlist_service.logging import ACCESS_LOGGER, configure_logging, log_access, request_id_var


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    configure_logging("WARNING")  # what the test suite runs with otherwise


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_an_access_line_has_the_shape_of_every_other_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    token = request_id_var.set("req-1")
    try:
        logger.info("hello {}", "there", status=200)
        log_access("GET", "/v1/watchlist", 200, 1.25, "req-1")
    finally:
        request_id_var.reset(token)
    general, access = _json_lines(capsys.readouterr().err)
    assert set(access) == set(general) | {"durationMs"}
    assert access["logger"] == ACCESS_LOGGER
    assert (access["msg"], access["status"], access["durationMs"]) == ("GET /v1/watchlist 200", 200, 1.25)
    assert access["requestId"] == general["requestId"] == "req-1"
    assert str(access["ts"])[-6:] == str(general["ts"])[-6:]  # the same zone offset
    # The access line's clock (seconds formatted once per second) reads as datetime's own ISO 8601 would.
    stamp = datetime.fromisoformat(str(access["ts"]))
    assert abs((datetime.fromisoformat(str(general["ts"])) - stamp).total_seconds()) < 1
    assert stamp.isoformat(timespec="milliseconds") == access["ts"]


def test_above_info_no_access_line_is_written(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING")
    log_access("GET", "/v1/watchlist", 200, 1.0, "req-2")
    assert capsys.readouterr().err == ""


def test_plain_output_goes_through_loguru(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=False)
    log_access("DELETE", "/v1/watchlist/movie:1", 204, 2.0, "req-3")
    err = capsys.readouterr().err
    assert "DELETE /v1/watchlist/movie:1 204" in err
    assert not err.lstrip().startswith("{")
