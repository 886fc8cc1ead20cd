"""The radio link server and the SimBleakScanner backend, end to end over real sockets."""

# Seeded random.Random is the simulator's reproducible noise source, not cryptography.

from __future__ import annotations

import asyncio
import io
import json
import random
import time
from collections.abc import Callable

import pytest
from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from firmware_sim.bleak_backend import RADIO_URL_ENV, SimBleakScanner
from firmware_sim.builtin_scenarios import builtin_scenario
from firmware_sim.clock import VirtualClock
from firmware_sim.eddystone import EDDYSTONE_SERVICE_UUID, compute_eid
from firmware_sim.phones import PhoneKey
from firmware_sim.radio import ChannelParams
from firmware_sim.radio_link import RadioLinkServer
from firmware_sim.runner import RunOutputs, run_scenario_loop
from firmware_sim.wire import AdvertJson, hello_line
from firmware_sim.world import build_world
from tests.support.polling import await_until

MARIA_KEY = PhoneKey(bytes.fromhex("8f0e1d2c3b4a59687766554433221100"), 10)
OTHER_UUID = "0000fe9f-0000-1000-8000-00805f9b34fb"
DEADLINE_S = 5.0


async def poll(condition: Callable[[], bool], what: str) -> None:
    """Wait until `condition()` holds, failing after DEADLINE_S."""
    assert await await_until(condition, DEADLINE_S, 0.01), f"timed out waiting for {what}"


def eid_of(advert: AdvertisementData) -> bytes | None:
    """The EID in an Eddystone-EID service data payload, checked the way a gateway would."""
    data = advert.service_data.get(EDDYSTONE_SERVICE_UUID)
    if data is None or len(data) != 10 or data[0] != 0x30:
        return None
    return data[2:]


def marker_advert(service_uuid: str) -> AdvertJson:
    return {
        "address": "C0:00:00:00:00:99",
        "rssi": -42,
        "local_name": "marker",
        "tx_power": 4,
        "manufacturer_data": {"76": "0215"},
        "service_data": {},
        "service_uuids": [service_uuid],
    }


def test_pickup_door_round_trip_through_bleak(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        link = RadioLinkServer()
        host, port = await link.start("127.0.0.1", 0)
        monkeypatch.setenv(RADIO_URL_ENV, f"tcp://{host}:{port}/gw-entrance")
        received: list[tuple[BLEDevice, AdvertisementData]] = []
        filtered: list[AdvertisementData] = []
        scanner = BleakScanner(
            lambda d, a: received.append((d, a)),
            service_uuids=[EDDYSTONE_SERVICE_UUID],
            backend=SimBleakScanner,
        )
        other_scanner = BleakScanner(
            lambda d, a: filtered.append(a), service_uuids=[OTHER_UUID], backend=SimBleakScanner
        )
        await scanner.start()
        await other_scanner.start()
        await poll(lambda: link.client_count("gw-entrance") == 2, "both scanners connected")

        unix_start = time.time()
        world = build_world(
            builtin_scenario("pickup-door"),
            {"maria": MARIA_KEY},
            ChannelParams(packet_loss=0.0),
            unix_start,
            random.Random(3),
        )
        air_log = io.StringIO()
        await run_scenario_loop(
            world,
            VirtualClock(unix_start),
            random.Random(4),
            20,
            RunOutputs(link=link, air_log=air_log),
            loop=False,
        )
        heard = [json.loads(line) for line in air_log.getvalue().splitlines()]
        at_arrival_point = [h for h in heard if h["gateway"] == "gw-entrance"]
        assert len(at_arrival_point) >= 15
        await poll(lambda: len(received) == len(at_arrival_point), "every advert delivered")

        window_eids = {
            compute_eid(MARIA_KEY.identity_key, 10, int(unix_start) + k) for k in range(22)
        }
        for (_device, advert), logged in zip(received, at_arrival_point, strict=True):
            assert eid_of(advert) in window_eids
            assert advert.rssi == logged["rssi"]
            assert advert.platform_data == ()
        # One phone: one address, or two if a 15-minute rotation fell inside the run.
        assert 1 <= len({device.address for device, _ in received}) <= 2
        assert link.counters.dropped_no_client > 0  # gw-floor had nobody listening

        # A marker sent after everything else proves the other scanner filtered the EIDs.
        link.publish("gw-entrance", marker_advert(OTHER_UUID))
        await poll(lambda: len(filtered) == 1, "marker delivered")
        assert filtered[0].manufacturer_data == {76: bytes.fromhex("0215")}
        assert filtered[0].local_name == "marker"

        await scanner.stop()
        await scanner.stop()
        await other_scanner.stop()
        await link.close()

    asyncio.run(scenario())


def test_scanner_skips_malformed_lines_and_survives_link_drop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hellos: list[bytes] = []
    good = json.dumps(marker_advert(OTHER_UUID)).encode() + b"\n"

    async def fake_link(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hellos.append(await reader.readline())
        for bad in (
            b"not json\n",
            b"[]\n",
            b'{"address": 1}\n',
            b'{"address": "AA", "rssi": -50, "service_data": {"x": "zz"}}\n',
            b"x" * 100_000 + b"\n",
            b"\xff\xfe\n",
        ):
            writer.write(bad)
        writer.write(good)
        await writer.drain()
        writer.close()

    async def scenario() -> None:
        server = await asyncio.start_server(fake_link, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        monkeypatch.setenv(RADIO_URL_ENV, f"tcp://127.0.0.1:{port}/gw-x")
        received: list[AdvertisementData] = []
        scanner = BleakScanner(lambda d, a: received.append(a), backend=SimBleakScanner)
        await scanner.start()
        await poll(lambda: len(received) == 1, "the one good advert")
        assert received[0].rssi == -42
        assert hellos == [hello_line("gw-x")]
        await scanner.stop()
        await scanner.stop()
        server.close()
        await server.wait_closed()

    asyncio.run(scenario())


def test_scanner_callback_failure_does_not_stop_scanning(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        link = RadioLinkServer()
        host, port = await link.start("127.0.0.1", 0)
        monkeypatch.setenv(RADIO_URL_ENV, f"tcp://{host}:{port}/gw-entrance")
        calls: list[int] = []

        def flaky(device: BLEDevice, advert: AdvertisementData) -> None:
            calls.append(advert.rssi)
            if len(calls) == 1:
                raise RuntimeError("callback bug")

        scanner = BleakScanner(flaky, backend=SimBleakScanner)
        await scanner.start()
        await poll(lambda: link.connected_gateways() == {"gw-entrance"}, "connected")
        link.publish("gw-entrance", marker_advert(OTHER_UUID))
        link.publish("gw-entrance", marker_advert(OTHER_UUID))
        await poll(lambda: len(calls) == 2, "both adverts")
        await scanner.stop()
        await link.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("value", [None, "", "tcp://host-without-port/gw", "udp://h:1/gw"])
def test_scanner_start_rejects_missing_or_bad_url(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(RADIO_URL_ENV, raising=False)
    else:
        monkeypatch.setenv(RADIO_URL_ENV, value)
    scanner = BleakScanner(lambda d, a: None, backend=SimBleakScanner, bluez={}, cb={})
    with pytest.raises(ValueError, match=RADIO_URL_ENV):
        asyncio.run(scanner.start())


def test_scanner_start_fails_with_bleak_error_when_nobody_listens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def scenario() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        monkeypatch.setenv(RADIO_URL_ENV, f"tcp://127.0.0.1:{port}/gw")
        scanner = BleakScanner(lambda d, a: None, backend=SimBleakScanner)
        with pytest.raises(BleakError):
            await scanner.start()

    asyncio.run(scenario())


def test_slow_client_keeps_only_the_newest_adverts() -> None:
    async def scenario() -> None:
        link = RadioLinkServer(queue_size=3)
        host, port = await link.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(hello_line("gw-entrance"))
        await writer.drain()
        await poll(lambda: link.connected_gateways() == {"gw-entrance"}, "connected")
        for rssi in range(-60, -55):  # five adverts with no chance to send in between
            link.publish("gw-entrance", {**marker_advert(OTHER_UUID), "rssi": rssi})
        assert link.counters.dropped_slow_client == 2
        lines = [await asyncio.wait_for(reader.readline(), DEADLINE_S) for _ in range(3)]
        assert [json.loads(line)["rssi"] for line in lines] == [-58, -57, -56]

        link.publish("gw-nobody", marker_advert(OTHER_UUID))
        assert link.counters.dropped_no_client == 1

        writer.close()
        await writer.wait_closed()
        await poll(lambda: link.connected_gateways() == set(), "disconnect noticed")
        await link.close()

    asyncio.run(scenario())


def test_bad_hello_is_disconnected() -> None:
    async def scenario() -> None:
        link = RadioLinkServer()
        host, port = await link.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"hello there\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), DEADLINE_S) == b""
        assert link.connected_gateways() == set()
        writer.close()
        await writer.wait_closed()
        await link.close()

    asyncio.run(scenario())
