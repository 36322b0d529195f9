"""A small circuit breaker, so a dead dependency costs one timeout, not one per request."""

from __future__ import annotations

import time
from collections import deque
from enum import StrEnum

from loguru import logger

from watchlist_service.metrics import BREAKER_OPEN, BREAKER_OPENED


class BreakerState(StrEnum):
    """Closed: calls go through. Open: calls are skipped. Half-open: calls probe the dependency."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failures, or when at least half of the last
    ``slow_window`` calls were slower than their budget; probes again after ``reset_after_s``.

    A dependency that answers, but slowly, costs every request its budget: the slow-call rate opens the
    breaker for that, as failures do for a dependency that does not answer.
    """

    SLOW_RATE = 0.5

    def __init__(
        self, name: str, *, failure_threshold: int, reset_after_s: float, slow_window: int = 20
    ) -> None:
        self.name = name
        self._threshold = failure_threshold
        self._reset_after_s = reset_after_s
        self._failures = 0
        self._opened_at: float | None = None
        self._recent: deque[bool] = deque(maxlen=slow_window)  # True: that call was slow
        self._slow = 0
        self._open_gauge = BREAKER_OPEN.labels(name)
        self._open_gauge.set(0)  # the series exists from the start, so a dashboard sees "closed"
        self._opened_count = BREAKER_OPENED.labels(name)

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
        """A call worked in time: close the breaker."""
        if self._opened_at is not None:
            logger.info("breaker {} closed", self.name)
            self._open_gauge.set(0)
        self._failures = 0
        self._opened_at = None
        self._remember(slow=False)

    def record_slow(self, reason: object = None) -> None:
        """A call took longer than its budget (and was abandoned): open the breaker when slow calls are at
        least half of the recent ones (at once when half-open)."""
        self._remember(slow=True)
        window = self._recent.maxlen or 1
        if self._opened_at is not None or (
            len(self._recent) >= window // 2 and self._slow >= self.SLOW_RATE * len(self._recent)
        ):
            self.trip(reason)

    def _remember(self, *, slow: bool) -> None:
        if len(self._recent) == self._recent.maxlen and self._recent[0]:
            self._slow -= 1
        self._recent.append(slow)
        self._slow += slow

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
                "breaker {} opened for {} s ({} failure(s), {} of the last {} calls slow): {}",
                self.name,
                self._reset_after_s,
                self._failures,
                self._slow,
                len(self._recent),
                reason if isinstance(reason, str) else repr(reason),
            )
            self._opened_count.inc()
            self._open_gauge.set(1)
        self._opened_at = time.monotonic()
        self._recent.clear()
        self._slow = 0
