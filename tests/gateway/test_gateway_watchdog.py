"""The scanner watchdog, through bleak's backend seam with the fake backends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from test_gateway_scanner import FakeBackend, FlakyBackend, VanishedAdapterBackend

from gateway import watchdog as watchdog_module
from gateway.counters import Counters
from gateway.scanner import Scanner
from gateway.watchdog import AdapterState, Watchdog, is_silent, refresh_due, restart_backoff
from tests.support.polling import await_until

DEADLINE_S = 10.0
REAL_BACKOFF_CAP_S = watchdog_module.RESTART_BACKOFF_CAP_S  # read before any patching


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start retries after 10 ms, capped at 40 ms, so the tests stay fast."""
    monkeypatch.setattr(watchdog_module, "RESTART_BACKOFF_BASE_S", 0.01)
    monkeypatch.setattr(watchdog_module, "RESTART_BACKOFF_CAP_S", 0.04)
    FakeBackend.created.clear()


async def _until(condition: Callable[[], object], what: str) -> None:
    assert await await_until(condition, DEADLINE_S, 0.01), f"timed out waiting for {what}"


def test_backoff_doubles_and_is_capped_low() -> None:
    assert watchdog_module.RESTART_BACKOFF_CAP_S == 0.04  # patched; the real cap is below
    assert [restart_backoff(n) for n in (1, 2, 3, 10)] == [0.01, 0.02, 0.04, 0.04]


def test_real_cap_resumes_within_seconds_of_the_adapter_returning() -> None:
    assert REAL_BACKOFF_CAP_S <= 2.0  # the recovery goal is 5 s after the adapter is back


def test_is_silent() -> None:
    assert not is_silent(100.0, 119.9, 20.0)
    assert is_silent(100.0, 120.0, 20.0)


def test_refresh_due() -> None:
    assert not refresh_due(100.0, 3699.9, 3600.0)
    assert refresh_due(100.0, 3700.0, 3600.0)
    assert not refresh_due(100.0, 10**9, 0.0)  # 0: never


def _run(
    backend: type[FakeBackend],
    counters: Counters,
    scenario: object,
    silence_s: float = 0.2,
    refresh_s: float = 0.0,
) -> None:
    async def main() -> None:
        dogs: list[Watchdog] = []
        scanner = Scanner(lambda advert: dogs[0].heard(time.monotonic()), backend=backend)
        dog = Watchdog(scanner, counters, silence_s=silence_s, refresh_s=refresh_s)
        dogs.append(dog)
        await dog.start()
        runner = asyncio.create_task(dog.run())
        try:
            await scenario(dog)  # type: ignore[operator]
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            await dog.stop()

    asyncio.run(asyncio.wait_for(main(), timeout=DEADLINE_S))


def test_silent_backend_is_restarted() -> None:
    counters = Counters()

    async def scenario(dog: Watchdog) -> None:
        assert dog.state is AdapterState.SCANNING
        await _until(lambda: counters.scanner_restarts >= 1, "a restart after silence")
        await _until(lambda: dog.state is AdapterState.SCANNING, "scanning again")

    _run(FakeBackend, counters, scenario)
    assert len(FakeBackend.created) >= 2  # a fresh bleak scanner per start
    assert FakeBackend.created[0].stopped


def test_a_healthy_scan_is_refreshed_without_counting_a_restart() -> None:
    counters = Counters()

    async def scenario(dog: Watchdog) -> None:
        await _until(lambda: len(FakeBackend.created) >= 3, "two refreshes")
        await _until(lambda: dog.state is AdapterState.SCANNING, "scanning")

    # Silence would take 60 s here; the refresh every 0.05 s comes first.
    _run(FakeBackend, counters, scenario, silence_s=60.0, refresh_s=0.05)
    assert FakeBackend.created[0].stopped and FakeBackend.created[1].stopped
    assert counters.scanner_restarts == 0


def test_failing_start_backs_off_and_resumes(caplog: pytest.LogCaptureFixture) -> None:
    counters = Counters()
    FlakyBackend.failures = 5  # the first start, then attempts 1-4 of the run loop
    states: list[AdapterState] = []

    async def scenario(dog: Watchdog) -> None:
        states.append(dog.state)
        await _until(lambda: FlakyBackend.failures == 0, "five refused starts")
        await _until(lambda: dog.state is AdapterState.SCANNING, "scanning again")

    _run(FlakyBackend, counters, scenario)
    assert states == [AdapterState.UNAVAILABLE]
    assert "event=scanner_start_failed attempt=1" in caplog.text
    assert "event=scanner_start_failed attempt=4" in caplog.text  # 1, 2, 4: logged sparsely
    assert "attempt=3 " not in caplog.text


def test_stop_raising_oserror_is_swallowed(caplog: pytest.LogCaptureFixture) -> None:
    counters = Counters()

    async def scenario(dog: Watchdog) -> None:
        await _until(lambda: counters.scanner_restarts >= 2, "two restarts")
        await _until(lambda: dog.state is AdapterState.SCANNING, "scanning again")

    _run(VanishedAdapterBackend, counters, scenario)
    assert "event=scanner_stop_failed error=OSError" in caplog.text
