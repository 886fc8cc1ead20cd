"""Batching observations and uploading them to the store server (docs/protocol.md).

The pure core decides: ``make_observation`` validates, ``Batcher`` says when a batch must go
(``flush_reason``), ``classify_answer`` reads the server's answer and ``retry_delay`` spaces
retries. None of them reads a clock: ``now`` is passed in. The shell, ``Uploader`` and
``Uplink``, owns the HTTP client, the clocks and the on-disk outbox (gateway/outbox.py): a batch
is stored there before its first attempt and leaves it only once the server has it.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from gateway.counters import Counters
from gateway.logs import LogValue, log_event
from gateway.outbox import Outbox, PendingBatch
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
# First retry after about half a second: a restarting server is often back that fast.
RETRY_BASE_S = 0.5
# Never wait longer than this between retries: an outage's end is noticed within 30 s.
RETRY_CAP_S = 30.0
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
    beacon_id: str | None = None

    def to_wire(self) -> dict[str, object]:
        """The observation as the server expects it."""
        wire: dict[str, object] = {
            "seen_at": self.seen_at,
            "rssi": self.rssi,
            "frame": dict(self.frame),
        }
        if self.beacon_id is not None:
            wire["beacon_id"] = self.beacon_id
        return wire


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
        first_heard: the last observation added is of a device just heard for the first time
            (the tracker says so); it goes at once so an arrival is not delayed by the interval.
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

    def __init__(self, *, interval_s: float, max_batch: int) -> None:
        self._interval_s = interval_s
        self._max_batch = max_batch
        self._pending: list[Observation] = []
        self._opened_at: float | None = None

    @property
    def pending(self) -> int:
        """How many observations wait in the open batch."""
        return len(self._pending)

    def add(self, observation: Observation, now: float, *, first_heard: bool) -> FlushReason | None:
        """Add an observation; return a reason if the batch must go now."""
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


class Delivery(enum.Enum):
    """What the server's answer means for a batch."""

    DELIVERED = "delivered"
    DUPLICATE = "duplicate"  # 409 duplicate_batch: stored earlier, so delivered too
    REJECTED = "rejected"  # 400 or 413 about this batch itself: it can never be stored
    RETRY = "retry"  # any other answer: keep the batch, back off and try again


# The answers about the batch itself (docs/protocol.md): not JSON, a field wrong, too large.
# Only these, in the server's error shape, drop a batch; a 400 page of a proxy does not.
PER_BATCH_REJECTIONS = frozenset({400, 413})


def classify_answer(status: int, body: bytes) -> Delivery:
    """Map an HTTP status and body of a batch upload to what to do with the batch.

    Nothing is thrown away on an answer that says nothing about the batch: 401 (a token being
    rotated), 404 `unknown_gateway` (a database restored from an older backup, a gateway
    registered again), 409 `conflict`, 429, 5xx, a proxy's page. The outbox keeps the batch
    until an operator mends the cause, however long that takes.
    """
    if 200 <= status < 300:
        return Delivery.DELIVERED
    code = _error_code(body)
    if status == 409 and code == "duplicate_batch":
        return Delivery.DUPLICATE
    if status in PER_BATCH_REJECTIONS and code is not None:
        return Delivery.REJECTED
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


def observations_json(observations: list[Observation]) -> str:
    """The observations as the JSON array of a batch body (compact)."""
    return json.dumps([o.to_wire() for o in observations], separators=(",", ":"))


def batch_body(batch_id: str, sent_at: float, observations_json: str) -> bytes:
    """A batch request body around an already-encoded observations array."""
    return (
        f'{{"batch_id":{json.dumps(batch_id)},"sent_at":{sent_at!r},'
        f'"observations":{observations_json}}}'
    ).encode()


class Uploader:
    """Posts the outbox's batches oldest first, retrying with backoff; the outbox keeps them."""

    def __init__(
        self,
        settings: GatewaySettings,
        counters: Counters,
        outbox: Outbox,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._counters = counters
        self._outbox = outbox
        self._path = f"/api/v1/gateways/{settings.gateway_id}/batches"
        self._client = httpx.AsyncClient(
            base_url=settings.server_url,
            headers={
                "Authorization": f"Bearer {settings.token}",
                "Content-Type": "application/json",
            },
            timeout=settings.http_timeout_s,
            transport=transport,
        )
        self._retry_at: float | None = None
        # Attempts at the head batch; it is the only one ever attempted, so one number will do.
        self._attempts = 0
        # The post under way, if any. Stopping the gateway cancels the upload loop, not the
        # post: the shutdown's last attempt awaits its answer instead of sending the batch a
        # second time (a batch the server stored just as the loop was cancelled).
        self._posting: asyncio.Task[tuple[Delivery, int | None]] | None = None
        # Since when (wall clock) uploads are held back by answers that keep the batch, and the
        # last such answer's status (None: no answer at all): the heartbeat and /metrics say so.
        self.held_since: float | None = None
        self.held_status: int | None = None

    @property
    def queued_batches(self) -> int:
        """How many batches wait in the outbox."""
        return self._outbox.batches

    def enqueue(self, observations: list[Observation], reason: FlushReason) -> str:
        """Store a closed batch in the outbox (before any attempt); return its batch id."""
        batch_id = str(uuid.uuid4())
        dropped = self._outbox.add(
            batch_id, observations_json(observations), len(observations), reason.value, WALL_TIME()
        )
        for batch in dropped:
            self._counters.batches_dropped += 1
            self._counters.outbox_full_dropped += batch.observation_count
            log_event(
                logger,
                logging.ERROR,
                "batch_dropped",
                why="outbox_full",
                batch_id=batch.batch_id,
                observations=batch.observation_count,
            )
        return batch_id

    def next_attempt_at(self) -> float | None:
        """Monotonic time of the next upload attempt, or None if nothing is queued."""
        if not self._outbox.batches:
            return None
        return self._retry_at if self._retry_at is not None else -float("inf")

    async def deliver_due(self) -> None:
        """Post stored batches oldest first until none is left or a retry is scheduled."""
        while self._outbox.batches:
            if self._retry_at is not None and MONOTONIC_TIME() < self._retry_at:
                return
            if not await self._attempt_oldest():
                return

    async def deliver_all_once(self) -> None:
        """Try stored batches once each, ignoring backoff; stop at the first that fails."""
        self._retry_at = None
        while self._outbox.batches:
            if not await self._attempt_oldest():
                return

    async def aclose(self) -> None:
        """Abandon a post still under way and close the HTTP client (the outbox is its owner's
        to close; the abandoned batch stays in it)."""
        if self._posting is not None:
            self._posting.cancel()
            await asyncio.gather(self._posting, return_exceptions=True)
            self._posting = None
        await self._client.aclose()

    async def _attempt_oldest(self) -> bool:
        """Post the oldest batch, or await the post of it already under way; True if it left
        the outbox (delivered or rejected)."""
        batch = self._outbox.oldest()
        if batch is None:
            return True
        if self._posting is None or self._outbox.in_flight != batch.batch_id:
            self._attempts += 1
            self._outbox.in_flight = batch.batch_id
            self._posting = asyncio.ensure_future(self._post(batch))
        posting = self._posting
        try:
            delivery, status = await asyncio.shield(posting)
        finally:
            if posting.done():  # else cancelled while waiting: the post goes on
                self._posting = None
                self._outbox.in_flight = None
        fields: dict[str, LogValue] = {
            "batch_id": batch.batch_id,
            "observations": batch.observation_count,
            "attempt": self._attempts,
            "status": status,
            "reason": batch.reason,
        }
        if delivery is Delivery.RETRY:
            self._counters.upload_retries += 1
            if self.held_since is None:
                self.held_since = WALL_TIME()
            self.held_status = status
            delay = retry_delay(self._attempts, JITTER())
            self._retry_at = MONOTONIC_TIME() + delay
            log_event(logger, logging.WARNING, "batch_retry", retry_in_s=round(delay, 2), **fields)
            return False
        self._retry_at = None
        self._attempts = 0
        self.held_since = self.held_status = None
        self._outbox.remove(batch.batch_id)
        if delivery is Delivery.REJECTED:
            self._counters.batches_dropped += 1
            self._counters.observations_dropped += batch.observation_count
            log_event(logger, logging.ERROR, "batch_dropped", why="rejected", **fields)
            return True
        self._counters.batches_sent += 1
        self._counters.observations_sent += batch.observation_count
        # DEBUG: two batches a second would flood the log; the stats line sums them up.
        log_event(
            logger, logging.DEBUG, "batch_sent", duplicate=delivery is Delivery.DUPLICATE, **fields
        )
        return True

    async def _post(self, batch: PendingBatch) -> tuple[Delivery, int | None]:
        body = batch_body(batch.batch_id, WALL_TIME(), batch.observations_json)
        try:
            response = await self._client.post(self._path, content=body)
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


class Uplink:
    """Feeds observations into batches, stores them in the outbox and runs the upload loop."""

    def __init__(self, settings: GatewaySettings, counters: Counters, uploader: Uploader) -> None:
        self._counters = counters
        self._batcher = Batcher(interval_s=settings.batch_interval_s, max_batch=settings.max_batch)
        self._uploader = uploader
        self._wake = asyncio.Event()

    @property
    def pending(self) -> int:
        """Observations in the open batch (not yet in the outbox)."""
        return self._batcher.pending

    def submit(self, observation: Observation, *, first_heard: bool) -> None:
        """Add one observation; close the batch at once if it is full or a first sighting."""
        reason = self._batcher.add(observation, MONOTONIC_TIME(), first_heard=first_heard)
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
        """Store the open batch in the outbox, try once to deliver within ``timeout_s``, close.

        What is not delivered stays in the outbox for the next start: nothing is lost.
        """
        if self._batcher.pending:
            self._close_batch(FlushReason.SHUTDOWN)
        try:
            async with asyncio.timeout(timeout_s):
                await self._uploader.deliver_all_once()
        except TimeoutError:
            log_event(logger, logging.WARNING, "final_flush_timeout", timeout_s=timeout_s)
        await self._uploader.aclose()

    def _close_batch(self, reason: FlushReason) -> None:
        observations = self._batcher.take()
        batch_id = self._uploader.enqueue(observations, reason)
        log_event(
            logger,
            logging.DEBUG,
            "batch_closed",
            reason=reason.value,
            batch_id=batch_id,
            observations=len(observations),
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
