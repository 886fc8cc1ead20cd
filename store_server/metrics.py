"""The server's Prometheus metrics (`/metrics`, docs/deployment.md, "Metrics").

Counters and histograms are kept in the process that counts; with `PROMETHEUS_MULTIPROC_DIR`
set (several gunicorn workers, or the sweep in another process) prometheus_client keeps them in
files there and `exposition` adds every process's up. Gauges that describe the deployment, not a
process (outbound queue depth, seconds since each gateway's heartbeat), are read from the
database when scraped, so every process answers the same.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import func, select

from store_server.db.database import Database
from store_server.db.models import Delivery, Gateway, StaffNoticeRecord
from store_server.vocabulary import Channel

PREFIX = "store"

BATCHES = Counter(
    f"{PREFIX}_gateway_batches",
    "Gateway batches received, by outcome (accepted or ignored) and reason (an error code)",
    ["outcome", "reason"],
)
OBSERVATIONS = Counter(
    f"{PREFIX}_observations",
    "Observations in accepted batches, by outcome (accepted or ignored) and reason",
    ["outcome", "reason"],
)
# From the newest reading of the batch that completed an arrival to the alert handed to the
# tablets' emitter: the gateway's batching plus the server's work. Staff expect seconds.
ARRIVAL_TO_ALERT = Histogram(
    f"{PREFIX}_arrival_to_alert_seconds",
    "Seconds from the reading that completed a pickup arrival to its alert being emitted",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0),
)
ALERTS = Counter(
    f"{PREFIX}_pickup_alerts",
    "Pickup alerts by what happened to them (raised, escalated, expired)",
    ["event"],
)
DELIVERIES = Counter(
    f"{PREFIX}_delivery_attempts",
    "Attempts to deliver a message to a shopper, by channel and outcome",
    ["channel", "outcome"],
)
STAFF_NOTICES = Counter(
    f"{PREFIX}_staff_notices",
    "Work messages to staff (escalations away from the console), by channel and outcome",
    ["channel", "outcome"],
)
DELIVERY_TIMEOUTS = Counter(
    f"{PREFIX}_delivery_timeouts",
    "Attempts (to shoppers or staff) given up because the provider stayed silent, by channel",
    ["channel"],
)
SOCKETS = Gauge(
    f"{PREFIX}_connected_sockets",
    "Socket.IO connections open now, by kind (staff or shopper)",
    ["kind"],
    multiprocess_mode="livesum",
)
SWEEP_SECONDS = Histogram(
    f"{PREFIX}_sweep_duration_seconds",
    "Seconds one sweep (escalate, expire, close visits) took",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
OUTBOUND_QUEUE_DEPTH = f"{PREFIX}_outbound_queue_depth"
OUTBOUND_RETRY_DEPTH = f"{PREFIX}_outbound_retry_depth"
STAFF_NOTICE_QUEUE_DEPTH = f"{PREFIX}_staff_notice_queue_depth"
STAFF_NOTICE_RETRY_DEPTH = f"{PREFIX}_staff_notice_retry_depth"
HEARTBEAT_AGE = f"{PREFIX}_gateway_heartbeat_age_seconds"


class DatabaseGauges(Collector):
    """Gauges read from the database at scrape time: the same answer from every process."""

    def __init__(self, db: Database, now: float) -> None:
        self._db = db
        self._now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The outbound queues' depths (shoppers' messages and staff notices, queued and waiting
        to be retried) and each gateway's heartbeat age."""
        with self._db.sessions() as session:
            by_status: dict[str, int] = {
                status: count
                for status, count in session.execute(
                    select(Delivery.status, func.count())
                    .where(Delivery.status.in_(("queued", "failed_retryable")))
                    .group_by(Delivery.status)
                )
            }
            staff_by_status: dict[str, int] = {
                status: count
                for status, count in session.execute(
                    select(StaffNoticeRecord.status, func.count())
                    .where(StaffNoticeRecord.status.in_(("queued", "failed_retryable")))
                    .group_by(StaffNoticeRecord.status)
                )
            }
            beats = session.execute(
                select(Gateway.id, Gateway.store_id, Gateway.last_heartbeat_at)
            ).all()
        depth = GaugeMetricFamily(
            OUTBOUND_QUEUE_DEPTH, "Messages to shoppers recorded as queued and not yet sent"
        )
        depth.add_metric([], float(by_status.get("queued", 0)))
        yield depth
        retrying = GaugeMetricFamily(
            OUTBOUND_RETRY_DEPTH,
            "Messages to shoppers whose provider failed retryably (busy, down, silent), "
            "waiting for their next try",
        )
        retrying.add_metric([], float(by_status.get("failed_retryable", 0)))
        yield retrying
        staff_depth = GaugeMetricFamily(
            STAFF_NOTICE_QUEUE_DEPTH,
            "Work messages to staff (escalations) recorded as queued and not yet sent",
        )
        staff_depth.add_metric([], float(staff_by_status.get("queued", 0)))
        yield staff_depth
        staff_retrying = GaugeMetricFamily(
            STAFF_NOTICE_RETRY_DEPTH,
            "Work messages to staff whose provider failed retryably, waiting for their next try",
        )
        staff_retrying.add_metric([], float(staff_by_status.get("failed_retryable", 0)))
        yield staff_retrying
        age = GaugeMetricFamily(
            HEARTBEAT_AGE,
            "Seconds since each gateway's last heartbeat (absent: it never sent one)",
            labels=["gateway", "store"],
        )
        for gateway_id, store_id, last in beats:
            if last is not None:
                age.add_metric([gateway_id, str(store_id)], max(0.0, self._now - last))
        yield age


def exposition(db: Database, now: float) -> tuple[bytes, str]:
    """The text a scrape gets, and its content type."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    gauges = CollectorRegistry()
    gauges.register(DatabaseGauges(db, now))
    return body + generate_latest(gauges), CONTENT_TYPE_LATEST


def _start_at_zero() -> None:
    """Every known series exists from the start (at 0), so a scrape names it before it counts
    and `rate()` sees its first increase; in multiprocess mode a series appears only once a
    process has touched it."""
    BATCHES.labels("accepted", "")
    OBSERVATIONS.labels("accepted", "")
    for event in ("raised", "escalated", "expired"):
        ALERTS.labels(event)
    for channel in Channel:
        for outcome in ("delivered", "failed_retryable", "failed_permanent"):
            DELIVERIES.labels(channel.value, outcome)
    for kind in ("staff", "shopper"):
        SOCKETS.labels(kind)


_start_at_zero()
