"""A local ``/metrics`` endpoint in the Prometheus text format (``prometheus_client``).

Nothing is counted twice: a collector reads the gateway's own ``Counters`` and a
``LiveStatus`` snapshot at scrape time, so the hot path pays nothing for metrics. The server
runs in prometheus_client's own thread; it only reads integers the event loop writes, and
copies (one C-level call each) of the tracked readings.

For the calibration walk (docs/hardware.md) it also publishes, per registered beacon the
gateway hears, the last and smoothed RSSI. Only registered beacons: their ids come from the
server's config, so the label values are few and known, and never a shopper's EID (which
rotates, so it would grow the series without bound, and is hers).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import fields
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from gateway.counters import Counters, DeviceLevel, LiveStatus
from gateway.logs import log_event
from gateway.registry import RegisteredKey
from gateway.tracking import Tracker, median

logger = logging.getLogger(__name__)

PREFIX = "beacon_gateway"
ADAPTER_STATES = ("scanning", "restarting", "unavailable")
# Devices with level series at most: a store registers tens of beacons; a larger config still
# bounds what one scrape returns (the first by id are kept).
DEVICE_LEVELS_MAX = 256


def device_levels(
    tracker: Tracker, registered: frozenset[RegisteredKey], now: float
) -> tuple[DeviceLevel, ...]:
    """The levels of the registered beacons heard within the forget timeout, by id.

    Safe from the scrape thread: `registered` is replaced whole, a dict look-up and a deque copy
    are single C calls, so the event loop's writes are never seen half-done.
    """
    levels: list[DeviceLevel] = []
    for kind, beacon_id in sorted(registered):
        device = f"{kind}:{beacon_id}"
        track = tracker.get(device)
        if track is None:
            continue
        readings = tuple(track.readings)
        levels.append(
            DeviceLevel(
                device=device,
                last_rssi_dbm=readings[-1][1],
                smoothed_rssi_dbm=median([rssi for _, rssi in readings]),
                heard_seconds_ago=max(0.0, now - track.last_heard_at),
                rssi_at_1m_dbm=track.rssi_at_1m,
            )
        )
        if len(levels) == DEVICE_LEVELS_MAX:
            break
    return tuple(levels)


class GatewayCollector:
    """Turns the counters and the live status into Prometheus metric families."""

    def __init__(self, counters: Counters, status: Callable[[], LiveStatus]) -> None:
        self._counters = counters
        self._status = status

    def collect(self) -> Iterator[Metric]:
        """Every metric, read now."""
        for counter in fields(self._counters):
            family = CounterMetricFamily(
                f"{PREFIX}_{counter.name}", f"Gateway counter {counter.name}"
            )
            family.add_metric([], getattr(self._counters, counter.name))
            yield family
        status = self._status()
        levels = {
            "devices_tracked": (status.devices_tracked, "Devices heard within the forget timeout"),
            "outbox_batches": (status.outbox_batches, "Batches waiting in the on-disk outbox"),
            "outbox_observations": (
                status.outbox_observations,
                "Observations waiting in the on-disk outbox",
            ),
            "registered_ids": (status.registered_ids, "Registered beacon ids in the config"),
            "uploads_held": (
                0 if status.uploads_held_since is None else 1,
                "1 while the server does not take batches (they wait in the outbox)",
            ),
        }
        for name, (value, documentation) in levels.items():
            yield GaugeMetricFamily(f"{PREFIX}_{name}", documentation, value=value)
        state = GaugeMetricFamily(
            f"{PREFIX}_adapter_state", "1 for the scanner's current state", labels=["state"]
        )
        for name in ADAPTER_STATES:
            state.add_metric([name], 1.0 if status.adapter_state == name else 0.0)
        yield state
        if status.uploads_held_since is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_uploads_held_since_timestamp_seconds",
                "Unix time since which the server does not take batches",
                value=status.uploads_held_since,
            )
            yield GaugeMetricFamily(
                f"{PREFIX}_upload_held_status",
                "HTTP status of the last answer that kept a batch (0: no answer)",
                value=status.upload_held_status or 0,
            )
        yield from _device_families(status.device_levels)
        if status.last_advert_at is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_last_advert_timestamp_seconds",
                "Unix time of the last advert heard",
                value=status.last_advert_at,
            )


def _device_families(levels: tuple[DeviceLevel, ...]) -> Iterator[Metric]:
    """Per registered beacon: last and smoothed RSSI, age, and its advertised 1 m level."""
    last = GaugeMetricFamily(
        f"{PREFIX}_device_last_rssi_dbm",
        "Last RSSI heard from a registered beacon, dBm (before the server's offset)",
        labels=["device"],
    )
    smoothed = GaugeMetricFamily(
        f"{PREFIX}_device_smoothed_rssi_dbm",
        "Median RSSI of a registered beacon over the tracking window, dBm",
        labels=["device"],
    )
    age = GaugeMetricFamily(
        f"{PREFIX}_device_heard_seconds_ago",
        "Seconds since a registered beacon was last heard",
        labels=["device"],
    )
    at_1m = GaugeMetricFamily(
        f"{PREFIX}_device_rssi_at_1m_dbm",
        "The RSSI a registered beacon's frame says it gives at 1 m, dBm",
        labels=["device"],
    )
    for level in levels:
        last.add_metric([level.device], level.last_rssi_dbm)
        smoothed.add_metric([level.device], level.smoothed_rssi_dbm)
        age.add_metric([level.device], round(level.heard_seconds_ago, 3))
        if level.rssi_at_1m_dbm is not None:
            at_1m.add_metric([level.device], level.rssi_at_1m_dbm)
    yield from (last, smoothed, age, at_1m)


class MetricsServer:
    """The /metrics HTTP server thread; start() never raises (metrics are optional)."""

    def __init__(self, host: str, port: int, collector: GatewayCollector) -> None:
        self._host, self._port = host, port
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(collector)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int | None:
        """The bound port (useful with port 0 in tests), None if not serving."""
        return None if self._server is None else int(self._server.server_port)

    def start(self) -> None:
        """Serve /metrics; on failure (port taken) log it and go on without."""
        try:
            self._server, self._thread = start_http_server(
                self._port, addr=self._host, registry=self._registry
            )
        except OSError as exc:
            log_event(
                logger, logging.WARNING, "metrics_unavailable", port=self._port, error=str(exc)
            )
            return
        log_event(logger, logging.INFO, "metrics_listening", host=self._host, port=self.port)

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None
