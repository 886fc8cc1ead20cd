"""The on-disk outbox: stored before sending, survives reopening, bounded by dropping oldest."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.counters import Counters
from gateway.outbox import Outbox
from gateway.settings import GatewaySettings
from gateway.uplink import FlushReason, Observation, Uploader

if TYPE_CHECKING:
    from conftest import RecordingServer

EID: dict[str, str | int] = {"kind": "eddystone_eid", "eid": "dbb4dc143e0cf3f3", "tx_power": -20}


def _observations(count: int, rssi: int = -60) -> list[Observation]:
    return [Observation(1764054000.0 + n, rssi, EID) for n in range(count)]


def _settings(url: str) -> GatewaySettings:
    base = GatewaySettings(gateway_id="gw-test", token="secret-token", server_url=url)
    return dataclasses.replace(base, http_timeout_s=2.0)


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_batch_is_written_before_it_is_sent(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path, max_observations=1_000)
    uploader = Uploader(_settings(_closed_port_url()), Counters(), outbox)
    batch_id = uploader.enqueue(_observations(3), FlushReason.INTERVAL)
    asyncio.run(uploader.aclose())
    # Nothing was attempted yet, and another connection already sees the committed row.
    reader = Outbox(path, max_observations=1_000)
    pending = reader.oldest()
    assert pending is not None
    assert (pending.batch_id, pending.observation_count) == (batch_id, 3)
    assert [o["rssi"] for o in json.loads(pending.observations_json)] == [-60] * 3
    reader.close()
    outbox.close()


def test_outbox_survives_reopening_in_order(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path, max_observations=1_000)
    outbox.add("first", "[]", 2, "interval", 1.0)
    outbox.add("second", "[]", 3, "interval", 2.0)
    outbox.close()
    reopened = Outbox(path, max_observations=1_000)
    assert (reopened.batches, reopened.observations) == (2, 5)
    oldest = reopened.oldest()
    assert oldest is not None and oldest.batch_id == "first"
    assert reopened.remove("first")
    assert not reopened.remove("first")
    assert (reopened.batches, reopened.observations) == (1, 3)
    reopened.close()


def test_full_outbox_drops_oldest_counts_and_keeps_in_flight(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3", max_observations=5)
    counters = Counters()
    uploader = Uploader(_settings(_closed_port_url()), counters, outbox)
    first = uploader.enqueue(_observations(2), FlushReason.INTERVAL)
    uploader.enqueue(_observations(2), FlushReason.INTERVAL)  # the oldest but in-flight one
    outbox.in_flight = first  # being posted: must survive
    uploader.enqueue(_observations(2), FlushReason.INTERVAL)
    asyncio.run(uploader.aclose())
    assert (outbox.batches, outbox.observations) == (2, 4)
    assert counters.outbox_full_dropped == 2
    assert counters.batches_dropped == 1
    remaining = outbox.oldest()
    assert remaining is not None and remaining.batch_id == first
    outbox.close()


def test_pending_batch_is_resent_with_the_same_id_after_restart(
    tmp_path: Path, server: RecordingServer
) -> None:
    path = tmp_path / "outbox.sqlite3"

    async def first_run() -> str:
        uploader = Uploader(_settings(_closed_port_url()), Counters(), Outbox(path, 1_000))
        batch_id = uploader.enqueue(_observations(2), FlushReason.INTERVAL)
        await uploader.deliver_due()  # the server is down: it stays
        await uploader.aclose()
        return batch_id

    batch_id = asyncio.run(first_run())

    async def second_run() -> None:
        outbox = Outbox(path, 1_000)
        uploader = Uploader(_settings(server.url), Counters(), outbox)
        await uploader.deliver_due()
        await uploader.aclose()
        assert outbox.batches == 0
        outbox.close()

    asyncio.run(second_run())
    assert server.batch_ids() == [batch_id]
    assert len(server.observations()) == 2
