"""The breaker gauges the dashboard shows (docs/operations.md#dashboards): open while open or probing, 0 once
closed; each opening of a closed breaker counted once."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY

from watchlist_service.infra.breaker import BreakerState, CircuitBreaker


def sample(name: str, breaker: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"breaker": breaker})


def test_the_gauge_follows_the_breaker_and_openings_are_counted() -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    breaker = CircuitBreaker(name, failure_threshold=2, reset_after_s=0.0)
    assert sample("watchlist_breaker_open", name) == 0.0  # exported from the start
    breaker.record_failure("one")
    assert sample("watchlist_breaker_open", name) == 0.0
    breaker.record_failure("two")
    assert sample("watchlist_breaker_open", name) == 1.0
    assert sample("watchlist_breaker_opened_total", name) == 1.0
    assert breaker.state is BreakerState.HALF_OPEN  # reset_after_s=0: probing at once
    breaker.record_failure("the probe failed")  # open again: still one opening of a closed breaker
    assert sample("watchlist_breaker_open", name) == 1.0
    assert sample("watchlist_breaker_opened_total", name) == 1.0
    breaker.record_success()
    assert sample("watchlist_breaker_open", name) == 0.0
    breaker.record_failure("three")
    breaker.record_failure("four")
    assert sample("watchlist_breaker_opened_total", name) == 2.0
