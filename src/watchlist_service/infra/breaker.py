"""A small circuit breaker, so a dead dependency costs one timeout, not one per request."""

from __future__ import annotations

import time
from enum import StrEnum

from loguru import logger


class BreakerState(StrEnum):
    """Closed: calls go through. Open: calls are skipped. Half-open: calls probe the dependency."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failures; probes again after ``reset_after_s``."""

    def __init__(self, name: str, *, failure_threshold: int, reset_after_s: float) -> None:
        self.name = name
        self._threshold = failure_threshold
        self._reset_after_s = reset_after_s
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def state(self) -> BreakerState:
        """The current state, derived from the failure count and the clock."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if time.monotonic() - self._opened_at >= self._reset_after_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allows(self) -> bool:
        """Whether a call should be attempted now."""
        return self.state is not BreakerState.OPEN

    def retry_after_s(self) -> float:
        """Seconds until the breaker lets a probe through (0 when it already does)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._reset_after_s - (time.monotonic() - self._opened_at))

    def record_success(self) -> None:
        """A call worked: close the breaker."""
        if self._opened_at is not None:
            logger.info("breaker {} closed", self.name)
        self._failures = 0
        self._opened_at = None

    def record_failure(self, reason: object = None) -> None:
        """A call failed (``reason``: the error, for the log): open the breaker once the threshold is
        reached (at once when half-open)."""
        self._failures += 1
        if self._opened_at is not None or self._failures >= self._threshold:
            self.trip(reason)

    def trip(self, reason: object = None) -> None:
        """Open the breaker now; the first opening is logged at WARNING with its reason."""
        if self.state is BreakerState.CLOSED:
            logger.warning(
                "breaker {} opened for {} s after {} failure(s): {!r}",
                self.name,
                self._reset_after_s,
                self._failures,
                reason,
            )
        self._opened_at = time.monotonic()
