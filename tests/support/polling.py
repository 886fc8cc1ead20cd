"""Poll a condition until it holds or a deadline passes: the one waiting loop of the suite."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    interval: float = 0.05,
    *,
    sleep: Callable[[float], object] = time.sleep,
) -> T:
    """Call `predicate` every `interval` seconds until it returns something truthy, or until
    `timeout` seconds have passed; return its last value (falsy if time ran out).

    The predicate is called at least once, and its last call is made at or after the deadline.
    `sleep` waits between calls: Playwright's `page.wait_for_timeout` (in seconds) where the
    browser's events must be dispatched meanwhile.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        sleep(interval)


@overload
async def await_until(
    predicate: Callable[[], Awaitable[T]], timeout: float, interval: float = 0.01
) -> T: ...


@overload
async def await_until(predicate: Callable[[], T], timeout: float, interval: float = 0.01) -> T: ...


async def await_until(
    predicate: Callable[[], T | Awaitable[T]], timeout: float, interval: float = 0.01
) -> T:
    """`wait_until` on an event loop: yields to the loop while it waits; `predicate` may be a
    coroutine function."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        result: T = await value if inspect.isawaitable(value) else value
        if result or time.monotonic() >= deadline:
            return result
        await asyncio.sleep(interval)
