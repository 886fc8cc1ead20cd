"""A local ``/metrics`` endpoint in the Prometheus text format (``prometheus_client``).

Nothing is counted twice: a collector reads the gateway's own ``Counters`` and a
``LiveStatus`` snapshot at scrape time, so the hot path pays nothing for metrics. The server
runs in prometheus_client's own thread; it only reads integers the event loop writes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import fields
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from gateway.counters import Counters, LiveStatus
from gateway.logs import log_event

logger = logging.getLogger(__name__)

PREFIX = "beacon_gateway"
ADAPTER_STATES = ("scanning", "restarting", "unavailable")


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
        if status.last_advert_at is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_last_advert_timestamp_seconds",
                "Unix time of the last advert heard",
                value=status.last_advert_at,
            )


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
