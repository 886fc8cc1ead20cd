"""Heartbeat body, config fetch and cache, and the /metrics endpoint, against local servers."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gateway.counters import Counters, LiveStatus
from gateway.metrics import GatewayCollector, MetricsServer
from gateway.service import config_cache_path, run_gateway
from gateway.settings import GatewaySettings

if TYPE_CHECKING:
    from conftest import RecordingServer

BACKEND = "test_gateway_scanner:FakeBackend"
HEARTBEAT_KEYS = {
    "sent_at", "version", "adapter_state", "adverts_per_s", "devices_tracked", "outbox_depth",
    "dropped", "last_advert_at", "scanner_restarts", "uploads_held_since", "upload_held_status",
}  # fmt: skip
REGISTERED = {"kind": "ibeacon", "id": "fda50693-a4e2-4fb1-afcf-c6eb07647825:1:2"}


def _run_until(
    settings: GatewaySettings, condition: Callable[[], bool], what: str, server: RecordingServer
) -> Counters:
    counters = Counters()

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(run_gateway(settings, stop=stop, counters=counters))
        await server.await_until(condition, what)
        stop.set()
        await running

    asyncio.run(asyncio.wait_for(scenario(), timeout=15))
    return counters


def test_heartbeat_body_has_exactly_the_documented_shape(
    server: RecordingServer, gateway_env: dict[str, str]
) -> None:
    settings = GatewaySettings.from_env({**gateway_env, "GATEWAY_SCANNER_BACKEND": BACKEND})
    _run_until(settings, lambda: len(server.heartbeats) >= 1, "a heartbeat", server)
    (first, *_) = server.heartbeats
    assert first.path == "/api/v1/gateways/gw-test/heartbeat"
    assert first.headers["authorization"] == "Bearer secret-token"
    body = first.body
    assert set(body) == HEARTBEAT_KEYS
    assert body["adapter_state"] in {"scanning", "restarting", "unavailable"}
    assert set(body["dropped"]) == {"undecodable", "unregistered", "outbox_full"}
    assert all(type(v) is int and v >= 0 for v in body["dropped"].values())
    assert isinstance(body["sent_at"], float) and body["version"] == "0.1.0"
    assert type(body["devices_tracked"]) is int and type(body["outbox_depth"]) is int


def test_config_is_fetched_cached_and_used_when_the_server_refuses(
    server: RecordingServer, gateway_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway")
    server.config["registered"] = [REGISTERED]
    settings = GatewaySettings.from_env({**gateway_env, "GATEWAY_SCANNER_BACKEND": BACKEND})
    _run_until(settings, lambda: len(server.observations()) == 2, "the uploads", server)
    cached = json.loads(config_cache_path(settings).read_text())
    assert cached["registered"] == [REGISTERED]
    assert "event=config_applied source=server registered=1" in caplog.text

    caplog.clear()
    server.config_status = 404
    counters = _run_until(settings, lambda: len(server.observations()) == 4, "again", server)
    assert "event=config_applied source=cache registered=1" in caplog.text
    assert "event=config_fetch_failed status=404" in caplog.text
    assert counters.config_failures == 1


def test_metrics_endpoint_serves_the_counters_and_levels(tmp_path: Path) -> None:
    counters = Counters(adverts_seen=12, unregistered_dropped=3, scanner_restarts=1)
    status = LiveStatus("restarting", 4, 2, 37, 3, 1764054000.5)
    metrics = MetricsServer("127.0.0.1", 0, GatewayCollector(counters, lambda: status))
    metrics.start()
    try:
        url = f"http://127.0.0.1:{metrics.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            text = response.read().decode()
    finally:
        metrics.stop()
    assert "beacon_gateway_adverts_seen_total 12.0" in text
    assert "beacon_gateway_unregistered_dropped_total 3.0" in text
    assert "beacon_gateway_scanner_restarts_total 1.0" in text
    assert "beacon_gateway_outbox_observations 37.0" in text
    assert "beacon_gateway_devices_tracked 4.0" in text
    assert 'beacon_gateway_adapter_state{state="restarting"} 1.0' in text
    assert 'beacon_gateway_adapter_state{state="scanning"} 0.0' in text
    assert "beacon_gateway_uploads_held 0.0" in text
    assert "upload_held_status" not in text


def test_metrics_say_since_when_and_why_uploads_are_held() -> None:
    status = LiveStatus("scanning", 0, 3, 90, 0, None, 1764054000.5, 404)
    collector = GatewayCollector(Counters(), lambda: status)
    values = {
        sample.name: sample.value for family in collector.collect() for sample in family.samples
    }
    assert values["beacon_gateway_uploads_held"] == 1
    assert values["beacon_gateway_uploads_held_since_timestamp_seconds"] == 1764054000.5
    assert values["beacon_gateway_upload_held_status"] == 404


def test_metrics_port_taken_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    status = LiveStatus("scanning", 0, 0, 0, 0, None)
    first = MetricsServer("127.0.0.1", 0, GatewayCollector(Counters(), lambda: status))
    first.start()
    try:
        second = MetricsServer(
            "127.0.0.1", first.port or 0, GatewayCollector(Counters(), lambda: status)
        )
        second.start()
        assert second.port is None
        second.stop()
    finally:
        first.stop()
    assert "event=metrics_unavailable" in caplog.text
