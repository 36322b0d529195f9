"""The ramp-up's own figures, kept when Locust resets its statistics once every user has started.

``make loadtest`` runs Locust with ``--reset-stats``, so the reported latencies are those of the steady state,
not of the first seconds (connection pools and caches filling while users are still being started). A failure
during the ramp-up must still count: just before the reset, the totals so far are written as JSON to the file
named by ``LOAD_TEST_RAMP_FILE``; ``loadtests.run`` adds them to its verdict.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment

from loadtests.scenarios.settings import RAMP_FILE_ENV

_state: dict[str, Any] = {}


def _remember_environment(environment: Environment, **_: Any) -> None:
    _state["environment"] = environment


def _write_ramp_totals(user_count: int, **_: Any) -> None:
    # Registered when the locustfile is imported, so it runs before the runner's own listener resets.
    path = os.environ.get(RAMP_FILE_ENV)
    environment: Environment | None = _state.get("environment")
    if not path or environment is None or environment.runner is None:
        return
    total = environment.runner.stats.total
    figures = {"users": user_count, "requests": total.num_requests, "failures": total.num_failures}
    Path(path).write_text(json.dumps(figures), encoding="utf-8")


def record_ramp_up() -> None:
    """Register the listeners (once, however often it is called)."""
    if not _state.get("registered"):
        events.init.add_listener(_remember_environment)  # type: ignore[no-untyped-call]
        events.spawning_complete.add_listener(_write_ramp_totals)  # type: ignore[no-untyped-call]
        _state["registered"] = True
