"""Clocks for the runner: real time, scaled real time, or as fast as possible."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """What the runner needs from time: read it and wait for it (Unix seconds)."""

    def now(self) -> float:
        """Current (possibly simulated) Unix time."""
        ...

    async def sleep_until(self, t: float) -> None:
        """Return once `now()` has reached `t`."""
        ...


class ScaledClock:
    """Unix time running `speed` times as fast as the wall clock; speed 1 is real time."""

    def __init__(self, speed: float, unix_start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self._speed = speed
        self._unix_start = time.time() if unix_start is None else unix_start
        self._monotonic_start = time.monotonic()

    def now(self) -> float:
        """Scaled Unix time."""
        return self._unix_start + (time.monotonic() - self._monotonic_start) * self._speed

    async def sleep_until(self, t: float) -> None:
        """Sleep the real time it takes the scaled clock to reach `t`."""
        while (remaining := t - self.now()) > 0:
            await asyncio.sleep(remaining / self._speed)


class VirtualClock:
    """Simulated Unix time that jumps straight to whatever the runner waits for."""

    def __init__(self, unix_start: float) -> None:
        self._now = unix_start

    def now(self) -> float:
        """Simulated Unix time."""
        return self._now

    async def sleep_until(self, t: float) -> None:
        """Advance to `t` at once, yielding to the event loop so I/O keeps flowing."""
        self._now = max(self._now, t)
        await asyncio.sleep(0)
