"""The running gateway: Scanner -> decode -> admit -> track -> Uplink (outbox), until stopped.

Around that pipeline: the scanner watchdog, the config refresh, the heartbeat, the periodic
forgetting of lost devices, the stats line and the /metrics endpoint. ``AdvertHandler.process``
is the pure decision for one advert; everything else here is shell.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx

from gateway.control import ConfigCache, ControlClient, config_retry_delay, heartbeat_body
from gateway.counters import Counters, LiveStatus
from gateway.decode import EddystoneTlm, decode_advert
from gateway.errors import SettingsError
from gateway.logs import log_event
from gateway.metrics import GatewayCollector, MetricsServer, device_levels
from gateway.outbox import Outbox
from gateway.registry import Admission, GatewayConfig
from gateway.scanner import Advert, Scanner, ScannerError, load_backend
from gateway.settings import GatewaySettings
from gateway.tracking import ReportReason, Tracker, TrackingParams
from gateway.uplink import (
    FINAL_FLUSH_TIMEOUT_S,
    MAX_RSSI_DBM,
    MIN_RSSI_DBM,
    Observation,
    Uplink,
    Uploader,
)
from gateway.watchdog import Watchdog

logger = logging.getLogger(__name__)

MONOTONIC_TIME: Callable[[], float] = time.monotonic
WALL_TIME: Callable[[], float] = time.time

# Often enough to see a stalled gateway within a minute, rare enough to stay out of the way.
STATS_INTERVAL_S = 30.0
# How often lost devices are looked for: lost events are counted, not uploaded, so a second
# of lateness costs nothing, and one pass over a few hundred tracks a second is cheap.
HOUSEKEEPING_INTERVAL_S = 1.0
# Telemetry changes slowly (battery, temperature): one TLM report per beacon per minute.
TLM_REPORT_INTERVAL_S = 60.0


def outbox_path(settings: GatewaySettings) -> Path:
    """The outbox file of this gateway (one per gateway id: two may share a state dir)."""
    return Path(settings.state_dir) / f"outbox-{settings.gateway_id}.sqlite3"


def config_cache_path(settings: GatewaySettings) -> Path:
    """The cached config file of this gateway."""
    return Path(settings.state_dir) / f"config-{settings.gateway_id}.json"


class AdvertHandler:
    """The scanner's callback: decode, admit, track, and submit the reports to the uplink."""

    def __init__(
        self,
        counters: Counters,
        admission: Admission,
        tracker: Tracker,
        submit: Callable[[Observation, bool], None],
        on_heard: Callable[[float], None] = lambda now: None,
    ) -> None:
        self.counters = counters
        self.admission = admission
        self.tracker = tracker
        # TLM goes through its own tracker: only its rate bound matters, not its RSSI.
        self.telemetry = Tracker(
            TrackingParams(
                min_interval_s=TLM_REPORT_INTERVAL_S,
                keepalive_s=TLM_REPORT_INTERVAL_S,
                change_db=float("inf"),
                forget_after_s=TLM_REPORT_INTERVAL_S * 2,
            )
        )
        self._submit = submit
        self._on_heard = on_heard
        self.last_advert_at: float | None = None

    def __call__(self, advert: Advert) -> None:
        """Handle one advert as it is heard."""
        now = MONOTONIC_TIME()
        self._on_heard(now)
        self.last_advert_at = advert.received_at
        for observation, first_heard in self.process(advert, now):
            self._submit(observation, first_heard)

    def process(self, advert: Advert, now: float) -> list[tuple[Observation, bool]]:
        """The observations (with a first-heard flag) one advert yields at monotonic ``now``."""
        counters = self.counters
        counters.adverts_seen += 1
        frames = decode_advert(advert.manufacturer_data, advert.service_data)
        if not frames:
            counters.undecodable_dropped += 1
            return []
        counters.frames_decoded += len(frames)
        admitted = self.admission.admit(advert.address, frames, now)
        if not admitted:
            counters.unregistered_dropped += 1
            return []
        if not MIN_RSSI_DBM <= advert.rssi <= MAX_RSSI_DBM:
            # Outside the protocol's range: the server would refuse the batch, and the reading
            # would skew the device's median. Counted once per observation it would have made.
            counters.observations_dropped += len(admitted)
            return []
        reports: list[tuple[Observation, bool]] = []
        for item in admitted:
            tracker = self.telemetry if isinstance(item.frame, EddystoneTlm) else self.tracker
            reason = tracker.observe(item.identity, advert.rssi, now, item.rssi_at_1m)
            if reason is None:
                counters.readings_coalesced += 1
                continue
            observation = Observation(
                advert.received_at, advert.rssi, item.frame.to_wire(), item.beacon_id
            )
            counters.reports += 1
            reports.append((observation, reason is ReportReason.FIRST_HEARD))
        return reports

    def housekeeping(self, now: float) -> None:
        """Forget lost devices (counting them) and stale registered addresses."""
        self.counters.devices_lost += len(self.tracker.expire(now))
        self.telemetry.expire(now)
        self.admission.forget_quiet(now)


class _Gateway:
    """Everything one running gateway owns; built and torn down by ``run_gateway``."""

    def __init__(
        self,
        settings: GatewaySettings,
        counters: Counters,
        transport: httpx.AsyncBaseTransport | None,
        on_ready: Callable[[], None] | None,
    ) -> None:
        self.settings = settings
        self.counters = counters
        backend = load_backend(settings.scanner_backend)
        self.backend_name = backend.__name__ if backend is not None else "platform"
        _prepare_state_dir(settings.state_dir)
        self.outbox = Outbox(outbox_path(settings), settings.outbox_max_observations)
        self.uploader = Uploader(settings, counters, self.outbox, transport=transport)
        self.uplink = Uplink(settings, counters, self.uploader)
        self.control = ControlClient(settings, counters, transport=transport)
        self.cache = ConfigCache(config_cache_path(settings))
        self.config = GatewayConfig.empty(settings.gateway_id)
        self.admission = Admission()
        self.tracker = Tracker(settings.tracking_params())
        self.handler = AdvertHandler(
            counters,
            self.admission,
            self.tracker,
            lambda observation, first: self.uplink.submit(observation, first_heard=first),
            lambda now: self.watchdog.heard(now),
        )
        self.scanner = Scanner(
            self.handler,
            scanning_mode=settings.scanning_mode,
            adapter=settings.adapter,
            backend=backend,
        )
        self._on_ready = on_ready
        self._announced = False
        self.watchdog = Watchdog(
            self.scanner,
            counters,
            silence_s=settings.silence_restart_s,
            refresh_s=settings.scanner_refresh_s,
            on_scanning=self._ready,
        )
        self.metrics = MetricsServer(
            settings.metrics_host, settings.metrics_port, GatewayCollector(counters, self.status)
        )

    def status(self) -> LiveStatus:
        """The gateway's current levels."""
        return LiveStatus(
            adapter_state=self.watchdog.state.value,
            devices_tracked=len(self.tracker),
            outbox_batches=self.outbox.batches,
            outbox_observations=self.outbox.observations,
            registered_ids=len(self.admission.registered),
            last_advert_at=self.handler.last_advert_at,
            uploads_held_since=self.uploader.held_since,
            upload_held_status=self.uploader.held_status,
            device_levels=device_levels(self.tracker, self.admission.registered, MONOTONIC_TIME()),
        )

    def apply_config(self, config: GatewayConfig, source: str) -> None:
        """Use a config from now on."""
        self.config = config
        self.admission.registered = config.registered
        self.handler.tracker.entry_rssi_dbm = config.entry_rssi_dbm
        log_event(
            logger,
            logging.INFO,
            "config_applied",
            source=source,
            registered=len(config.registered),
            refresh_s=config.refresh_s,
        )

    async def load_config(self) -> bool:
        """The cached config, then one fetch from the server; True if the server answered."""
        cached = self.cache.load()
        if cached is not None:
            self.apply_config(cached, "cache")
        fresh = await self.control.fetch_config()
        if fresh is None:
            return False
        self.apply_config(fresh, "server")
        self.cache.save(fresh)
        return True

    async def refresh_config_forever(self, fetched: bool) -> None:
        """Refetch the config every ``refresh_s`` (sooner after a failure)."""
        while True:
            refresh_s = self.config.refresh_s
            await asyncio.sleep(refresh_s if fetched else config_retry_delay(refresh_s))
            fetched = await self.load_fresh_config()

    async def load_fresh_config(self) -> bool:
        """Fetch, apply and cache the server's config; False if it could not be had."""
        fresh = await self.control.fetch_config()
        if fresh is None:
            return False
        if fresh != self.config:
            self.apply_config(fresh, "server")
            self.cache.save(fresh)
        return True

    async def heartbeat_forever(self) -> None:
        """Send a heartbeat now and every interval; failures are logged and ignored."""
        seen, since = self.counters.adverts_seen, MONOTONIC_TIME()
        while True:
            now = MONOTONIC_TIME()
            rate = (self.counters.adverts_seen - seen) / (now - since) if now > since else 0.0
            seen, since = self.counters.adverts_seen, now
            await self.control.send_heartbeat(self.heartbeat(rate))
            await asyncio.sleep(self.settings.heartbeat_interval_s)

    def heartbeat(self, adverts_per_s: float) -> dict[str, object]:
        """The heartbeat body for now."""
        status = self.status()
        counters = self.counters
        return heartbeat_body(
            sent_at=WALL_TIME(),
            adapter_state=status.adapter_state,
            adverts_per_s=adverts_per_s,
            devices_tracked=status.devices_tracked,
            outbox_depth=status.outbox_observations,
            dropped={
                "undecodable": counters.undecodable_dropped,
                "unregistered": counters.unregistered_dropped,
                "outbox_full": counters.outbox_full_dropped,
            },
            last_advert_at=status.last_advert_at,
            scanner_restarts=counters.scanner_restarts,
            uploads_held_since=status.uploads_held_since,
            upload_held_status=status.upload_held_status,
        )

    async def housekeeping_forever(self) -> None:
        """Forget lost devices every second."""
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL_S)
            self.handler.housekeeping(MONOTONIC_TIME())

    async def stats_forever(self) -> None:
        """One stats line every STATS_INTERVAL_S."""
        while True:
            await asyncio.sleep(STATS_INTERVAL_S)
            status = self.status()
            log_event(
                logger,
                logging.INFO,
                "stats",
                adapter_state=status.adapter_state,
                devices_tracked=status.devices_tracked,
                outbox_batches=status.outbox_batches,
                outbox_observations=status.outbox_observations,
                **self.counters.snapshot(),
            )

    def _ready(self) -> None:
        # Called on every transition to scanning; announced only the first time.
        if not self._announced:
            self._announced = True
            log_event(
                logger,
                logging.INFO,
                "scanning",
                gateway_id=self.settings.gateway_id,
                backend=self.backend_name,
                adapter=self.settings.adapter or None,
                mode=self.settings.scanning_mode,
                pending_batches=self.outbox.batches,
            )
            if self._on_ready is not None:
                self._on_ready()

    async def close(self) -> None:
        """Stop scanning, store the open batch, one bounded send attempt, close everything."""
        await self.watchdog.stop()
        try:
            await self.uplink.shutdown(FINAL_FLUSH_TIMEOUT_S)
        finally:
            await self.control.aclose()
            self.outbox.close()
            self.metrics.stop()


def _prepare_state_dir(state_dir: str) -> None:
    try:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(
            f"GATEWAY_STATE_DIR={state_dir!r} cannot be created: {exc.strerror or exc}"
        ) from exc


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
        on_ready: called once, when the scanner first runs.
        transport: an httpx transport to use instead of the network (tests).
        counters: where to count (tests read it while the gateway runs).
    """
    counters = counters if counters is not None else Counters()
    gateway = _Gateway(settings, counters, transport, on_ready)
    try:
        if settings.metrics_port:
            gateway.metrics.start()
        fetched = await gateway.load_config()
        if not await gateway.watchdog.start() and settings.exit_if_no_adapter:
            raise ScannerError("cannot start scanning and GATEWAY_EXIT_IF_NO_ADAPTER is set")
        await _serve(
            stop,
            gateway.uplink.run(),
            gateway.watchdog.run(),
            gateway.refresh_config_forever(fetched),
            gateway.heartbeat_forever(),
            gateway.housekeeping_forever(),
            gateway.stats_forever(),
        )
    finally:
        await gateway.close()
        log_event(logger, logging.INFO, "stopped", **counters.snapshot())
    return counters


async def _serve(stop: asyncio.Event | None, *loops: Coroutine[Any, Any, None]) -> None:
    """Run the loops until stop is set; re-raise if one of them dies."""
    stop = stop if stop is not None else asyncio.Event()
    workers = [asyncio.create_task(loop) for loop in loops]
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
