"""Batching observations and uploading them to the store server (docs/protocol.md).

The pure core decides: ``make_observation`` validates, ``Batcher`` says when a batch must go
(``flush_reason``), ``classify_answer`` reads the server's answer and ``retry_delay`` spaces
retries. None of them reads a clock: ``now`` is passed in. The shell, ``Uploader`` and
``Uplink``, owns the HTTP client, the clocks and the in-memory retry queue. A later issue
replaces that queue with an on-disk outbox behind the same ``enqueue``/``deliver_due`` calls.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from gateway.counters import Counters
from gateway.logs import LogValue, log_event
from gateway.settings import GatewaySettings

logger = logging.getLogger(__name__)

# Patchable clocks and randomness: the shell reads them, the core never does.
MONOTONIC_TIME: Callable[[], float] = time.monotonic
WALL_TIME: Callable[[], float] = time.time
# Jitter only spreads retries of many gateways apart; it needs no cryptographic quality.
JITTER: Callable[[], float] = random.random  # noqa: S311

# The RSSI range the server accepts (docs/protocol.md); one value outside it would get the
# whole batch refused with a 400, so such observations are dropped here instead.
MIN_RSSI_DBM = -127
MAX_RSSI_DBM = 20
# A transmitter not heard for this long counts as newly heard again, so a shopper who comes
# back is flushed at once; it also bounds the memory of the "heard" table, since EIDs rotate.
FORGET_AFTER_S = 60.0
# First retry after about half a second: a restarting server is often back that fast.
RETRY_BASE_S = 0.5
# Never wait longer than this between retries: an outage's end is noticed within 30 s.
RETRY_CAP_S = 30.0
# Bounds memory while the server is unreachable (roughly 20 MB on a Pi-class box); older
# observations are dropped first because the newest say best who is in the store now.
MAX_QUEUED_OBSERVATIONS = 100_000
# Bounded wait for the last upload on shutdown: inside Docker's 10 s stop grace period.
FINAL_FLUSH_TIMEOUT_S = 5.0

WireValue = str | int | float | bool | None
WireFrame = Mapping[str, WireValue]


@dataclass(frozen=True, slots=True)
class Observation:
    """One decoded frame heard at ``seen_at`` (Unix seconds) with ``rssi`` dBm."""

    seen_at: float
    rssi: int
    frame: WireFrame

    def to_wire(self) -> dict[str, object]:
        """The observation as the server expects it."""
        return {"seen_at": self.seen_at, "rssi": self.rssi, "frame": dict(self.frame)}


def make_observation(seen_at: float, rssi: int, frame: WireFrame) -> Observation | None:
    """An observation, or None if the RSSI is outside what the protocol allows."""
    if not MIN_RSSI_DBM <= rssi <= MAX_RSSI_DBM:
        return None
    return Observation(seen_at=seen_at, rssi=rssi, frame=frame)


class FlushReason(enum.StrEnum):
    """Why a batch was closed and queued for upload."""

    FULL = "full"
    FIRST_HEARD = "first_heard"
    INTERVAL = "interval"
    SHUTDOWN = "shutdown"


def flush_reason(
    *,
    pending: int,
    opened_at: float | None,
    first_heard: bool,
    now: float,
    interval_s: float,
    max_batch: int,
) -> FlushReason | None:
    """Whether the pending observations must be uploaded now, and why.

    Args:
        pending: observations waiting in the open batch.
        opened_at: when the first of them was added (monotonic seconds), None if none.
        first_heard: the last observation added is from a transmitter not heard recently;
            it goes at once so an arrival is not delayed by the batch interval.
    """
    if pending <= 0:
        return None
    if pending >= max_batch:
        return FlushReason.FULL
    if first_heard:
        return FlushReason.FIRST_HEARD
    if opened_at is not None and now - opened_at >= interval_s:
        return FlushReason.INTERVAL
    return None


class Batcher:
    """Collects observations and says when they must go; all times are passed in."""

    def __init__(
        self, *, interval_s: float, max_batch: int, forget_after_s: float = FORGET_AFTER_S
    ) -> None:
        self._interval_s = interval_s
        self._max_batch = max_batch
        self._forget_after_s = forget_after_s
        self._pending: list[Observation] = []
        self._opened_at: float | None = None
        self._last_heard: dict[str, float] = {}
        self._pruned_at = -float("inf")

    @property
    def pending(self) -> int:
        """How many observations wait in the open batch."""
        return len(self._pending)

    def add(self, observation: Observation, identity: str, now: float) -> FlushReason | None:
        """Add an observation of transmitter ``identity``; return a reason if it must go now."""
        self._forget_quiet(now)
        last = self._last_heard.get(identity)
        first_heard = last is None or now - last >= self._forget_after_s
        self._last_heard[identity] = now
        if not self._pending:
            self._opened_at = now
        self._pending.append(observation)
        return self.due(now, first_heard=first_heard)

    def due(self, now: float, *, first_heard: bool = False) -> FlushReason | None:
        """The reason the open batch must go now, or None."""
        return flush_reason(
            pending=len(self._pending),
            opened_at=self._opened_at,
            first_heard=first_heard,
            now=now,
            interval_s=self._interval_s,
            max_batch=self._max_batch,
        )

    def due_at(self) -> float | None:
        """When the open batch falls due by the interval, or None if it is empty."""
        return None if self._opened_at is None else self._opened_at + self._interval_s

    def take(self) -> list[Observation]:
        """Close the open batch and return its observations."""
        taken, self._pending, self._opened_at = self._pending, [], None
        return taken

    def _forget_quiet(self, now: float) -> None:
        if now - self._pruned_at < self._forget_after_s:
            return
        self._pruned_at = now
        self._last_heard = {
            key: heard
            for key, heard in self._last_heard.items()
            if now - heard < self._forget_after_s
        }


class Delivery(enum.Enum):
    """What the server's answer means for a batch."""

    DELIVERED = "delivered"
    DUPLICATE = "duplicate"  # 409 duplicate_batch: stored earlier, so delivered too
    REJECTED = "rejected"  # other 4xx: retrying cannot help, drop it
    RETRY = "retry"  # network error, 5xx, 429: keep it and try again later


def classify_answer(status: int, body: bytes) -> Delivery:
    """Map an HTTP status and body of a batch upload to what to do with the batch."""
    if 200 <= status < 300:
        return Delivery.DELIVERED
    if status == 409 and _error_code(body) == "duplicate_batch":
        return Delivery.DUPLICATE
    if status == 429 or status >= 500:
        return Delivery.RETRY
    if 400 <= status < 500:
        return Delivery.REJECTED
    # 1xx/3xx are not answers this endpoint gives: treat like a server fault and retry.
    return Delivery.RETRY


def retry_delay(attempt: int, jitter: float) -> float:
    """Seconds to wait before retry number ``attempt`` (1, 2, ...); ``jitter`` is in [0, 1).

    Exponential from RETRY_BASE_S, capped at RETRY_CAP_S, then scaled into its upper half so
    gateways that failed together do not retry together, yet never retry at once.
    """
    exponent = min(max(attempt, 1) - 1, 32)
    ceiling = min(RETRY_CAP_S, RETRY_BASE_S * 2.0**exponent)
    return ceiling * (0.5 + 0.5 * min(max(jitter, 0.0), 1.0))


def _error_code(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    error = document.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


@dataclass(slots=True)
class Batch:
    """A closed batch; its id stays the same across every retry."""

    observations: list[Observation]
    reason: FlushReason
    batch_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    attempts: int = 0


class Uploader:
    """Keeps closed batches in order and posts them, retrying with backoff (in memory)."""

    def __init__(
        self,
        settings: GatewaySettings,
        counters: Counters,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._counters = counters
        self._path = f"/api/v1/gateways/{settings.gateway_id}/batches"
        self._client = httpx.AsyncClient(
            base_url=settings.server_url,
            headers={"Authorization": f"Bearer {settings.token}"},
            timeout=settings.http_timeout_s,
            transport=transport,
        )
        self._queue: deque[Batch] = deque()
        self._queued_observations = 0
        self._in_flight: Batch | None = None
        self._retry_at: float | None = None

    @property
    def queued_batches(self) -> int:
        """How many batches wait for delivery."""
        return len(self._queue)

    def enqueue(self, observations: list[Observation], reason: FlushReason) -> Batch:
        """Queue a closed batch for upload, dropping the oldest if the queue is over its cap."""
        batch = Batch(observations=observations, reason=reason)
        self._queue.append(batch)
        self._queued_observations += len(observations)
        self._evict_over_cap()
        return batch

    def next_attempt_at(self) -> float | None:
        """Monotonic time of the next upload attempt, or None if nothing is queued."""
        if not self._queue:
            return None
        return self._retry_at if self._retry_at is not None else -float("inf")

    async def deliver_due(self) -> None:
        """Post queued batches oldest first until the queue is empty or a retry is scheduled."""
        while self._queue:
            if self._retry_at is not None and MONOTONIC_TIME() < self._retry_at:
                return
            if not await self._attempt(self._queue[0]):
                return

    async def deliver_all_once(self) -> None:
        """Try every queued batch once, ignoring backoff; stop at the first that fails."""
        self._retry_at = None
        while self._queue:
            if not await self._attempt(self._queue[0]):
                return

    def drop_all(self, why: str) -> None:
        """Drop every queued batch, counting and logging it."""
        while self._queue:
            self._drop(self._queue[0], why)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    async def _attempt(self, batch: Batch) -> bool:
        """Post one batch; True if it left the queue (delivered or rejected)."""
        batch.attempts += 1
        self._in_flight = batch
        try:
            delivery, status = await self._post(batch)
        finally:
            self._in_flight = None
        fields: dict[str, LogValue] = {
            "batch_id": batch.batch_id,
            "observations": len(batch.observations),
            "attempt": batch.attempts,
            "status": status,
            "reason": batch.reason.value,
        }
        if delivery is Delivery.RETRY:
            self._counters.upload_retries += 1
            delay = retry_delay(batch.attempts, JITTER())
            self._retry_at = MONOTONIC_TIME() + delay
            log_event(logger, logging.WARNING, "batch_retry", retry_in_s=round(delay, 2), **fields)
            return False
        self._retry_at = None
        if delivery is Delivery.REJECTED:
            self._drop(batch, "rejected", status=status)
            return True
        self._remove(batch)
        self._counters.batches_sent += 1
        # DEBUG: two batches a second would flood the log; the stats line sums them up.
        log_event(
            logger, logging.DEBUG, "batch_sent", duplicate=delivery is Delivery.DUPLICATE, **fields
        )
        return True

    async def _post(self, batch: Batch) -> tuple[Delivery, int | None]:
        body = {
            "batch_id": batch.batch_id,
            "sent_at": WALL_TIME(),
            "observations": [observation.to_wire() for observation in batch.observations],
        }
        try:
            response = await self._client.post(self._path, json=body)
        except httpx.HTTPError as exc:  # connection refused, timeout, reset, bad answer...
            log_event(
                logger,
                logging.WARNING,
                "upload_failed",
                batch_id=batch.batch_id,
                error=type(exc).__name__,
            )
            return Delivery.RETRY, None
        return classify_answer(response.status_code, response.content), response.status_code

    def _drop(self, batch: Batch, why: str, *, status: int | None = None) -> None:
        self._remove(batch)
        self._counters.batches_dropped += 1
        self._counters.observations_dropped += len(batch.observations)
        log_event(
            logger,
            logging.ERROR,
            "batch_dropped",
            why=why,
            batch_id=batch.batch_id,
            observations=len(batch.observations),
            status=status,
        )

    def _remove(self, batch: Batch) -> None:
        self._queue.remove(batch)
        self._queued_observations -= len(batch.observations)

    def _evict_over_cap(self) -> None:
        while self._queued_observations > MAX_QUEUED_OBSERVATIONS and len(self._queue) > 1:
            # Never evict the batch being posted: its answer is still to come.
            oldest = self._queue[0] if self._queue[0] is not self._in_flight else self._queue[1]
            self._drop(oldest, "queue_full")


class Uplink:
    """Feeds observations into batches and runs the upload loop until cancelled."""

    def __init__(self, settings: GatewaySettings, counters: Counters, uploader: Uploader) -> None:
        self._counters = counters
        self._batcher = Batcher(interval_s=settings.batch_interval_s, max_batch=settings.max_batch)
        self._uploader = uploader
        self._wake = asyncio.Event()

    def submit(self, observation: Observation, identity: str) -> None:
        """Add one observation; close the batch at once if it is full or a first sighting."""
        reason = self._batcher.add(observation, identity, MONOTONIC_TIME())
        if reason is not None:
            self._close_batch(reason)
            self._wake.set()
        elif self._batcher.pending == 1:
            self._wake.set()  # a new batch opened: the loop must learn its deadline

    async def run(self) -> None:
        """Close batches when due and deliver them, forever (cancel to stop)."""
        while True:
            self._wake.clear()
            reason = self._batcher.due(MONOTONIC_TIME())
            if reason is not None:
                self._close_batch(reason)
            await self._uploader.deliver_due()
            await self._sleep_until_next_event()

    async def shutdown(self, timeout_s: float = FINAL_FLUSH_TIMEOUT_S) -> None:
        """Close the open batch, try once to deliver everything within ``timeout_s``, close."""
        if self._batcher.pending:
            self._close_batch(FlushReason.SHUTDOWN)
        try:
            async with asyncio.timeout(timeout_s):
                await self._uploader.deliver_all_once()
        except TimeoutError:
            log_event(logger, logging.WARNING, "final_flush_timeout", timeout_s=timeout_s)
        # In memory only for now: what is left is lost (a later issue keeps it on disk).
        self._uploader.drop_all("shutdown")
        await self._uploader.aclose()

    def _close_batch(self, reason: FlushReason) -> None:
        batch = self._uploader.enqueue(self._batcher.take(), reason)
        log_event(
            logger,
            logging.DEBUG,
            "batch_closed",
            reason=reason.value,
            batch_id=batch.batch_id,
            observations=len(batch.observations),
        )

    async def _sleep_until_next_event(self) -> None:
        deadlines = [
            moment
            for moment in (self._batcher.due_at(), self._uploader.next_attempt_at())
            if moment is not None
        ]
        timeout = max(0.0, min(deadlines) - MONOTONIC_TIME()) if deadlines else None
        try:
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        except TimeoutError:
            pass
