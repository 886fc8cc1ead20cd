"""Uplink: the pure batching and answer rules, and uploads to a real local HTTP server."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import socket
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gateway import uplink
from gateway.counters import Counters
from gateway.outbox import Outbox
from gateway.settings import GatewaySettings
from gateway.uplink import (
    Batcher,
    Delivery,
    FlushReason,
    Observation,
    Uplink,
    Uploader,
    classify_answer,
    flush_reason,
    make_observation,
    retry_delay,
)

if TYPE_CHECKING:
    from conftest import RecordingServer

EID_A: dict[str, str | int] = {"kind": "eddystone_eid", "eid": "dbb4dc143e0cf3f3", "tx_power": -20}
EID_B: dict[str, str | int] = {"kind": "eddystone_eid", "eid": "b1ed75610e59726c", "tx_power": -20}
HOUR_S = 3600.0


def _observation(frame: dict[str, str | int] = EID_A, rssi: int = -58) -> Observation:
    observation = make_observation(1764054000.215, rssi, frame)
    assert observation is not None
    return observation


def _settings(server_url: str, **changes: object) -> GatewaySettings:
    base = GatewaySettings(gateway_id="gw-test", token="secret-token", server_url=server_url)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    """An empty outbox file in tmp_path."""
    return Outbox(tmp_path / "outbox.sqlite3", max_observations=1_000_000)


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries after ~10 ms instead of ~0.5 s, so the suite stays fast."""
    monkeypatch.setattr(uplink, "RETRY_BASE_S", 0.01)


# --- pure core ---------------------------------------------------------------------------


@pytest.mark.parametrize(("rssi", "kept"), [(-127, True), (20, True), (-128, False), (21, False)])
def test_observation_rssi_must_be_in_protocol_range(rssi: int, kept: bool) -> None:
    assert (make_observation(0.0, rssi, EID_A) is not None) == kept


def test_observation_wire_shape() -> None:
    assert _observation().to_wire() == {"seen_at": 1764054000.215, "rssi": -58, "frame": EID_A}


@pytest.mark.parametrize(
    ("pending", "opened_at", "first_heard", "now", "expected"),
    [
        (0, None, True, 10.0, None),
        (1, 10.0, True, 10.0, FlushReason.FIRST_HEARD),
        (1, 10.0, False, 10.4, None),
        (1, 10.0, False, 10.5, FlushReason.INTERVAL),
        (3, 10.0, False, 10.0, FlushReason.FULL),
        (3, 10.0, True, 10.0, FlushReason.FULL),
    ],
)
def test_flush_reason(
    pending: int, opened_at: float | None, first_heard: bool, now: float, expected: object
) -> None:
    reason = flush_reason(
        pending=pending,
        opened_at=opened_at,
        first_heard=first_heard,
        now=now,
        interval_s=0.5,
        max_batch=3,
    )
    assert reason == expected


def test_batcher_flushes_first_sighting_at_once_then_by_interval() -> None:
    batcher = Batcher(interval_s=0.5, max_batch=10)
    assert batcher.add(_observation(), 100.0, first_heard=True) is FlushReason.FIRST_HEARD
    assert len(batcher.take()) == 1
    assert batcher.add(_observation(), 100.1, first_heard=False) is None
    assert batcher.due_at() == pytest.approx(100.6)
    assert batcher.due(now=100.5) is None
    assert batcher.due(now=100.6) is FlushReason.INTERVAL
    assert batcher.add(_observation(EID_B), 100.2, first_heard=True) is FlushReason.FIRST_HEARD
    assert len(batcher.take()) == 2
    assert batcher.due_at() is None


def test_batcher_closes_a_full_batch() -> None:
    batcher = Batcher(interval_s=HOUR_S, max_batch=3)
    assert [batcher.add(_observation(), 1.0, first_heard=False) for _ in range(3)] == [
        None,
        None,
        FlushReason.FULL,
    ]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (202, b"{}", Delivery.DELIVERED),
        (409, b'{"error": {"code": "duplicate_batch"}}', Delivery.DUPLICATE),
        (409, b'{"error": {"code": "conflict"}}', Delivery.RETRY),
        (409, b"not json", Delivery.RETRY),
        (409, b"[1, 2]", Delivery.RETRY),
        (400, b'{"error": {"code": "validation_error"}}', Delivery.REJECTED),
        (413, b'{"error": {"code": "too_large"}}', Delivery.REJECTED),
        # Answers that say nothing about the batch keep it: a proxy's page, a token being
        # rotated, a gateway unknown to a database restored from an older backup.
        (400, b"<html>Bad Request</html>", Delivery.RETRY),
        (413, b"", Delivery.RETRY),
        (401, b'{"error": {"code": "unauthorized"}}', Delivery.RETRY),
        (403, b"", Delivery.RETRY),
        (404, b'{"error": {"code": "unknown_gateway"}}', Delivery.RETRY),
        (404, b"", Delivery.RETRY),
        (405, b"", Delivery.RETRY),
        (302, b"", Delivery.RETRY),
        (429, b"", Delivery.RETRY),
        (500, b"", Delivery.RETRY),
        (503, b"<html>", Delivery.RETRY),
    ],
)
def test_classify_answer(status: int, body: bytes, expected: Delivery) -> None:
    assert classify_answer(status, body) is expected


def test_retry_delay_grows_is_capped_and_jittered() -> None:
    base, cap = uplink.RETRY_BASE_S, uplink.RETRY_CAP_S
    assert retry_delay(1, 0.0) == pytest.approx(base / 2)
    assert retry_delay(1, 0.999) == pytest.approx(base, rel=1e-2)
    assert retry_delay(3, 0.0) == pytest.approx(base * 2)
    assert retry_delay(1000, 0.999) <= cap
    assert retry_delay(1000, 0.0) == pytest.approx(cap / 2)


# --- shell against a real HTTP server ---------------------------------------------------


async def _deliver(uploader: Uploader) -> None:
    try:
        await uploader.deliver_due()
    finally:
        await uploader.aclose()


def test_delivered_batch_has_protocol_shape(server: RecordingServer, outbox: Outbox) -> None:
    counters = Counters()
    uploader = Uploader(_settings(server.url), counters, outbox)
    batch_id = uploader.enqueue([_observation(), _observation(EID_B, -70)], FlushReason.INTERVAL)
    asyncio.run(_deliver(uploader))

    (request,) = server.requests
    assert request.path == "/api/v1/gateways/gw-test/batches"
    assert request.headers["authorization"] == "Bearer secret-token"
    assert request.headers["content-type"] == "application/json"
    assert request.body["batch_id"] == batch_id
    assert uuid.UUID(batch_id).version == 4
    assert isinstance(request.body["sent_at"], float)
    assert request.body["observations"] == [
        {"seen_at": 1764054000.215, "rssi": -58, "frame": EID_A},
        {"seen_at": 1764054000.215, "rssi": -70, "frame": EID_B},
    ]
    assert counters.batches_sent == 1
    assert uploader.queued_batches == 0


def test_server_error_is_retried_with_the_same_batch_id(
    server: RecordingServer, outbox: Outbox
) -> None:
    server.answer(500, 503, 429)
    counters = Counters()

    async def scenario() -> None:
        uploader = Uploader(_settings(server.url), counters, outbox)
        uploader.enqueue([_observation()], FlushReason.INTERVAL)
        try:
            while uploader.queued_batches:  # bounded by the wait_for deadline below
                await uploader.deliver_due()
                await asyncio.sleep(0.005)
        finally:
            await uploader.aclose()

    asyncio.run(asyncio.wait_for(scenario(), timeout=10))
    ids = server.batch_ids()
    assert len(ids) == 4
    assert len(set(ids)) == 1
    assert counters.upload_retries == 3
    assert counters.batches_sent == 1
    assert counters.batches_dropped == 0


def test_duplicate_batch_counts_as_delivered(server: RecordingServer, outbox: Outbox) -> None:
    server.answer(409)
    counters = Counters()
    uploader = Uploader(_settings(server.url), counters, outbox)
    uploader.enqueue([_observation()], FlushReason.INTERVAL)
    asyncio.run(_deliver(uploader))
    assert len(server.requests) == 1
    assert uploader.queued_batches == 0
    assert counters.batches_sent == 1
    assert counters.batches_dropped == 0
    assert counters.upload_retries == 0


def test_client_error_drops_the_batch_without_retry(
    server: RecordingServer, outbox: Outbox
) -> None:
    server.answer(400)
    counters = Counters()

    async def scenario() -> None:
        uploader = Uploader(_settings(server.url), counters, outbox)
        uploader.enqueue([_observation(), _observation()], FlushReason.INTERVAL)
        second = uploader.enqueue([_observation(EID_B)], FlushReason.INTERVAL)
        try:
            await uploader.deliver_due()
            await uploader.deliver_due()
        finally:
            await uploader.aclose()
        assert server.batch_ids()[1] == second

    asyncio.run(scenario())
    assert len(server.requests) == 2  # the rejected batch once, then the next batch
    assert counters.batches_dropped == 1
    assert counters.observations_dropped == 2
    assert counters.batches_sent == 1
    assert counters.upload_retries == 0


def test_an_unknown_gateway_answer_keeps_the_batch_and_says_so_until_it_is_taken(
    server: RecordingServer, outbox: Outbox
) -> None:
    server.answer(404, 401, 503)  # restored from an older backup, token mended, restarting
    counters = Counters()
    held: list[tuple[float | None, int | None]] = []

    async def scenario() -> None:
        uploader = Uploader(_settings(server.url), counters, outbox)
        batch_id = uploader.enqueue([_observation(), _observation(EID_B)], FlushReason.INTERVAL)
        try:
            while uploader.queued_batches:  # bounded by the wait_for deadline below
                await uploader.deliver_due()
                held.append((uploader.held_since, uploader.held_status))
                await asyncio.sleep(0.005)
        finally:
            await uploader.aclose()
        assert server.batch_ids() == [batch_id] * 4

    asyncio.run(asyncio.wait_for(scenario(), timeout=10))
    statuses = [status for since, status in held if since is not None]
    assert statuses[0] == 404 and statuses[-1] == 503 and 401 in statuses
    assert held[-1] == (None, None)  # taken: no longer held
    assert len({since for since, _ in held if since is not None}) == 1  # held since the first
    assert counters.batches_dropped == 0 and counters.observations_dropped == 0
    assert counters.batches_sent == 1 and counters.upload_retries == 3


def test_unreachable_server_keeps_the_batch(outbox: Outbox) -> None:
    counters = Counters()

    async def scenario() -> None:
        uploader = Uploader(_settings(_closed_port_url(), http_timeout_s=2.0), counters, outbox)
        uploader.enqueue([_observation()], FlushReason.INTERVAL)
        try:
            await uploader.deliver_due()
            assert uploader.queued_batches == 1
            assert uploader.next_attempt_at() is not None
        finally:
            await uploader.aclose()

    asyncio.run(scenario())
    assert counters.upload_retries == 1
    assert counters.batches_dropped == 0


@pytest.mark.parametrize(
    "answer", [b"HELLO? \x00\xff not http at all\r\n\r\n", None], ids=["garbage", "hangs"]
)
def test_a_server_answering_garbage_or_hanging_is_timed_out_and_retried(
    outbox: Outbox, answer: bytes | None
) -> None:
    counters = Counters()

    async def scenario() -> None:
        release = asyncio.Event()
        handlers: list[asyncio.Task[None]] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(65536)
            if answer is None:  # never answer: only the gateway's timeout ends its wait
                await release.wait()
            else:
                writer.write(answer)
                await writer.drain()
            writer.close()
            await writer.wait_closed()

        def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            handlers.append(asyncio.create_task(serve(reader, writer)))

        server = await asyncio.start_server(peer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        uploader = Uploader(
            _settings(f"http://127.0.0.1:{port}", http_timeout_s=0.5), counters, outbox
        )
        uploader.enqueue([_observation()], FlushReason.INTERVAL)
        try:
            await uploader.deliver_due()
            assert uploader.queued_batches == 1  # kept for the next try, not dropped
            assert uploader.next_attempt_at() is not None
        finally:
            await uploader.aclose()
            release.set()
            await asyncio.gather(*handlers, return_exceptions=True)
            server.close()
            await server.wait_closed()

    asyncio.run(asyncio.wait_for(scenario(), timeout=10))
    assert counters.upload_retries == 1
    assert counters.batches_dropped == 0


def _flush_reasons(caplog: pytest.LogCaptureFixture) -> list[str]:
    reasons = []
    for record in caplog.records:
        match = re.search(r"event=batch_closed reason=(\w+)", record.getMessage())
        if match:
            reasons.append(match.group(1))
    return reasons


def test_first_heard_is_uploaded_without_waiting_for_the_interval(
    server: RecordingServer, caplog: pytest.LogCaptureFixture, outbox: Outbox
) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway.uplink")
    counters = Counters()

    async def scenario() -> None:
        settings = _settings(server.url, batch_interval_s=HOUR_S)
        link = Uplink(settings, counters, Uploader(settings, counters, outbox))
        runner = asyncio.create_task(link.run())
        link.submit(_observation(), first_heard=True)
        await server.await_until(lambda: len(server.requests) == 1, "the first sighting")
        link.submit(_observation(rssi=-60), first_heard=False)  # waits for the interval
        link.submit(_observation(EID_B), first_heard=True)  # goes at once, with the waiting one
        await server.await_until(lambda: counters.batches_sent == 2, "the second sighting")
        link.submit(_observation(rssi=-61), first_heard=False)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await link.shutdown(timeout_s=5.0)

    asyncio.run(asyncio.wait_for(scenario(), timeout=10))
    assert _flush_reasons(caplog) == ["first_heard", "first_heard", "shutdown"]
    assert [len(r.body["observations"]) for r in server.requests] == [1, 2, 1]
    assert server.observations()[-1]["rssi"] == -61
    assert counters.batches_sent == 3


def test_stopped_while_an_upload_awaits_its_answer_the_batch_is_sent_once(
    server: RecordingServer, outbox: Outbox
) -> None:
    counters = Counters()
    server.answering.clear()

    async def scenario() -> None:
        settings = _settings(server.url, batch_interval_s=HOUR_S)
        link = Uplink(settings, counters, Uploader(settings, counters, outbox))
        runner = asyncio.create_task(link.run())
        link.submit(_observation(), first_heard=True)
        await server.await_until(lambda: len(server.requests) == 1, "the upload")
        runner.cancel()  # the gateway is stopped while the server holds the answer
        await asyncio.gather(runner, return_exceptions=True)
        stopping = asyncio.create_task(link.shutdown(timeout_s=5.0))
        server.answering.set()
        await stopping

    asyncio.run(asyncio.wait_for(scenario(), timeout=10))
    assert server.answers == [202]
    assert counters.batches_sent == 1
    assert outbox.batches == 0


def test_interval_closes_the_batch(
    server: RecordingServer, caplog: pytest.LogCaptureFixture, outbox: Outbox
) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway.uplink")
    counters = Counters()

    async def scenario() -> None:
        settings = _settings(server.url, batch_interval_s=0.05)
        link = Uplink(settings, counters, Uploader(settings, counters, outbox))
        runner = asyncio.create_task(link.run())
        link.submit(_observation(), first_heard=True)
        link.submit(_observation(rssi=-60), first_heard=False)
        await server.await_until(lambda: counters.batches_sent == 2, "the interval batch")
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await link.shutdown(timeout_s=5.0)

    asyncio.run(asyncio.wait_for(scenario(), timeout=10))
    assert _flush_reasons(caplog) == ["first_heard", "interval"]


def test_shutdown_with_server_down_keeps_the_batches_in_the_outbox(outbox: Outbox) -> None:
    counters = Counters()

    async def scenario() -> None:
        settings = _settings(_closed_port_url(), batch_interval_s=HOUR_S)
        link = Uplink(settings, counters, Uploader(settings, counters, outbox))
        link.submit(_observation(), first_heard=True)
        link.submit(_observation(), first_heard=False)
        await link.shutdown(timeout_s=5.0)

    asyncio.run(asyncio.wait_for(scenario(), timeout=10))
    assert (outbox.batches, outbox.observations) == (2, 2)
    assert counters.batches_dropped == 0
    assert counters.batches_sent == 0
