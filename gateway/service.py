"""The running gateway: Scanner -> decode -> Uplink, until told to stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import httpx

from gateway.counters import Counters
from gateway.decode import EddystoneEid, decode_advert
from gateway.logs import log_event
from gateway.scanner import Advert, Scanner, load_backend
from gateway.settings import GatewaySettings
from gateway.uplink import FINAL_FLUSH_TIMEOUT_S, Uplink, Uploader, make_observation

logger = logging.getLogger(__name__)

# Often enough to see a stalled gateway within a minute, rare enough to stay out of the way.
STATS_INTERVAL_S = 30.0


def handle_advert(advert: Advert, counters: Counters, uplink: Uplink) -> None:
    """Decode one advert, count it, and submit each EID frame as an observation."""
    counters.adverts_seen += 1
    frames = decode_advert(advert.manufacturer_data, advert.service_data)
    if not frames:
        counters.undecodable_dropped += 1
        return
    for frame in frames:
        counters.frames_decoded += 1
        if not isinstance(frame, EddystoneEid):
            # Protocol v1 (docs/protocol.md) accepts only eddystone_eid frames.
            counters.frames_not_uploaded += 1
            continue
        observation = make_observation(advert.received_at, advert.rssi, frame.to_wire())
        if observation is None:
            counters.observations_dropped += 1
            continue
        uplink.submit(observation, frame.identity)


async def run_gateway(
    settings: GatewaySettings,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[], None] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    counters: Counters | None = None,
) -> Counters:
    """Scan and upload until ``stop`` is set or the task is cancelled; return the counters.

    Args:
        on_ready: called once the scanner has started.
        transport: an httpx transport to use instead of the network (tests).
        counters: where to count (tests read it while the gateway runs).
    """
    backend = load_backend(settings.scanner_backend)
    counters = counters if counters is not None else Counters()
    uploader = Uploader(settings, counters, transport=transport)
    uplink = Uplink(settings, counters, uploader)
    scanner: Scanner | None = None
    try:
        scanner = Scanner(
            lambda advert: handle_advert(advert, counters, uplink),
            scanning_mode=settings.scanning_mode,
            adapter=settings.adapter,
            backend=backend,
        )
        await scanner.start()
        log_event(
            logger,
            logging.INFO,
            "scanning",
            gateway_id=settings.gateway_id,
            backend=backend.__name__ if backend is not None else "platform",
            adapter=settings.adapter or None,
            mode=settings.scanning_mode,
        )
        if on_ready is not None:
            on_ready()
        await _serve(uplink, counters, uploader, stop)
    finally:
        if scanner is not None and scanner.started:
            await scanner.stop()
        await uplink.shutdown(FINAL_FLUSH_TIMEOUT_S)
        log_event(logger, logging.INFO, "stopped", **counters.snapshot())
    return counters


async def _serve(
    uplink: Uplink, counters: Counters, uploader: Uploader, stop: asyncio.Event | None
) -> None:
    """Run the upload loop and the stats line until stop is set; re-raise if the loop dies."""
    stop = stop if stop is not None else asyncio.Event()
    workers = [
        asyncio.create_task(uplink.run(), name="uplink"),
        asyncio.create_task(_log_stats_forever(counters, uploader), name="stats"),
    ]
    stopper = asyncio.create_task(stop.wait(), name="stop")
    try:
        done, _ = await asyncio.wait([stopper, *workers], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper:
                task.result()  # a worker only ends by failing: surface its exception
    finally:
        for task in (stopper, *workers):
            task.cancel()
        await asyncio.gather(stopper, *workers, return_exceptions=True)


async def _log_stats_forever(counters: Counters, uploader: Uploader) -> None:
    while True:
        await asyncio.sleep(STATS_INTERVAL_S)
        log_event(
            logger,
            logging.INFO,
            "stats",
            queued_batches=uploader.queued_batches,
            **counters.snapshot(),
        )
