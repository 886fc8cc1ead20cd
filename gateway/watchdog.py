"""The scanner watchdog: notice a silent scanner and restart it until the adapter is back.

bleak reports nothing when the adapter is unplugged or BlueZ (or the D-Bus daemon) restarts:
the callbacks just stop. ``stop()`` then raises a D-Bus error or a plain OSError, and
``start()`` raises ``BleakBluetoothNotAvailableError``/``BleakError`` until the adapter is back.
So silence is the only symptom: no advert for ``silence_s`` means restart (stop, swallowing
every error; start again with a short capped backoff), and the gateway resumes by itself.

``restart_backoff`` and ``is_silent`` are pure; ``Watchdog`` is the shell around any object
with async ``start()``/``stop()`` (``gateway.scanner.Scanner``, or a test double).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable
from typing import Protocol

from gateway.counters import Counters
from gateway.logs import log_event

logger = logging.getLogger(__name__)

MONOTONIC_TIME: Callable[[], float] = time.monotonic

# First retry of a failed start after a quarter second: BlueZ re-registering an adapter after
# a USB reset takes about that long.
RESTART_BACKOFF_BASE_S = 0.25
# Never wait longer than this between start attempts: the scan resumes within ~2 s of the
# adapter coming back (the goal is 5 s), and a StartDiscovery D-Bus call every 2 s costs
# nothing while it is away.
RESTART_BACKOFF_CAP_S = 2.0
# Recheck at least this often even when the silence deadline is far (settings changes in
# tests, clock oddities); cheap.
MAX_CHECK_INTERVAL_S = 5.0


class AdapterState(enum.StrEnum):
    """What the heartbeat reports as ``adapter_state`` (docs/protocol.md)."""

    SCANNING = "scanning"
    RESTARTING = "restarting"
    UNAVAILABLE = "unavailable"


class ScanControl(Protocol):
    """What the watchdog drives: ``start`` raises when it cannot scan; ``stop`` may raise."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def restart_backoff(attempt: int) -> float:
    """Seconds to wait after failed start number ``attempt`` (1, 2, ...): doubling, capped."""
    exponent = min(max(attempt, 1) - 1, 32)
    return float(min(RESTART_BACKOFF_CAP_S, RESTART_BACKOFF_BASE_S * 2.0**exponent))


def refresh_due(started_at: float, now: float, refresh_s: float) -> bool:
    """Whether a healthy scan has run long enough to be started afresh (0 = never)."""
    return refresh_s > 0 and now - started_at >= refresh_s


def is_silent(last_advert_at: float, now: float, silence_s: float) -> bool:
    """Whether no advert arrived for ``silence_s`` (all monotonic seconds)."""
    return now - last_advert_at >= silence_s


def _worth_logging(attempt: int) -> bool:
    # Attempts 1, 2, 4, 8, ...: an adapter away for hours gives a dozen lines, not thousands.
    return attempt & (attempt - 1) == 0


class Watchdog:
    """Keeps a scanner running: restarts it after silence, retries failed starts forever."""

    def __init__(
        self,
        scanner: ScanControl,
        counters: Counters,
        *,
        silence_s: float,
        refresh_s: float = 0.0,
        on_scanning: Callable[[], None] | None = None,
    ) -> None:
        self._scanner = scanner
        self._counters = counters
        self._silence_s = silence_s
        self._refresh_s = refresh_s
        self.started_at = MONOTONIC_TIME()
        self._on_scanning = on_scanning
        self.state = AdapterState.UNAVAILABLE
        self.last_advert_at = MONOTONIC_TIME()

    def heard(self, now: float) -> None:
        """An advert arrived at ``now`` (monotonic): the scanner is alive."""
        self.last_advert_at = now

    async def start(self) -> bool:
        """Try to start scanning once; True if scanning (else the run loop keeps retrying)."""
        self.state = AdapterState.RESTARTING
        return await self._try_start(attempt=1)

    async def run(self) -> None:
        """Watch for silence and recover, forever (cancel to stop)."""
        while True:
            if self.state is not AdapterState.SCANNING:
                await self._start_with_backoff()
                continue
            now = MONOTONIC_TIME()
            if is_silent(self.last_advert_at, now, self._silence_s):
                await self.restart("silence")
                continue
            if refresh_due(self.started_at, now, self._refresh_s):
                # bleak keeps every address it ever saw until the scanner is started again;
                # a fresh one every so often bounds that memory on a box that runs for months.
                await self._stop_quietly()
                await self._start_with_backoff()
                continue
            wait = self.last_advert_at + self._silence_s - now
            if self._refresh_s > 0:
                wait = min(wait, self.started_at + self._refresh_s - now)
            await asyncio.sleep(min(max(wait, 0.0), MAX_CHECK_INTERVAL_S))

    async def restart(self, why: str) -> None:
        """Stop the scanner (ignoring every error) and start it again with backoff."""
        self._counters.scanner_restarts += 1
        self.state = AdapterState.RESTARTING
        log_event(
            logger,
            logging.WARNING,
            "scanner_restart",
            why=why,
            silent_for_s=round(MONOTONIC_TIME() - self.last_advert_at, 1),
            restarts=self._counters.scanner_restarts,
        )
        await self._stop_quietly()
        await self._start_with_backoff()

    async def stop(self) -> None:
        """Stop the scanner for good (shutdown); never raises."""
        await self._stop_quietly()
        self.state = AdapterState.UNAVAILABLE

    async def _start_with_backoff(self) -> None:
        attempt = 1
        while not await self._try_start(attempt):
            await asyncio.sleep(restart_backoff(attempt))
            attempt += 1

    async def _try_start(self, attempt: int) -> bool:
        try:
            await self._scanner.start()
        except Exception as exc:  # whatever the backend raises, the answer is "not yet"
            self.state = AdapterState.UNAVAILABLE
            if _worth_logging(attempt):
                log_event(
                    logger,
                    logging.WARNING,
                    "scanner_start_failed",
                    attempt=attempt,
                    retry_in_s=restart_backoff(attempt),
                    error=type(exc).__name__,
                    detail=str(exc),
                )
            return False
        # A fresh start gets a full silence period before it is judged.
        self.last_advert_at = self.started_at = MONOTONIC_TIME()
        self.state = AdapterState.SCANNING
        log_event(logger, logging.INFO, "scanner_started", attempt=attempt)
        if self._on_scanning is not None:
            self._on_scanning()
        return True

    async def _stop_quietly(self) -> None:
        try:
            await self._scanner.stop()
        except Exception as exc:  # D-Bus error, or OSError after a D-Bus daemon restart
            log_event(logger, logging.WARNING, "scanner_stop_failed", error=type(exc).__name__)
