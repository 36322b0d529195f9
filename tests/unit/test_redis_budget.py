"""A guarded Redis call and its budget (``infra/redis.py``), against scripted calls: no Redis is needed, the
guard only awaits what it is given. The timings leave wide margins: a slow machine makes calls later, not
these outcomes different."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Callable

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from watchlist_service.infra.breaker import CircuitBreaker
from watchlist_service.infra.redis import LOOP_LAG_S, UNAVAILABLE, RedisGuard, request_budget

BUDGET_S = 0.2


def guarded() -> RedisGuard:
    # A slow window of 2: one slow call in it opens the breaker, so whether a call counted as slow shows.
    name = f"test-{uuid.uuid4().hex[:8]}"
    breaker = CircuitBreaker(name, failure_threshold=1, reset_after_s=60, slow_window=2)
    return RedisGuard(Redis(), breaker, budget_s=BUDGET_S)


async def reply(value: str, after_s: float = 0.0) -> str:
    await asyncio.sleep(after_s)
    return value


def recorded_slow_call() -> tuple[Callable[[], asyncio.Task[str]], list[asyncio.Task[str]]]:
    """A call that would answer in 30 s, and the tasks it started (to see whether they were cancelled)."""
    calls: list[asyncio.Task[str]] = []

    def slow() -> asyncio.Task[str]:
        calls.append(asyncio.ensure_future(reply("late", 30.0)))
        return calls[-1]

    return slow, calls


async def test_a_call_within_its_budget_gets_its_reply() -> None:
    guard = guarded()
    assert await guard(lambda: reply("pong", 0.01)) == "pong"
    assert guard.available


async def test_a_slow_call_is_abandoned_at_its_budget_and_counted_as_slow() -> None:
    guard = guarded()
    slow, calls = recorded_slow_call()
    started = time.perf_counter()
    assert await guard(slow) is UNAVAILABLE
    assert time.perf_counter() - started < 10.0  # the budget, not the call's 30 s
    await asyncio.sleep(0)
    assert calls[0].cancelled()  # abandoned: nothing is left running for it
    assert not guard.available  # counted as slow: the breaker opened


async def test_a_late_timer_gives_the_call_the_budget_once_more_and_blames_the_process_not_redis() -> None:
    """The event loop is blocked past the budget (an overloaded process): the reply that comes right after is
    taken, not abandoned; when even the second budget runs out, the call is abandoned but not counted slow."""
    loop = asyncio.get_running_loop()
    for after_s, expected in ((0.01, "pong"), (30.0, UNAVAILABLE)):
        guard = guarded()
        # Blocks the loop: the budget's timer fires late.
        loop.call_soon(time.sleep, BUDGET_S + 5 * LOOP_LAG_S)
        assert await guard(functools.partial(reply, "pong", after_s)) == expected
        assert guard.available


async def test_a_failed_call_is_unavailable_and_counted_as_a_failure() -> None:
    guard = guarded()

    async def broken() -> str:
        raise RedisConnectionError("connection reset")

    assert await guard(broken) is UNAVAILABLE
    assert not guard.available  # failure_threshold=1


async def test_a_cancelled_request_cancels_its_call_and_is_not_held_against_redis() -> None:
    guard = guarded()
    slow, calls = recorded_slow_call()
    request = asyncio.ensure_future(guard(slow))
    await asyncio.sleep(0.01)
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    await asyncio.sleep(0)
    assert calls[0].cancelled()
    assert guard.available


async def test_the_calls_of_one_request_share_one_budget() -> None:
    """The first call spends the whole budget; the second is not even made."""
    guard = guarded()
    made: list[str] = []

    async def slow(name: str) -> str:
        made.append(name)
        return await reply(name, 30.0)

    with request_budget():
        assert await guard(lambda: slow("first")) is UNAVAILABLE
        guard.breaker.record_success()  # closed again: only the budget can stop the second call
        assert await guard(lambda: slow("second")) is UNAVAILABLE
    assert made == ["first"]
