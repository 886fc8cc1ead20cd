"""Scanning through ``bleak.BleakScanner``: the only module of the gateway that imports bleak.

The scanner turns each bleak advertisement into a small plain ``Advert`` record stamped with the
gateway's clock, and hands it to a callback. Backends are bleak's own seam: empty means the
platform backend (BlueZ on Linux); a dotted path selects any ``BaseBleakScanner`` subclass, which
is how the simulator's in-process backend and the tests' fake plug in.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from bleak import BleakScanner
from bleak.args.bluez import BlueZScannerArgs, OrPattern
from bleak.assigned_numbers import AdvertisementDataType
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner

from gateway.errors import GatewayError, SettingsError
from gateway.logs import log_event

logger = logging.getLogger(__name__)

# Patchable clock: observations carry Unix seconds (docs/protocol.md), read only here.
WALL_TIME: Callable[[], float] = time.time

BACKEND_VARIABLE = "GATEWAY_SCANNER_BACKEND"
# BlueZ answers StartDiscovery/StopDiscovery in milliseconds; a D-Bus call still pending after
# this is stuck on a daemon that went away (the watchdog then retries a fresh start).
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Advert:
    """One advertisement as heard, detached from bleak's types."""

    address: str
    rssi: int
    manufacturer_data: Mapping[int, bytes]
    service_data: Mapping[str, bytes]
    service_uuids: tuple[str, ...]
    received_at: float


AdvertCallback = Callable[[Advert], None]


class ScannerError(GatewayError):
    """The Bluetooth scanner could not be started."""


def load_backend(dotted: str) -> type[BaseBleakScanner] | None:
    """Import the bleak scanner backend named ``package.module:ClassName``; None if empty."""
    if not dotted:
        return None
    module_name, sep, class_name = dotted.partition(":")
    if not sep or not module_name or not class_name:
        raise SettingsError(f"{BACKEND_VARIABLE}={dotted!r} must look like package.module:Class")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SettingsError(
            f"{BACKEND_VARIABLE}={dotted!r}: cannot import module {module_name!r}: {exc}"
        ) from exc
    backend = getattr(module, class_name, None)
    if backend is None:
        raise SettingsError(
            f"{BACKEND_VARIABLE}={dotted!r}: module {module_name!r} has no {class_name!r}"
        )
    if not (isinstance(backend, type) and issubclass(backend, BaseBleakScanner)):
        raise SettingsError(
            f"{BACKEND_VARIABLE}={dotted!r} is not a subclass of "
            "bleak.backends.scanner.BaseBleakScanner"
        )
    return backend


# Passive scanning on BlueZ hears only adverts matching one of these (bleak requires them):
# every Eddystone frame (service data for 0xFEAA), iBeacon (Apple's company id then 02 15),
# and AltBeacon (BE AC after any company id). Nothing else is decoded, so nothing else is
# worth waking the gateway for.
PASSIVE_OR_PATTERNS = [
    OrPattern(0, AdvertisementDataType.SERVICE_DATA_UUID16, b"\xaa\xfe"),
    OrPattern(0, AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA, b"\x4c\x00\x02\x15"),
    OrPattern(2, AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA, b"\xbe\xac"),
]


class Scanner:
    """Start and stop a bleak scan that feeds ``Advert`` records to a callback.

    Every start builds a fresh ``BleakScanner``: after the adapter or BlueZ went away, the old
    one's backend state (D-Bus match rules, seen devices) is stale.
    """

    def __init__(
        self,
        on_advert: AdvertCallback,
        *,
        scanning_mode: Literal["active", "passive"] = "active",
        adapter: str = "",
        backend: type[BaseBleakScanner] | None = None,
    ) -> None:
        self._on_advert = on_advert
        self._started = False
        self._scanning_mode: Literal["active", "passive"] = scanning_mode
        self._bluez: BlueZScannerArgs = {"adapter": adapter} if adapter else {}
        if scanning_mode == "passive":
            self._bluez["or_patterns"] = list(PASSIVE_OR_PATTERNS)
        self._backend = backend
        self._bleak: BleakScanner | None = None

    @property
    def started(self) -> bool:
        """Whether a scan is running (start succeeded and stop was not called)."""
        return self._started

    def _detected(self, device: BLEDevice, adv: AdvertisementData) -> None:
        self._on_advert(
            Advert(
                address=device.address,
                rssi=adv.rssi,
                manufacturer_data=adv.manufacturer_data,
                service_data=adv.service_data,
                service_uuids=tuple(adv.service_uuids),
                received_at=WALL_TIME(),
            )
        )

    async def start(self) -> None:
        """Start scanning; raise ScannerError if bleak or the adapter refuses."""
        try:
            self._bleak = BleakScanner(
                self._detected,
                scanning_mode=self._scanning_mode,
                bluez=self._bluez,
                backend=self._backend,
            )
            async with asyncio.timeout(START_TIMEOUT_S):
                await self._bleak.start()
        except Exception as exc:
            # BleakBluetoothNotAvailableError/BleakError without an adapter, D-Bus errors or
            # OSError after a daemon restart, TimeoutError on a stuck call.
            raise ScannerError(f"cannot start scanning: {type(exc).__name__}: {exc}") from exc
        self._started = True

    async def stop(self) -> None:
        """Stop scanning; never raises, because the adapter may already be gone."""
        self._started = False
        bleak, self._bleak = self._bleak, None
        if bleak is None:
            return
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await bleak.stop()
        except Exception as exc:  # D-Bus errors or OSError once the adapter vanished
            log_event(
                logger,
                logging.WARNING,
                "scanner_stop_failed",
                error=type(exc).__name__,
                detail=str(exc),
            )
