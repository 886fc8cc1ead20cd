"""A bleak scanner backend that hears the simulator's radio link instead of a Bluetooth adapter.

Use as `bleak.BleakScanner(callback, backend=SimBleakScanner)` with SIM_RADIO_URL set to
tcp://HOST:PORT/GATEWAY_NAME. The only module of firmware_sim that imports bleak.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any, Literal

from bleak.backends.scanner import (
    AdvertisementData,
    AdvertisementDataCallback,
    BaseBleakScanner,
)
from bleak.exc import BleakError

from firmware_sim.wire import ParsedAdvert, hello_line, parse_advert_line, parse_radio_url

logger = logging.getLogger(__name__)

RADIO_URL_ENV = "SIM_RADIO_URL"
# Longest advert line accepted; a real advert's JSON is a few hundred bytes.
MAX_LINE_BYTES = 64 * 1024


def advertisement_data(advert: ParsedAdvert) -> AdvertisementData:
    """The bleak AdvertisementData for a decoded advert line."""
    return AdvertisementData(
        local_name=advert.local_name,
        manufacturer_data=advert.manufacturer_data,
        service_data=advert.service_data,
        service_uuids=advert.service_uuids,
        tx_power=advert.tx_power,
        rssi=advert.rssi,
        platform_data=(),
    )


class SimBleakScanner(BaseBleakScanner):
    """Scans the simulated air: one TCP connection to the radio link per scanner."""

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        **kwargs: Any,
    ) -> None:
        # bleak passes platform arguments (bluez=, cb=) to every backend; none apply here.
        super().__init__(detection_callback, service_uuids)
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect to the radio link named by SIM_RADIO_URL and start delivering adverts."""
        raw_url = os.environ.get(RADIO_URL_ENV)
        if not raw_url:
            raise ValueError(f"{RADIO_URL_ENV} is not set (expected tcp://HOST:PORT/GATEWAY_NAME)")
        try:
            url = parse_radio_url(raw_url)
        except ValueError as exc:
            raise ValueError(f"{RADIO_URL_ENV}: {exc}") from exc
        try:
            reader, writer = await asyncio.open_connection(url.host, url.port, limit=MAX_LINE_BYTES)
            writer.write(hello_line(url.gateway))
            await writer.drain()
        except OSError as exc:
            raise BleakError(f"cannot reach the simulated radio at {url.host}:{url.port}") from exc
        self.seen_devices = {}
        self._writer = writer
        self._reader_task = asyncio.create_task(self._read_adverts(reader))

    async def stop(self) -> None:
        """Disconnect; safe to call more than once."""
        task, self._reader_task = self._reader_task, None
        writer, self._writer = self._writer, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _read_adverts(self, reader: asyncio.StreamReader) -> None:
        skipped = 0
        while True:
            try:
                line = await reader.readline()
            except ValueError:
                # Over MAX_LINE_BYTES: asyncio already discarded it; skip like any bad line.
                skipped += 1
                continue
            except OSError:
                break
            if not line:
                break
            advert = parse_advert_line(line)
            if advert is None:
                skipped += 1
                continue
            try:
                self._deliver(advert)
            except Exception:
                # A failing user callback must not silence the scanner (bleak logs and goes on).
                logger.exception("sim_scanner.callback_failed")
        logger.info("sim_scanner.link_closed skipped_lines=%d", skipped)

    def _deliver(self, advert: ParsedAdvert) -> None:
        if not self.is_allowed_uuid(advert.service_uuids):
            return
        data = advertisement_data(advert)
        device = self.create_or_update_device(
            advert.address, advert.address, advert.local_name, None, data
        )
        self.call_detection_callbacks(device, data)
