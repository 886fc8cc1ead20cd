"""Scanner and service through bleak's backend seam, with a test-only fake backend."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

import pytest
from bleak.args.bluez import BlueZScannerArgs, OrPattern
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError

from gateway import scanner as scanner_module
from gateway.counters import Counters
from gateway.scanner import PASSIVE_OR_PATTERNS, Advert, Scanner, ScannerError, load_backend
from gateway.service import run_gateway
from gateway.settings import GatewaySettings, SettingsError

if TYPE_CHECKING:
    from conftest import RecordingServer

EDDYSTONE = "0000feaa-0000-1000-8000-00805f9b34fb"
EID_ONE = "4549445f74657374"  # the shared vector "eid" (tests/vectors/adverts.json)
EID_TWO = "0102030405060708"
# (address, rssi, manufacturer_data, service_data) in the order the fake backend emits them.
FAKE_ADVERTS: list[tuple[str, int, dict[int, bytes], dict[str, bytes]]] = [
    ("C0:00:00:00:00:01", -60, {}, {EDDYSTONE: bytes.fromhex("30e3" + EID_ONE)}),
    ("C0:00:00:00:00:02", -70, {}, {EDDYSTONE: b"\x30\xffgarbage, not an EID frame"}),
    ("C0:00:00:00:00:03", -71, {0x004C: b"\x02\x15\x00"}, {}),
    ("C0:00:00:00:00:01", -61, {}, {EDDYSTONE: bytes.fromhex("30e3" + EID_ONE)}),
    ("C0:00:00:00:00:04", -75, {}, {EDDYSTONE: bytes.fromhex("30ec" + EID_TWO)}),
    ("C0:00:00:00:00:05", 127, {}, {EDDYSTONE: bytes.fromhex("30ec" + EID_TWO)}),
]


EXPECTED_COUNTS = {
    "adverts_seen": 6,
    "frames_decoded": 4,
    "unregistered_dropped": 0,
    "undecodable_dropped": 2,  # the garbage EID frame and the short iBeacon
    "batches_dropped": 0,
    "observations_dropped": 1,  # RSSI 127 is outside the protocol's range
    "upload_retries": 0,
}


class FakeBackend(BaseBleakScanner):
    """A bleak scanner backend that emits FAKE_ADVERTS from start(), then stays quiet."""

    created: ClassVar[list[FakeBackend]] = []

    def __init__(
        self,
        detection_callback: Any,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"],
        *,
        bluez: BlueZScannerArgs,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self.scanning_mode = scanning_mode
        self.bluez = bluez
        self.stopped = False
        FakeBackend.created.append(self)

    async def start(self) -> None:
        self.seen_devices = {}
        for address, rssi, manufacturer_data, service_data in FAKE_ADVERTS:
            advertisement = AdvertisementData(
                local_name=None,
                manufacturer_data=manufacturer_data,
                service_data=service_data,
                service_uuids=list(service_data),
                tx_power=None,
                rssi=rssi,
                platform_data=(),
            )
            device = self.create_or_update_device(address, address, None, None, advertisement)
            self.call_detection_callbacks(device, advertisement)

    async def stop(self) -> None:
        self.stopped = True


class VanishedAdapterBackend(FakeBackend):
    """Fails like BlueZ does once the adapter is gone."""

    async def stop(self) -> None:
        raise OSError("No such device: hci0")


class NoAdapterBackend(FakeBackend):
    """Refuses to start, like BlueZ without an adapter."""

    async def start(self) -> None:
        raise OSError("No Bluetooth adapters found.")


class FlakyBackend(FakeBackend):
    """Refuses to start ``failures`` times (adapter gone), then works like FakeBackend."""

    failures: ClassVar[int] = 0

    async def start(self) -> None:
        if FlakyBackend.failures > 0:
            FlakyBackend.failures -= 1
            raise BleakError("Bluetooth adapter not available")
        await super().start()


class ScriptedBackend(FakeBackend):
    """Emits the adverts of the JSON file named by $FAKE_ADVERTS_FILE (subprocess tests)."""

    async def start(self) -> None:
        script = json.loads(Path(os.environ["FAKE_ADVERTS_FILE"]).read_text())
        for address, rssi, service_data_hex in script:
            service_data = {uuid: bytes.fromhex(data) for uuid, data in service_data_hex.items()}
            advertisement = AdvertisementData(
                local_name=None,
                manufacturer_data={},
                service_data=service_data,
                service_uuids=list(service_data),
                tx_power=None,
                rssi=rssi,
                platform_data=(),
            )
            device = self.create_or_update_device(address, address, None, None, advertisement)
            self.call_detection_callbacks(device, advertisement)


class NotABackend:
    """Has the right name shape but is no bleak backend."""


@pytest.fixture(autouse=True)
def forget_backends() -> None:
    FakeBackend.created.clear()


def test_empty_backend_means_bleak_platform_backend() -> None:
    assert load_backend("") is None


def test_load_backend_by_dotted_path() -> None:
    assert load_backend(f"{__name__}:FakeBackend") is FakeBackend


@pytest.mark.parametrize(
    ("dotted", "complaint"),
    [
        ("no_such_module_xyz:Backend", "cannot import"),
        (f"{__name__}:Missing", "has no"),
        (f"{__name__}:NotABackend", "BaseBleakScanner"),
        (f"{__name__}:EDDYSTONE", "BaseBleakScanner"),
        (f"{__name__}", "package.module:Class"),
    ],
)
def test_bad_backend_is_a_settings_error(dotted: str, complaint: str) -> None:
    with pytest.raises(SettingsError, match="GATEWAY_SCANNER_BACKEND") as caught:
        load_backend(dotted)
    assert complaint in str(caught.value)


def test_scanner_hands_plain_records_with_gateway_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scanner_module, "WALL_TIME", lambda: 1764054000.5)
    heard: list[Advert] = []

    async def scan() -> None:
        scanner = Scanner(
            heard.append, scanning_mode="passive", adapter="hci7", backend=FakeBackend
        )
        await scanner.start()
        await scanner.stop()

    asyncio.run(scan())
    (backend,) = FakeBackend.created
    assert backend.scanning_mode == "passive"
    # Passive scanning on BlueZ hears only what matches these: Eddystone, iBeacon, AltBeacon.
    assert backend.bluez == {"adapter": "hci7", "or_patterns": PASSIVE_OR_PATTERNS}
    assert [
        (p.start_position, p.ad_data_type, p.content_of_pattern)
        # The equality above shows they are the OrPatterns, not bare tuples bleak also takes.
        for p in cast(list[OrPattern], backend.bluez["or_patterns"])
    ] == [(0, 0x16, b"\xaa\xfe"), (0, 0xFF, b"\x4c\x00\x02\x15"), (2, 0xFF, b"\xbe\xac")]
    assert backend.stopped
    assert [advert.address for advert in heard] == [a[0] for a in FAKE_ADVERTS]
    assert heard[0] == Advert(
        address="C0:00:00:00:00:01",
        rssi=-60,
        manufacturer_data={},
        service_data={EDDYSTONE: bytes.fromhex("30e3" + EID_ONE)},
        service_uuids=(EDDYSTONE,),
        received_at=1764054000.5,
    )


def test_stop_swallows_and_logs_adapter_errors(caplog: pytest.LogCaptureFixture) -> None:
    async def scan() -> None:
        scanner = Scanner(lambda advert: None, backend=VanishedAdapterBackend)
        await scanner.start()
        await scanner.stop()

    asyncio.run(scan())
    assert "event=scanner_stop_failed error=OSError" in caplog.text


def test_start_failure_is_a_scanner_error() -> None:
    async def scan() -> None:
        await Scanner(lambda advert: None, backend=NoAdapterBackend).start()

    with pytest.raises(ScannerError, match="No Bluetooth adapters"):
        asyncio.run(scan())


def test_gateway_uploads_eid_frames_and_counts_garbage(
    server: RecordingServer, gateway_env: dict[str, str]
) -> None:
    settings = GatewaySettings.from_env(
        {**gateway_env, "GATEWAY_SCANNER_BACKEND": f"{__name__}:FakeBackend"}
    )
    counters = Counters()
    ready: list[bool] = []

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(
            run_gateway(settings, stop=stop, on_ready=lambda: ready.append(True), counters=counters)
        )
        # Acknowledged, not only received: stopping while an upload still awaits its answer
        # leaves the batch in the outbox, and shutdown would rightly send it again.
        await server.await_until(
            lambda: len(server.observations()) == 2 and counters.batches_sent >= 2,
            "the two EID devices' first sightings",
        )
        stop.set()
        await running

    asyncio.run(asyncio.wait_for(scenario(), timeout=10))
    assert ready == [True]
    assert FakeBackend.created[0].stopped
    # The second EID_ONE advert (-61) comes within the rate bound: coalesced, not uploaded.
    assert [(o["frame"]["eid"], o["rssi"]) for o in server.observations()] == [
        (EID_ONE, -60),
        (EID_TWO, -75),
    ]
    assert counters.readings_coalesced == 1
    snapshot = counters.snapshot()
    assert {key: snapshot[key] for key in EXPECTED_COUNTS} == EXPECTED_COUNTS
    assert counters.batches_sent >= 2  # each new EID goes at once


def test_gateway_never_logs_device_addresses(
    server: RecordingServer, gateway_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway")
    settings = GatewaySettings.from_env(
        {**gateway_env, "GATEWAY_SCANNER_BACKEND": f"{__name__}:FakeBackend"}
    )

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(run_gateway(settings, stop=stop))
        await server.await_until(lambda: len(server.observations()) == 2, "the observations")
        stop.set()
        await running

    asyncio.run(asyncio.wait_for(scenario(), timeout=10))
    assert "event=stopped" in caplog.text
    assert "C0:00:00" not in caplog.text
    assert "secret-token" not in caplog.text
