"""The virtual BlueZ adapter: its pure merge rules, and bleak's real BlueZ backend scanning it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from firmware_sim.bluez.model import (
    DiscoveryFilter,
    ScanPolicy,
    ad_structures,
    address_type,
    advert_from_json,
    device_path,
    device_properties,
    merge_advert,
    patterns_match,
    policy_accepts,
    property_changes,
    scan_policy,
)
from firmware_sim.bluez.names import (
    ERROR_FAILED,
    ERROR_IN_PROGRESS,
    ERROR_INVALID_ARGUMENTS,
    ERROR_NOT_SUPPORTED,
    RSSI_THRESHOLD_DB,
)
from firmware_sim.bluez.service import VirtualBluez
from firmware_sim.bluez.settings import BluezSettings
from firmware_sim.bluez.variants import FilterError, parse_discovery_filter
from firmware_sim.builtin_scenarios import builtin_scenario
from firmware_sim.clock import ScaledClock
from firmware_sim.dbus_daemon import DbusDaemon
from firmware_sim.phones import PhoneKey
from firmware_sim.radio import ChannelParams
from firmware_sim.runner import RunOutputs, run_scenario_loop
from firmware_sim.wire import AdvertJson, ParsedAdvert
from firmware_sim.world import build_world
from tests.support.polling import await_until

EDDYSTONE = "0000feaa-0000-1000-8000-00805f9b34fb"
DEADLINE_S = 10.0
FILTERED = ScanPolicy(scanning=True, filtered=True, duplicate_data=False)
UNFILTERED = ScanPolicy(scanning=True)
MARIA_KEY = PhoneKey(bytes.fromhex("8f0e1d2c3b4a59687766554433221100"), 10)


def parsed(
    rssi: int = -60,
    manufacturer: dict[int, bytes] | None = None,
    service: dict[str, bytes] | None = None,
    uuids: list[str] | None = None,
    name: str | None = None,
) -> ParsedAdvert:
    return ParsedAdvert(
        address="5A:00:00:00:00:01",
        rssi=rssi,
        local_name=name,
        tx_power=None,
        manufacturer_data=manufacturer or {},
        service_data=service or {},
        service_uuids=uuids or [],
    )


def advert_json(address: str, rssi: int, eid_hex: str = "30f4" + "00" * 8) -> AdvertJson:
    return {
        "address": address,
        "rssi": rssi,
        "local_name": None,
        "tx_power": None,
        "manufacturer_data": {},
        "service_data": {EDDYSTONE: eid_hex},
        "service_uuids": [EDDYSTONE],
    }


# --- pure rules --------------------------------------------------------------------------------


def test_manufacturer_and_service_data_merge_per_key() -> None:
    first = merge_advert(
        None, parsed(manufacturer={76: b"\x02"}, service={EDDYSTONE: b"a"}), FILTERED
    )
    second = merge_advert(
        first.state, parsed(manufacturer={89: b"\x01"}, service={EDDYSTONE: b"b"}), FILTERED
    )
    assert second.state.manufacturer_data == {76: b"\x02", 89: b"\x01"}
    assert second.state.service_data == {EDDYSTONE: b"b"}
    assert second.forced == frozenset()


def test_uuids_accumulate_and_name_sticks() -> None:
    first = merge_advert(None, parsed(uuids=[EDDYSTONE], name="tag"), FILTERED)
    second = merge_advert(first.state, parsed(uuids=["0000180f" + EDDYSTONE[8:]]), FILTERED)
    assert second.state.uuids == (EDDYSTONE, "0000180f" + EDDYSTONE[8:])
    assert second.state.name == "tag"


def test_rssi_threshold_applies_only_without_a_filter() -> None:
    base = merge_advert(None, parsed(rssi=-60), UNFILTERED).state
    small = -60 - (RSSI_THRESHOLD_DB - 1)
    assert merge_advert(base, parsed(rssi=small), UNFILTERED).state.rssi == -60
    assert merge_advert(base, parsed(rssi=-60 - RSSI_THRESHOLD_DB), UNFILTERED).state.rssi == -68
    assert merge_advert(base, parsed(rssi=small), FILTERED).state.rssi == small


def test_duplicate_data_and_unchanged_rssi_force_signals() -> None:
    policy = ScanPolicy(scanning=True, filtered=True, duplicate_data=True)
    base = merge_advert(None, parsed(service={EDDYSTONE: b"a"}), policy).state
    again = merge_advert(base, parsed(service={EDDYSTONE: b"a"}), policy, emit_unchanged_rssi=True)
    assert again.forced == {"ServiceData", "RSSI"}
    quiet = merge_advert(base, parsed(service={EDDYSTONE: b"a"}), FILTERED)
    assert quiet.forced == frozenset()
    changed, invalidated = property_changes(
        device_properties(base, "/org/bluez/hci0"),
        device_properties(again.state, "/org/bluez/hci0"),
        again.forced,
    )
    assert set(changed) == {"ServiceData", "RSSI"} and invalidated == []


def test_property_changes_reports_only_differences_and_removals() -> None:
    before = {"RSSI": -60, "TxPower": 4, "Alias": "a"}
    changed, invalidated = property_changes(before, {"RSSI": -61, "Alias": "a"})
    assert changed == {"RSSI": -61}
    assert invalidated == ["TxPower"]


def test_device_properties_match_what_bleak_reads() -> None:
    state = merge_advert(None, parsed(manufacturer={76: b"\x02\x15"}), FILTERED).state
    props = device_properties(state, "/org/bluez/hci1")
    assert props["Adapter"] == "/org/bluez/hci1"
    assert props["Alias"] == "5A-00-00-00-00-01"  # bleak maps this back to name None
    assert "Name" not in props and "TxPower" not in props
    assert props["AddressType"] == "random"
    assert props["ManufacturerData"] == {76: b"\x02\x15"}


def test_addresses_and_paths() -> None:
    assert address_type("5A:00:00:00:00:01") == "random"
    assert address_type("C0:00:00:00:00:01") == "random"
    assert address_type("00:1A:7D:DA:71:13") == "public"
    assert device_path("/org/bluez/hci0", "aa:bb:cc:dd:ee:ff") == (
        "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_FF"
    )


def test_advert_from_json_rejects_malformed_values() -> None:
    good = advert_json("5a:00:00:00:00:01", -50)
    converted = advert_from_json(good)
    assert converted is not None and converted.address == "5A:00:00:00:00:01"
    assert converted.service_data == {EDDYSTONE: bytes.fromhex("30f4" + "00" * 8)}
    bad: Any = {**good, "service_data": {EDDYSTONE: "zz"}}
    assert advert_from_json(bad) is None
    assert advert_from_json({**good, "manufacturer_data": {"apple": "00"}}) is None


def test_discovery_filter_parsing() -> None:
    assert parse_discovery_filter({}) is None
    parsed_filter = parse_discovery_filter(
        {"UUIDs": Variant("as", ["FEAA"]), "DuplicateData": Variant("b", False)}
    )
    assert parsed_filter == DiscoveryFilter(uuids=frozenset({EDDYSTONE}), duplicate_data=False)
    for bad in (
        {"Colour": Variant("s", "red")},
        {"RSSI": Variant("s", "-70")},
        {"Transport": Variant("s", "carrier-pigeon")},
        {"RSSI": Variant("n", -70), "Pathloss": Variant("q", 10)},
    ):
        with pytest.raises(FilterError):
            parse_discovery_filter(bad)


def test_scan_policy_merges_sessions() -> None:
    eddystone_only = DiscoveryFilter(uuids=frozenset({EDDYSTONE}), rssi=-80, duplicate_data=False)
    policy = scan_policy([eddystone_only])
    assert policy.uuids == frozenset({EDDYSTONE}) and policy.rssi == -80 and policy.filtered
    assert not policy_accepts(policy, parsed(uuids=["0000180f" + EDDYSTONE[8:]]))
    assert not policy_accepts(policy, parsed(rssi=-90, uuids=[EDDYSTONE]))
    assert policy_accepts(policy, parsed(rssi=-70, service={EDDYSTONE: b"x"}))
    # An unfiltered session next to it lifts every restriction.
    open_policy = scan_policy([eddystone_only, None])
    assert open_policy.uuids is None and open_policy.rssi is None
    assert policy_accepts(open_policy, parsed(rssi=-99))
    assert not policy_accepts(scan_policy([]), parsed())


def test_monitor_patterns_match_ad_structures() -> None:
    advert = parsed(service={EDDYSTONE: b"\x30\xf4"}, manufacturer={76: b"\x02\x15"})
    structures = ad_structures(advert)
    assert (0x16, b"\xaa\xfe\x30\xf4") in structures
    assert (0xFF, b"\x4c\x00\x02\x15") in structures
    assert patterns_match([(0, 0x16, b"\xaa\xfe")], structures)
    assert patterns_match([(2, 0xFF, b"\x02\x15")], structures)
    assert not patterns_match([(0, 0x16, b"\x9f\xfe")], structures)
    passive = scan_policy([], [(0, 0x16, b"\xaa\xfe")])
    assert passive.scanning and passive.passive_only
    assert policy_accepts(passive, advert)
    assert not policy_accepts(passive, parsed(manufacturer={76: b"\x02"}))


def test_settings_from_env() -> None:
    settings = BluezSettings.from_env(
        {"SIM_BLUEZ_EMIT_UNCHANGED_RSSI": "1", "SIM_BLUEZ_TEMPORARY_TIMEOUT_S": "2.5"}
    )
    assert settings == BluezSettings(emit_unchanged_rssi=True, temporary_timeout_s=2.5)


# --- against the real dbus-daemon and bleak ---------------------------------------------------

SCANNER_SCRIPT = """
import asyncio, json, sys
from bleak import BleakScanner
from bleak.args.bluez import OrPattern

def emit(**event):
    print(json.dumps(event), flush=True)

def on_advert(device, advert):
    emit(event="advert", address=device.address, rssi=advert.rssi,
         service_data={k: v.hex() for k, v in advert.service_data.items()})

async def main():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    scanner = None
    while words := (await reader.readline()).decode().split():
        try:
            if words[0] == "start":
                bluez = {"adapter": words[1]}
                if len(words) > 2:
                    bluez["or_patterns"] = [OrPattern(0, 0x16, bytes.fromhex(words[2]))]
                    scanner = BleakScanner(on_advert, scanning_mode="passive", bluez=bluez)
                else:
                    scanner = BleakScanner(on_advert, bluez=bluez)
                await scanner.start()
            elif words[0] == "stop":
                await scanner.stop()
            emit(event=words[0])
        except Exception as exc:
            emit(event=words[0] + "_failed", error=type(exc).__name__ + ": " + str(exc))

asyncio.run(main())
"""


async def until(condition: Callable[[], bool], what: str, deadline_s: float = DEADLINE_S) -> None:
    """Wait until `condition()` holds, failing after the deadline."""
    assert await await_until(condition, deadline_s, 0.01), f"timed out waiting for {what}"


class ScannerProcess:
    """bleak.BleakScanner in a child process, driven over stdin, reporting JSON lines."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.events.append(json.loads(line))

    def adverts(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == "advert"]

    async def command(self, line: str) -> dict[str, Any]:
        """Send one command and return its acknowledgement event."""
        assert self.process.stdin is not None
        word = line.split()[0]
        seen = len(self.events)
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()
        done = (word, word + "_failed")
        await until(
            lambda: any(e["event"] in done for e in self.events[seen:]), f"scanner {line!r}"
        )
        return next(e for e in self.events[seen:] if e["event"] in done)


@contextlib.asynccontextmanager
async def scanner_process(bus_address: str, tmp_path: Path) -> AsyncIterator[ScannerProcess]:
    script = tmp_path / "scanner.py"
    script.write_text(SCANNER_SCRIPT)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        env={**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": bus_address},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    scanner = ScannerProcess(process)
    try:
        yield scanner
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), DEADLINE_S)
        except TimeoutError:
            process.kill()
            await process.wait()
        await scanner._reader


@contextlib.asynccontextmanager
async def virtual_bluez(
    gateways: list[str], settings: BluezSettings | None = None
) -> AsyncIterator[tuple[VirtualBluez, str]]:
    daemon = DbusDaemon()
    address = await daemon.start()
    bluez = VirtualBluez(address, gateways, settings)
    try:
        await bluez.start()
        yield bluez, address
    finally:
        await bluez.close()
        await daemon.stop()


class Recorder:
    """An advert sink that remembers what each gateway was shown."""

    def __init__(self) -> None:
        self.adverts: list[tuple[str, AdvertJson]] = []

    def publish(self, gateway: str, advert: AdvertJson) -> None:
        self.adverts.append((gateway, advert))


def test_bleak_discovers_every_device_of_the_demo(tmp_path: Path) -> None:
    async def scenario() -> None:
        scenario = builtin_scenario("demo")
        gateways = [g.name for g in scenario.floor_plan.gateways]
        async with (
            virtual_bluez(gateways) as (bluez, address),
            scanner_process(address, tmp_path) as scanner,
        ):
            assert bluez.adapters() == {"hci0": "gw-entrance", "hci1": "gw-floor"}
            assert (await scanner.command("start hci0"))["event"] == "start"
            await until(lambda: bluez.discovering("hci0"), "discovery on hci0")
            recorder = Recorder()
            unix_start = time.time()
            world = build_world(
                scenario, {"maria": MARIA_KEY}, ChannelParams(), unix_start, random.Random(1)
            )
            await run_scenario_loop(
                world,
                ScaledClock(60, unix_start),
                random.Random(2),
                scenario.duration_s,
                RunOutputs(sinks=(bluez, recorder)),
                loop=False,
            )
            shown = [a for gateway, a in recorder.adverts if gateway == "gw-entrance"]
            expected = {a["address"] for a in shown}
            assert len(expected) >= 3  # maria, the passer-by and leo
            await until(
                lambda: {a["address"] for a in scanner.adverts()} == expected,
                "every device discovered",
            )
            # Every callback shows data the adapter was given for that address, and the latest.
            published = {(a["address"], a["service_data"][EDDYSTONE], a["rssi"]) for a in shown}
            for seen in scanner.adverts():
                key = (seen["address"], seen["service_data"][EDDYSTONE], seen["rssi"])
                assert key in published
                assert seen["service_data"][EDDYSTONE].startswith("30")  # Eddystone-EID frame
            last = {a["address"]: a for a in shown}
            for address_, advert in last.items():

                def shows_latest(a: str = address_, s: AdvertJson = advert) -> bool:
                    return any(
                        e["address"] == a and e["rssi"] == s["rssi"] for e in scanner.adverts()
                    )

                await until(shows_latest, "latest state of each device")
            rssis: dict[str, set[int]] = {}
            for seen in scanner.adverts():
                rssis.setdefault(seen["address"], set()).add(seen["rssi"])
            assert max(len(values) for values in rssis.values()) > 3  # RSSI updates arrive
            assert not any(e["address"] for e in scanner.adverts() if e["address"] not in expected)
            assert bluez.counters.dropped_not_scanning > 0  # nobody scans gw-floor's hci1
            assert (await scanner.command("stop"))["event"] == "stop"
            await until(lambda: not bluez.discovering("hci0"), "discovery stopped")

    asyncio.run(scenario())


async def call(
    bus: MessageBus,
    path: str,
    interface: str,
    member: str,
    signature: str = "",
    body: list[Any] | None = None,
) -> Message:
    return await bus.call(
        Message(
            destination="org.bluez",
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=body or [],
        )
    )


def test_one_discovery_session_per_sender_and_malformed_calls(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with virtual_bluez(["gw-a"]) as (bluez, address):
            first = await MessageBus(bus_address=address, bus_type=BusType.SYSTEM).connect()
            second = await MessageBus(bus_address=address, bus_type=BusType.SYSTEM).connect()
            hci0, adapter = "/org/bluez/hci0", "org.bluez.Adapter1"
            ok = await call(first, hci0, adapter, "StartDiscovery")
            assert ok.message_type == MessageType.METHOD_RETURN
            again = await call(first, hci0, adapter, "StartDiscovery")
            assert again.error_name == ERROR_IN_PROGRESS
            other = await call(second, hci0, adapter, "StartDiscovery")
            assert other.message_type == MessageType.METHOD_RETURN

            props = "org.freedesktop.DBus.Properties"
            malformed: list[tuple[str, str, str, str, list[Any], str]] = [
                (hci0, adapter, "SetDiscoveryFilter", "s", ["le"], ERROR_INVALID_ARGUMENTS),
                (
                    hci0,
                    adapter,
                    "SetDiscoveryFilter",
                    "a{sv}",
                    [{"Colour": Variant("s", "x")}],
                    ERROR_INVALID_ARGUMENTS,
                ),
                (hci0, adapter, "StartDiscovery", "s", ["now"], ERROR_INVALID_ARGUMENTS),
                (hci0, adapter, "Explode", "", [], "org.freedesktop.DBus.Error.UnknownMethod"),
                (
                    hci0,
                    props,
                    "Get",
                    "ss",
                    [adapter, "Nope"],
                    "org.freedesktop.DBus.Error.InvalidArgs",
                ),
                (hci0, props, "Get", "s", [adapter], "org.freedesktop.DBus.Error.InvalidArgs"),
                (
                    hci0,
                    props,
                    "Set",
                    "ssv",
                    [adapter, "Address", Variant("s", "x")],
                    "org.freedesktop.DBus.Error.PropertyReadOnly",
                ),
                (
                    hci0,
                    props,
                    "Set",
                    "ssv",
                    [adapter, "Powered", Variant("s", "yes")],
                    "org.freedesktop.DBus.Error.InvalidArgs",
                ),
                (
                    "/org/bluez/hci7",
                    adapter,
                    "StartDiscovery",
                    "",
                    [],
                    "org.freedesktop.DBus.Error.UnknownObject",
                ),
                (
                    hci0,
                    "org.bluez.AdvertisementMonitorManager1",
                    "RegisterMonitor",
                    "s",
                    ["x"],
                    ERROR_INVALID_ARGUMENTS,
                ),
            ]
            for path, interface, member, signature, body, error in malformed:
                reply = await call(second, path, interface, member, signature, body)
                assert reply.error_name == error, (member, signature, reply.body)

            stop = await call(second, hci0, adapter, "StopDiscovery")
            assert stop.message_type == MessageType.METHOD_RETURN
            stop_again = await call(second, hci0, adapter, "StopDiscovery")
            assert stop_again.error_name == ERROR_FAILED

            # A device exists once heard; it cannot be connected to.
            bluez.publish("gw-a", advert_json("5A:00:00:00:00:07", -40))
            dev = device_path(hci0, "5A:00:00:00:00:07")
            await until(lambda: bluez.device_count("hci0") == 1, "device known")
            objects: dict[str, Any] = {}

            async def listed() -> bool:
                reply = await call(
                    first, "/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"
                )
                objects.clear()
                objects.update(reply.body[0])
                return dev in objects

            await await_until(listed, DEADLINE_S, 0.01)
            device = objects[dev]["org.bluez.Device1"]
            assert device["RSSI"] == Variant("n", -40)
            assert device["ServiceData"].signature == "a{sv}"
            connect = await call(first, dev, "org.bluez.Device1", "Connect")
            assert connect.error_name == ERROR_NOT_SUPPORTED

            # The service survived all that, and a client that goes away loses its session.
            assert bluez.discovering("hci0")
            first.disconnect()
            await until(lambda: not bluez.discovering("hci0"), "session of a vanished sender")
            ping = await call(second, hci0, "org.freedesktop.DBus.Peer", "Ping")
            assert ping.message_type == MessageType.METHOD_RETURN
            second.disconnect()

    asyncio.run(scenario())


def test_adapter_goes_away_and_comes_back(tmp_path: Path) -> None:
    async def scenario() -> None:
        settings = BluezSettings(temporary_timeout_s=0.2)
        async with (
            virtual_bluez(["gw-a", "gw-b"], settings) as (bluez, address),
            scanner_process(address, tmp_path) as scanner,
        ):
            assert (await scanner.command("start hci1"))["event"] == "start"
            bluez.publish("gw-b", advert_json("5A:00:00:00:00:01", -50))
            await until(lambda: len(scanner.adverts()) == 1, "first advert")

            bluez.remove_adapter("hci1")
            assert not bluez.discovering("hci1")
            bluez.publish("gw-b", advert_json("5A:00:00:00:00:02", -51))  # nobody hears this
            bluez.restore_adapter("hci1")
            # The old scanner's session died with the adapter: its stop fails, as on BlueZ.
            assert (await scanner.command("stop"))["event"] == "stop_failed"
            assert (await scanner.command("start hci1"))["event"] == "start"
            bluez.publish("gw-b", advert_json("5A:00:00:00:00:03", -52))
            await until(lambda: len(scanner.adverts()) >= 2, "advert after the return")
            assert [a["address"] for a in scanner.adverts()] == [
                "5A:00:00:00:00:01",
                "5A:00:00:00:00:03",
            ]
            assert (await scanner.command("stop"))["event"] == "stop"
            await until(lambda: bluez.device_count("hci1") == 0, "temporary devices expire")

            # Passive scanning: bleak registers an advertisement monitor with or_patterns.
            assert (await scanner.command("start hci0 aafe"))["event"] == "start"

            def heard_or_publish_again() -> bool:
                if any(a["address"] == "5A:00:00:00:00:04" for a in scanner.adverts()):
                    return True
                bluez.publish("gw-a", advert_json("5A:00:00:00:00:04", -53))
                return False

            heard = await await_until(heard_or_publish_again, DEADLINE_S, 0.02)
            assert heard, "passive scan heard nothing"
            assert (await scanner.command("stop"))["event"] == "stop"

    asyncio.run(scenario())


def test_cli_bluez_prints_bus_and_adapters_and_cleans_up(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "firmware_sim", "run", "--scenario", "demo", "--speed", "20"]
    process = subprocess.Popen([*argv, "--loop", "--bluez"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        bus_line = process.stdout.readline()
        match = re.fullmatch(r"bluez bus at (unix:path=([^,]+),guid=\w+)\n", bus_line)
        assert match, bus_line
        adapters = [process.stdout.readline(), process.stdout.readline()]
        assert adapters == ["adapter hci0 = gw-entrance\n", "adapter hci1 = gw-floor\n"]
        socket_path = Path(match.group(2))
        assert socket_path.exists()

        async def scan() -> None:
            async with scanner_process(match.group(1), tmp_path) as scanner:
                assert (await scanner.command("start hci0"))["event"] == "start"
                await until(lambda: len(scanner.adverts()) > 0, "an advert via the CLI")
                await scanner.command("stop")

        asyncio.run(scan())
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE_S) == 0
        assert not socket_path.exists()  # the daemon and its directory are gone
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
