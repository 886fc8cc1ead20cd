"""A virtual BlueZ: org.bluez on a private D-Bus, fed with simulated adverts, scanned by bleak.

The pure part (top half) decides what BlueZ would show for a new advert: how advertising data
merges into a device, which properties change, which filters and monitor patterns match. The
shell (`VirtualBluez`) owns the D-Bus connection, answers method calls with a raw message
handler (BlueZ keeps one discovery session per D-Bus sender, which dbus-fast's ServiceInterface
cannot see) and writes signals with back-pressure: per device only the latest state is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from dbus_fast import BusType, Message, MessageFlag, MessageType, RequestNameReply, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.errors import DBusError

from firmware_sim.wire import AdvertJson, ParsedAdvert

logger = logging.getLogger(__name__)

BLUEZ_SERVICE = "org.bluez"
BLUEZ_ROOT = "/org/bluez"
ADAPTER_INTERFACE = "org.bluez.Adapter1"
DEVICE_INTERFACE = "org.bluez.Device1"
MONITOR_MANAGER_INTERFACE = "org.bluez.AdvertisementMonitorManager1"
MONITOR_INTERFACE = "org.bluez.AdvertisementMonitor1"
OBJECT_MANAGER_INTERFACE = "org.freedesktop.DBus.ObjectManager"
PROPERTIES_INTERFACE = "org.freedesktop.DBus.Properties"
INTROSPECTABLE_INTERFACE = "org.freedesktop.DBus.Introspectable"
PEER_INTERFACE = "org.freedesktop.DBus.Peer"

ERROR_IN_PROGRESS = "org.bluez.Error.InProgress"
ERROR_FAILED = "org.bluez.Error.Failed"
ERROR_NOT_READY = "org.bluez.Error.NotReady"
ERROR_INVALID_ARGUMENTS = "org.bluez.Error.InvalidArguments"
ERROR_DOES_NOT_EXIST = "org.bluez.Error.DoesNotExist"
ERROR_ALREADY_EXISTS = "org.bluez.Error.AlreadyExists"
ERROR_NOT_SUPPORTED = "org.bluez.Error.NotSupported"
DBUS_INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
DBUS_UNKNOWN_OBJECT = "org.freedesktop.DBus.Error.UnknownObject"
DBUS_UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"
DBUS_PROPERTY_READ_ONLY = "org.freedesktop.DBus.Error.PropertyReadOnly"

# BlueZ's RSSI_THRESHOLD (src/device.c): without a discovery filter an RSSI change smaller
# than this is not stored nor signalled; with a filter every change is (delta 0).
RSSI_THRESHOLD_DB = 8
# BlueZ's TemporaryTimeout default (main.conf): unpaired devices go this long after discovery.
DEFAULT_TEMPORARY_TIMEOUT_S = 30.0
# Signals handed to the socket before waiting for it to drain: large enough to amortise the
# wait, small enough that adverts published meanwhile coalesce into the next batch.
FLUSH_BATCH = 512
# Devices per adapter before the least recently heard is dropped: phones rotate addresses every
# 15 minutes, so a day-long run would otherwise grow without bound.
MAX_DEVICES_PER_ADAPTER = 10_000
# A client that does not answer our call (a monitor's properties) within this is ignored.
CALL_TIMEOUT_S = 5.0
# Reads of a just-registered monitor object until the client has exported it.
MONITOR_READ_ATTEMPTS = 20
MONITOR_READ_RETRY_S = 0.05
# A full socket is polled this often until the daemon has read from it.
WRITABLE_POLL_S = 0.001
# Flags AD (LE General Discoverable, BR/EDR not supported) that phones and beacons send.
ADVERTISING_FLAGS = b"\x06"
# The Bluetooth SIG base UUID: 16-bit UUIDs are shorthand for 0000xxxx-<this suffix>.
BASE_UUID_SUFFIX = "-0000-1000-8000-00805f9b34fb"
# AD types (Bluetooth Assigned Numbers, "Common Data Types") the monitor patterns can match.
AD_FLAGS = 0x01
AD_UUID16_COMPLETE = 0x03
AD_UUID128_COMPLETE = 0x07
AD_NAME_COMPLETE = 0x09
AD_TX_POWER = 0x0A
AD_SERVICE_DATA16 = 0x16
AD_SERVICE_DATA128 = 0x21
AD_MANUFACTURER_DATA = 0xFF
# What SetDiscoveryFilter accepts (org.bluez.Adapter.rst), with the D-Bus type of each value.
FILTER_KEYS = {
    "UUIDs": "as",
    "RSSI": "n",
    "Pathloss": "q",
    "Transport": "s",
    "DuplicateData": "b",
    "Discoverable": "b",
    "Pattern": "s",
}
TRANSPORTS = ("auto", "bredr", "le")

# D-Bus type of every Device1 property the simulator shows.
DEVICE_SIGNATURES = {
    "Address": "s",
    "AddressType": "s",
    "Name": "s",
    "Alias": "s",
    "Paired": "b",
    "Bonded": "b",
    "Trusted": "b",
    "Blocked": "b",
    "LegacyPairing": "b",
    "Connected": "b",
    "ServicesResolved": "b",
    "UUIDs": "as",
    "Adapter": "o",
    "RSSI": "n",
    "TxPower": "n",
    "ManufacturerData": "a{qv}",
    "ServiceData": "a{sv}",
    "AdvertisingFlags": "ay",
}
ADAPTER_SIGNATURES = {
    "Address": "s",
    "AddressType": "s",
    "Name": "s",
    "Alias": "s",
    "Class": "u",
    "Powered": "b",
    "PowerState": "s",
    "Discoverable": "b",
    "DiscoverableTimeout": "u",
    "Pairable": "b",
    "PairableTimeout": "u",
    "Discovering": "b",
    "UUIDs": "as",
    "Modalias": "s",
    "Roles": "as",
}
MONITOR_MANAGER_PROPERTIES = {
    "SupportedMonitorTypes": Variant("as", ["or_patterns"]),
    "SupportedFeatures": Variant("as", []),
}


# ---------------------------------------------------------------------------------------------
# Pure core
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BluezSettings:
    """How the virtual BlueZ behaves where real BlueZ versions differ."""

    # Some BlueZ versions signal RSSI on every advert even when unchanged, others only changes.
    emit_unchanged_rssi: bool = False
    # Seconds after discovery ends before unpaired devices are removed (InterfacesRemoved).
    temporary_timeout_s: float = DEFAULT_TEMPORARY_TIMEOUT_S
    # Export AdvertisementMonitorManager1 (BlueZ started with --experimental): passive scans.
    passive_scanning: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BluezSettings:
        """Settings from SIM_BLUEZ_* environment variables, defaults where unset."""
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            emit_unchanged_rssi=_env_flag(
                env, "SIM_BLUEZ_EMIT_UNCHANGED_RSSI", default.emit_unchanged_rssi
            ),
            temporary_timeout_s=float(
                env.get("SIM_BLUEZ_TEMPORARY_TIMEOUT_S", default.temporary_timeout_s)
            ),
            passive_scanning=_env_flag(env, "SIM_BLUEZ_PASSIVE", default.passive_scanning),
        )


def _env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class DiscoveryFilter:
    """One client's SetDiscoveryFilter arguments."""

    uuids: frozenset[str] = frozenset()
    rssi: int | None = None
    pathloss: int | None = None
    transport: str = "auto"
    # BlueZ's documented default: a filtered client sees advertising data on every advert.
    duplicate_data: bool = True
    discoverable: bool = False
    pattern: str = ""


@dataclass(frozen=True)
class ScanPolicy:
    """The filters of every discovery session on an adapter, merged the way BlueZ merges them."""

    scanning: bool = False
    filtered: bool = False
    uuids: frozenset[str] | None = None
    rssi: int | None = None
    duplicate_data: bool = False
    patterns: tuple[tuple[int, int, bytes], ...] = ()
    passive_only: bool = False


@dataclass(frozen=True)
class DeviceState:
    """What BlueZ knows about one remote device; RSSI and TxPower are None when not scanning."""

    address: str
    address_type: str
    name: str | None = None
    rssi: int | None = None
    tx_power: int | None = None
    manufacturer_data: Mapping[int, bytes] = field(default_factory=dict)
    service_data: Mapping[str, bytes] = field(default_factory=dict)
    uuids: tuple[str, ...] = ()


@dataclass(frozen=True)
class AdvertUpdate:
    """A device's state after an advert, and the properties to signal even if unchanged."""

    state: DeviceState
    forced: frozenset[str]


class BluezError(Exception):
    """The virtual BlueZ could not start."""


class FilterError(ValueError):
    """SetDiscoveryFilter arguments BlueZ would reject."""


def full_uuid(uuid: str) -> str:
    """The 128-bit lower-case form of a 16-, 32- or 128-bit UUID string."""
    uuid = uuid.lower()
    if len(uuid) == 4:
        return f"0000{uuid}{BASE_UUID_SUFFIX}"
    if len(uuid) == 8:
        return f"{uuid}{BASE_UUID_SUFFIX}"
    return uuid


def address_type(address: str) -> str:
    """The address type: "random" when the top bits are 01 or 11 (private or static)."""
    try:
        top_bits = int(address[:2], 16) >> 6
    except ValueError:
        return "public"
    return "random" if top_bits in (0b01, 0b11) else "public"


def device_path(adapter_path: str, address: str) -> str:
    """BlueZ's object path of a device: /org/bluez/hciN/dev_AA_BB_CC_DD_EE_FF."""
    return f"{adapter_path}/dev_{address.upper().replace(':', '_')}"


def advert_from_json(advert: AdvertJson) -> ParsedAdvert | None:
    """The simulator's advert JSON with bytes values; None when a value is malformed."""
    try:
        return ParsedAdvert(
            address=advert["address"].upper(),
            rssi=int(advert["rssi"]),
            local_name=advert.get("local_name"),
            tx_power=advert.get("tx_power"),
            manufacturer_data={
                int(key): bytes.fromhex(value)
                for key, value in advert.get("manufacturer_data", {}).items()
            },
            service_data={
                full_uuid(key): bytes.fromhex(value)
                for key, value in advert.get("service_data", {}).items()
            },
            service_uuids=[full_uuid(uuid) for uuid in advert.get("service_uuids", [])],
        )
    except (KeyError, ValueError, TypeError, AttributeError):
        return None


def parse_discovery_filter(arguments: Mapping[str, Any]) -> DiscoveryFilter | None:
    """A DiscoveryFilter from SetDiscoveryFilter's a{sv}; None for an empty dict (no filter)."""
    if not arguments:
        return None
    values: dict[str, Any] = {}
    for key, variant in arguments.items():
        expected = FILTER_KEYS.get(key)
        if expected is None or not isinstance(variant, Variant):
            raise FilterError(f"unknown filter {key!r}")
        if variant.signature != expected:
            raise FilterError(f"filter {key!r} must be of type {expected}")
        values[key] = variant.value
    if "RSSI" in values and "Pathloss" in values:
        raise FilterError("RSSI and Pathloss cannot be combined")
    transport = values.get("Transport", "auto")
    if transport not in TRANSPORTS:
        raise FilterError(f"unknown transport {transport!r}")
    try:
        uuids = frozenset(full_uuid(u) for u in values.get("UUIDs", []))
    except AttributeError as exc:
        raise FilterError("UUIDs must be strings") from exc
    return DiscoveryFilter(
        uuids=uuids,
        rssi=values.get("RSSI"),
        pathloss=values.get("Pathloss"),
        transport=transport,
        duplicate_data=values.get("DuplicateData", True),
        discoverable=values.get("Discoverable", False),
        pattern=values.get("Pattern", ""),
    )


def scan_policy(
    sessions: Iterable[DiscoveryFilter | None],
    monitor_patterns: Iterable[tuple[int, int, bytes]] = (),
) -> ScanPolicy:
    """Merge the filters of the active discovery sessions and the passive monitors' patterns."""
    session_list = list(sessions)
    patterns = tuple(monitor_patterns)
    if not session_list:
        return ScanPolicy(scanning=bool(patterns), patterns=patterns, passive_only=bool(patterns))
    filters = [f for f in session_list if f is not None]
    unfiltered = len(filters) < len(session_list)
    # Any session without a UUID (or RSSI) restriction means nothing is restricted for anyone.
    uuids: frozenset[str] | None = None
    if not unfiltered and all(f.uuids for f in filters):
        uuids = frozenset().union(*(f.uuids for f in filters))
    rssis = [f.rssi for f in filters]
    rssi = None if unfiltered or None in rssis else min(r for r in rssis if r is not None)
    return ScanPolicy(
        scanning=True,
        filtered=bool(filters),
        uuids=uuids,
        rssi=rssi,
        duplicate_data=any(f.duplicate_data for f in filters),
        patterns=patterns,
    )


def ad_structures(advert: ParsedAdvert) -> list[tuple[int, bytes]]:
    """The advertising data structures (AD type, data) an advert like this one carries on air."""
    structures = [(AD_FLAGS, ADVERTISING_FLAGS)]
    short = [u for u in advert.service_uuids if u.endswith(BASE_UUID_SUFFIX) and u[:4] == "0000"]
    if short:
        structures.append(
            (AD_UUID16_COMPLETE, b"".join(int(u[4:8], 16).to_bytes(2, "little") for u in short))
        )
    long = [u for u in advert.service_uuids if u not in short]
    if long:
        structures.append(
            (AD_UUID128_COMPLETE, b"".join(bytes.fromhex(u.replace("-", ""))[::-1] for u in long))
        )
    if advert.local_name:
        structures.append((AD_NAME_COMPLETE, advert.local_name.encode()))
    if advert.tx_power is not None:
        structures.append((AD_TX_POWER, advert.tx_power.to_bytes(1, "little", signed=True)))
    for uuid, data in advert.service_data.items():
        if uuid.endswith(BASE_UUID_SUFFIX) and uuid[:4] == "0000":
            structures.append((AD_SERVICE_DATA16, int(uuid[4:8], 16).to_bytes(2, "little") + data))
        else:
            uuid_bytes = bytes.fromhex(uuid.replace("-", ""))[::-1]
            structures.append((AD_SERVICE_DATA128, uuid_bytes + data))
    for company, data in advert.manufacturer_data.items():
        structures.append((AD_MANUFACTURER_DATA, company.to_bytes(2, "little") + data))
    return structures


def patterns_match(
    patterns: Iterable[tuple[int, int, bytes]], structures: Iterable[tuple[int, bytes]]
) -> bool:
    """Whether any or-pattern (start, AD type, content) matches any AD structure."""
    structure_list = list(structures)
    return any(
        ad_type == kind and data[start : start + len(content)] == content
        for start, kind, content in patterns
        for ad_type, data in structure_list
    )


def policy_accepts(policy: ScanPolicy, advert: ParsedAdvert) -> bool:
    """Whether a scan with this policy reports `advert` at all."""
    if not policy.scanning:
        return False
    if policy.patterns and patterns_match(policy.patterns, ad_structures(advert)):
        return True
    if policy.passive_only:
        return False
    if policy.rssi is not None and advert.rssi < policy.rssi:
        return False
    if policy.uuids is not None:
        advertised = set(advert.service_uuids) | set(advert.service_data)
        return not policy.uuids.isdisjoint(advertised)
    return True


def merge_advert(
    previous: DeviceState | None,
    advert: ParsedAdvert,
    policy: ScanPolicy,
    emit_unchanged_rssi: bool = False,
) -> AdvertUpdate:
    """BlueZ's merge of an advert into a device (src/adapter.c update_found_devices).

    Manufacturer data merges per company id and service data per UUID (older entries stay),
    UUIDs accumulate, name and TX power are replaced when the advert carries them; RSSI follows
    the filter's delta rule. With DuplicateData the advert's data is signalled even if equal.
    """
    state = previous or DeviceState(advert.address, address_type(advert.address))
    forced: set[str] = set()
    delta = 0 if policy.filtered else RSSI_THRESHOLD_DB
    rssi = state.rssi
    if rssi is None or abs(advert.rssi - rssi) >= max(delta, 1):
        rssi = advert.rssi
    elif advert.rssi == rssi and emit_unchanged_rssi:
        forced.add("RSSI")
    manufacturer_data = {**state.manufacturer_data, **advert.manufacturer_data}
    service_data = {**state.service_data, **advert.service_data}
    uuids = state.uuids + tuple(u for u in advert.service_uuids if u not in state.uuids)
    if policy.duplicate_data:
        if advert.manufacturer_data:
            forced.add("ManufacturerData")
        if advert.service_data:
            forced.add("ServiceData")
    new_state = replace(
        state,
        name=advert.local_name or state.name,
        rssi=rssi,
        tx_power=advert.tx_power if advert.tx_power is not None else state.tx_power,
        manufacturer_data=manufacturer_data,
        service_data=service_data,
        uuids=uuids,
    )
    return AdvertUpdate(new_state, frozenset(forced))


def device_properties(state: DeviceState, adapter_path: str) -> dict[str, Any]:
    """The Device1 properties BlueZ shows for `state`, as plain Python values."""
    props: dict[str, Any] = {
        "Address": state.address,
        "AddressType": state.address_type,
        # Without a name BlueZ shows the address with dashes, which bleak maps back to None.
        "Alias": state.name or state.address.replace(":", "-"),
        "Paired": False,
        "Bonded": False,
        "Trusted": False,
        "Blocked": False,
        "LegacyPairing": False,
        "Connected": False,
        "ServicesResolved": False,
        "UUIDs": list(state.uuids),
        "Adapter": adapter_path,
        "AdvertisingFlags": ADVERTISING_FLAGS,
    }
    if state.name is not None:
        props["Name"] = state.name
    if state.rssi is not None:
        props["RSSI"] = state.rssi
    if state.tx_power is not None:
        props["TxPower"] = state.tx_power
    if state.manufacturer_data:
        props["ManufacturerData"] = dict(state.manufacturer_data)
    if state.service_data:
        props["ServiceData"] = dict(state.service_data)
    return props


def property_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], forced: Iterable[str] = ()
) -> tuple[dict[str, Any], list[str]]:
    """PropertiesChanged arguments from `before` to `after`: changed values, invalidated names."""
    forced_set = set(forced)
    changed = {
        name: value
        for name, value in after.items()
        if name in forced_set or before.get(name, _MISSING) != value
    }
    invalidated = [name for name in before if name not in after]
    return changed, invalidated


_MISSING = object()


def to_variants(props: Mapping[str, Any], signatures: Mapping[str, str]) -> dict[str, Variant]:
    """Wrap plain property values in D-Bus variants of the right type."""
    result: dict[str, Variant] = {}
    for name, value in props.items():
        signature = signatures[name]
        if signature == "a{qv}":
            value = {key: Variant("ay", data) for key, data in value.items()}
        elif signature == "a{sv}":
            value = {key: Variant("ay", data) for key, data in value.items()}
        result[name] = Variant(signature, value)
    return result


def or_patterns_from(value: Any) -> tuple[tuple[int, int, bytes], ...]:
    """Validated (start, AD type, content) triples from a monitor's Patterns property."""
    patterns: list[tuple[int, int, bytes]] = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, list | tuple) and len(item) == 3:
            start, kind, content = item
            if isinstance(start, int) and isinstance(kind, int) and isinstance(content, bytes):
                patterns.append((start, kind, content))
    return tuple(patterns)


# ---------------------------------------------------------------------------------------------
# Introspection data (what `busctl introspect` shows; bleak itself never introspects)
# ---------------------------------------------------------------------------------------------

_INTROSPECTABLE_XML = """  <interface name="org.freedesktop.DBus.Introspectable">
    <method name="Introspect"><arg name="xml" type="s" direction="out"/></method>
  </interface>
  <interface name="org.freedesktop.DBus.Properties">
    <method name="Get"><arg name="interface" type="s" direction="in"/>
      <arg name="name" type="s" direction="in"/><arg name="value" type="v" direction="out"/>
    </method>
    <method name="Set"><arg name="interface" type="s" direction="in"/>
      <arg name="name" type="s" direction="in"/><arg name="value" type="v" direction="in"/>
    </method>
    <method name="GetAll"><arg name="interface" type="s" direction="in"/>
      <arg name="properties" type="a{sv}" direction="out"/>
    </method>
    <signal name="PropertiesChanged"><arg name="interface" type="s"/>
      <arg name="changed_properties" type="a{sv}"/><arg name="invalidated_properties" type="as"/>
    </signal>
  </interface>
"""
_OBJECT_MANAGER_XML = """  <interface name="org.freedesktop.DBus.ObjectManager">
    <method name="GetManagedObjects">
      <arg name="objects" type="a{oa{sa{sv}}}" direction="out"/>
    </method>
    <signal name="InterfacesAdded"><arg name="object" type="o"/>
      <arg name="interfaces" type="a{sa{sv}}"/></signal>
    <signal name="InterfacesRemoved"><arg name="object" type="o"/>
      <arg name="interfaces" type="as"/></signal>
  </interface>
"""
_ADAPTER_XML = """  <interface name="org.bluez.Adapter1">
    <method name="StartDiscovery"/>
    <method name="SetDiscoveryFilter"><arg name="properties" type="a{sv}" direction="in"/></method>
    <method name="StopDiscovery"/>
    <method name="RemoveDevice"><arg name="device" type="o" direction="in"/></method>
    <method name="GetDiscoveryFilters"><arg name="filters" type="as" direction="out"/></method>
  </interface>
"""
_MONITOR_MANAGER_XML = """  <interface name="org.bluez.AdvertisementMonitorManager1">
    <method name="RegisterMonitor"><arg name="application" type="o" direction="in"/></method>
    <method name="UnregisterMonitor"><arg name="application" type="o" direction="in"/></method>
  </interface>
"""
_DEVICE_XML = """  <interface name="org.bluez.Device1">
    <method name="Disconnect"/><method name="Connect"/><method name="Pair"/>
    <method name="CancelPairing"/>
  </interface>
"""


def _introspection(interfaces: str, children: Iterable[str]) -> str:
    nodes = "".join(f'  <node name="{child}"/>\n' for child in children)
    return (
        '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'
        ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n'
        f"<node>\n{_INTROSPECTABLE_XML}{interfaces}{nodes}</node>\n"
    )


# ---------------------------------------------------------------------------------------------
# Imperative shell
# ---------------------------------------------------------------------------------------------


@dataclass
class BluezCounters:
    """What happened to the adverts handed to the virtual BlueZ."""

    published: int = 0
    dropped_unknown_gateway: int = 0
    dropped_not_scanning: int = 0
    dropped_filtered: int = 0
    dropped_malformed: int = 0
    devices_evicted: int = 0
    signals_sent: int = 0


class _Device:
    __slots__ = ("adapter", "path", "state", "announced", "forced")

    def __init__(self, adapter: _Adapter, path: str, state: DeviceState) -> None:
        self.adapter = adapter
        self.path = path
        self.state = state
        # The properties the bus has been told; None while InterfacesAdded is still pending.
        self.announced: dict[str, Any] | None = None
        self.forced: set[str] = set()


class _Adapter:
    def __init__(self, index: int, gateway: str) -> None:
        self.name = f"hci{index}"
        self.path = f"{BLUEZ_ROOT}/{self.name}"
        self.gateway = gateway
        # Locally administered unicast addresses, one per adapter, stable across runs.
        self.address = f"02:00:00:00:00:{index:02X}"
        self.alias = f"sim-{gateway}"
        self.present = True
        self.powered = True
        self.filters: dict[str, DiscoveryFilter] = {}
        self.sessions: set[str] = set()
        self.monitors: dict[tuple[str, str], tuple[tuple[int, int, bytes], ...]] = {}
        self.devices: dict[str, _Device] = {}
        self.policy = ScanPolicy()
        # The Discovering value the bus was last told.
        self.signalled_discovering = False
        self.expiry: asyncio.TimerHandle | None = None

    @property
    def discovering(self) -> bool:
        return bool(self.sessions)

    def properties(self) -> dict[str, Any]:
        return {
            "Address": self.address,
            "AddressType": "public",
            "Name": self.alias,
            "Alias": self.alias,
            "Class": 0,
            "Powered": self.powered,
            "PowerState": "on" if self.powered else "off",
            "Discoverable": False,
            "DiscoverableTimeout": 180,
            "Pairable": False,
            "PairableTimeout": 0,
            "Discovering": self.discovering,
            "UUIDs": [],
            "Modalias": "usb:v1D6Bp0246d0548",
            "Roles": ["central", "peripheral"],
        }


class VirtualBluez:
    """org.bluez with one adapter per gateway (hci0, hci1, ... in order) on a given bus."""

    def __init__(
        self,
        bus_address: str,
        gateways: Sequence[str],
        settings: BluezSettings | None = None,
    ) -> None:
        self._bus_address = bus_address
        self.settings = settings or BluezSettings()
        self._adapters = [_Adapter(index, gateway) for index, gateway in enumerate(gateways)]
        self._by_gateway = {adapter.gateway: adapter for adapter in self._adapters}
        self._by_name = {adapter.name: adapter for adapter in self._adapters}
        self._bus: MessageBus | None = None
        self._outbox: deque[Message] = deque()
        self._dirty: dict[str, _Device] = {}
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending_calls: dict[int, asyncio.Future[Message]] = {}
        self.counters = BluezCounters()

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect to the bus, own org.bluez and start answering; raises OSError or DBusError."""
        bus = MessageBus(bus_address=self._bus_address, bus_type=BusType.SYSTEM)
        await bus.connect()
        bus.add_message_handler(self._on_message)
        await bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="AddMatch",
                signature="s",
                body=[
                    "type='signal',sender='org.freedesktop.DBus',"
                    "interface='org.freedesktop.DBus',member='NameOwnerChanged'"
                ],
            )
        )
        owner = await bus.request_name(BLUEZ_SERVICE)
        if owner != RequestNameReply.PRIMARY_OWNER:
            bus.disconnect()
            raise BluezError(f"{BLUEZ_SERVICE} is already owned on this bus")
        self._bus = bus
        self._flusher = asyncio.create_task(self._flush_forever())
        logger.info("bluez.started adapters=%d", len(self._adapters))

    async def close(self) -> None:
        """Stop answering and disconnect; idempotent."""
        for adapter in self._adapters:
            self._cancel_expiry(adapter)
        tasks = [t for t in (self._flusher, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._flusher = None
        if self._bus is not None:
            self._bus.disconnect()
            self._bus = None
            logger.info("bluez.closed signals_sent=%d", self.counters.signals_sent)

    # -- public API for the runner and for tests --------------------------------------------

    def adapters(self) -> dict[str, str]:
        """Adapter name (hciN) to gateway name, in adapter order."""
        return {adapter.name: adapter.gateway for adapter in self._adapters}

    def publish(self, gateway: str, advert: AdvertJson) -> None:
        """Show `advert` as heard by the adapter of `gateway`; never blocks."""
        adapter = self._by_gateway.get(gateway)
        if adapter is None:
            self.counters.dropped_unknown_gateway += 1
            return
        if not (adapter.present and adapter.powered and adapter.policy.scanning):
            self.counters.dropped_not_scanning += 1
            return
        parsed = advert_from_json(advert)
        if parsed is None:
            self.counters.dropped_malformed += 1
            return
        if not policy_accepts(adapter.policy, parsed):
            self.counters.dropped_filtered += 1
            return
        self.counters.published += 1
        path = device_path(adapter.path, parsed.address)
        device = adapter.devices.pop(path, None)
        update = merge_advert(
            device.state if device else None,
            parsed,
            adapter.policy,
            self.settings.emit_unchanged_rssi,
        )
        if device is None:
            device = _Device(adapter, path, update.state)
            if len(adapter.devices) >= MAX_DEVICES_PER_ADAPTER:
                self._remove_device(next(iter(adapter.devices.values())))
                self.counters.devices_evicted += 1
        device.state = update.state
        device.forced |= update.forced
        # Re-inserting keeps adapter.devices ordered from least to most recently heard.
        adapter.devices[path] = device
        self._dirty[path] = device
        self._wake.set()

    def discovering(self, adapter_name: str) -> bool:
        """Whether any client has a discovery session on the adapter."""
        return self._by_name[adapter_name].discovering

    def device_count(self, adapter_name: str) -> int:
        """How many devices the adapter shows."""
        return len(self._by_name[adapter_name].devices)

    def remove_adapter(self, adapter_name: str) -> None:
        """Unplug the adapter: its devices and itself vanish from the bus (InterfacesRemoved)."""
        adapter = self._by_name[adapter_name]
        if not adapter.present:
            return
        self._end_discovery(adapter, invalidate=False)
        for device in list(adapter.devices.values()):
            self._remove_device(device)
        adapter.present = False
        self._signal_interfaces_removed(adapter.path, list(self._adapter_interfaces(adapter)))
        logger.info("bluez.adapter_removed adapter=%s", adapter.name)

    def restore_adapter(self, adapter_name: str) -> None:
        """Plug the adapter back in, powered and not discovering (InterfacesAdded)."""
        adapter = self._by_name[adapter_name]
        if adapter.present:
            return
        adapter.present = True
        adapter.powered = True
        self._queue_signal(
            Message.new_signal(
                "/",
                OBJECT_MANAGER_INTERFACE,
                "InterfacesAdded",
                "oa{sa{sv}}",
                [adapter.path, self._adapter_interfaces(adapter)],
            )
        )
        logger.info("bluez.adapter_restored adapter=%s", adapter.name)

    def set_powered(self, adapter_name: str, powered: bool) -> None:
        """Power the adapter on or off; off ends every discovery session on it."""
        self._set_powered(self._by_name[adapter_name], powered)

    # -- signals and back-pressure -----------------------------------------------------------

    def _queue_signal(self, message: Message) -> None:
        self._outbox.append(message)
        self._wake.set()

    def _signal_properties_changed(
        self, path: str, interface: str, changed: dict[str, Variant], invalidated: list[str]
    ) -> None:
        self._queue_signal(
            Message.new_signal(
                path,
                PROPERTIES_INTERFACE,
                "PropertiesChanged",
                "sa{sv}as",
                [interface, changed, invalidated],
            )
        )

    def _signal_interfaces_removed(self, path: str, interfaces: list[str]) -> None:
        self._queue_signal(
            Message.new_signal(
                "/", OBJECT_MANAGER_INTERFACE, "InterfacesRemoved", "oas", [path, interfaces]
            )
        )

    def _device_signals(self, device: _Device) -> list[Message]:
        props = device_properties(device.state, device.adapter.path)
        before, device.announced = device.announced, props
        forced, device.forced = device.forced, set()
        if before is None:
            interfaces = {
                DEVICE_INTERFACE: to_variants(props, DEVICE_SIGNATURES),
                PROPERTIES_INTERFACE: {},
                INTROSPECTABLE_INTERFACE: {},
            }
            return [
                Message.new_signal(
                    "/",
                    OBJECT_MANAGER_INTERFACE,
                    "InterfacesAdded",
                    "oa{sa{sv}}",
                    [device.path, interfaces],
                )
            ]
        changed, invalidated = property_changes(before, props, forced)
        if not changed and not invalidated:
            return []
        return [
            Message.new_signal(
                device.path,
                PROPERTIES_INTERFACE,
                "PropertiesChanged",
                "sa{sv}as",
                [DEVICE_INTERFACE, to_variants(changed, DEVICE_SIGNATURES), invalidated],
            )
        ]

    def _next_batch(self) -> list[Message]:
        batch: list[Message] = []
        while self._outbox and len(batch) < FLUSH_BATCH:
            batch.append(self._outbox.popleft())
        while self._dirty and len(batch) < FLUSH_BATCH:
            path = next(iter(self._dirty))
            batch.extend(self._device_signals(self._dirty.pop(path)))
        return batch

    async def _flush_forever(self) -> None:
        # Only the latest state of each device waits here: while the socket is full, adverts
        # coalesce in self._dirty instead of piling up in dbus-fast's unbounded write queue.
        bus = self._bus
        if bus is None:
            return
        try:
            while bus.connected:
                await self._wake.wait()
                self._wake.clear()
                while self._outbox or self._dirty:
                    for message in self._next_batch():
                        await self._send_gently(bus, message)
        except Exception as exc:  # the bus died: nothing more can be sent
            logger.warning("bluez.bus_lost error=%s", type(exc).__name__)
            return
        logger.warning("bluez.bus_lost error=disconnected")

    async def _send_gently(self, bus: MessageBus, message: Message) -> None:
        # dbus-fast's writer drops the connection when it meets a full socket (python-dbus-next
        # issue 153): hand it a message only when nothing is half-written and there is room.
        fd = getattr(bus, "_fd", None)
        if isinstance(fd, int):
            while not select.select([], [fd], [], 0)[1]:
                await asyncio.sleep(WRITABLE_POLL_S)
        try:
            written = bus.send(message)
        except Exception:  # a message that cannot be marshalled is a bug: skip it, keep serving
            logger.exception("bluez.unsendable member=%s", message.member)
            return
        if not written.done():
            await written
        written.result()
        self.counters.signals_sent += 1

    # -- discovery sessions -----------------------------------------------------------------

    def _update_policy(self, adapter: _Adapter) -> None:
        was_scanning = adapter.policy.scanning
        adapter.policy = scan_policy(
            (adapter.filters.get(sender) for sender in adapter.sessions),
            (pattern for patterns in adapter.monitors.values() for pattern in patterns),
        )
        if adapter.discovering != adapter.signalled_discovering:
            adapter.signalled_discovering = adapter.discovering
            self._signal_properties_changed(
                adapter.path,
                ADAPTER_INTERFACE,
                {"Discovering": Variant("b", adapter.discovering)},
                [],
            )
            logger.info(
                "bluez.discovering adapter=%s discovering=%s", adapter.name, adapter.discovering
            )
        if adapter.policy.scanning:
            self._cancel_expiry(adapter)
        elif was_scanning or adapter.devices:
            self._invalidate_rssi(adapter)
            self._schedule_expiry(adapter)

    def _end_discovery(self, adapter: _Adapter, invalidate: bool = True) -> None:
        adapter.sessions.clear()
        adapter.filters.clear()
        adapter.monitors.clear()
        if invalidate:
            self._update_policy(adapter)
        else:
            adapter.policy = ScanPolicy()
            adapter.signalled_discovering = False
            self._cancel_expiry(adapter)

    def _invalidate_rssi(self, adapter: _Adapter) -> None:
        # BlueZ forgets RSSI and TX power of every device when discovery ends.
        for device in adapter.devices.values():
            if device.state.rssi is not None or device.state.tx_power is not None:
                device.state = replace(device.state, rssi=None, tx_power=None)
                self._dirty[device.path] = device
        self._wake.set()

    def _schedule_expiry(self, adapter: _Adapter) -> None:
        self._cancel_expiry(adapter)
        loop = asyncio.get_running_loop()
        adapter.expiry = loop.call_later(
            self.settings.temporary_timeout_s, self._expire_devices, adapter
        )

    def _cancel_expiry(self, adapter: _Adapter) -> None:
        if adapter.expiry is not None:
            adapter.expiry.cancel()
            adapter.expiry = None

    def _expire_devices(self, adapter: _Adapter) -> None:
        adapter.expiry = None
        if adapter.policy.scanning:
            return
        count = len(adapter.devices)
        for device in list(adapter.devices.values()):
            self._remove_device(device)
        logger.info("bluez.devices_expired adapter=%s count=%d", adapter.name, count)

    def _remove_device(self, device: _Device) -> None:
        device.adapter.devices.pop(device.path, None)
        self._dirty.pop(device.path, None)
        if device.announced is not None:
            self._signal_interfaces_removed(
                device.path, [DEVICE_INTERFACE, PROPERTIES_INTERFACE, INTROSPECTABLE_INTERFACE]
            )

    def _set_powered(self, adapter: _Adapter, powered: bool) -> None:
        if adapter.powered == powered:
            return
        adapter.powered = powered
        if not powered:
            self._end_discovery(adapter)
        self._signal_properties_changed(
            adapter.path,
            ADAPTER_INTERFACE,
            {
                "Powered": Variant("b", powered),
                "PowerState": Variant("s", "on" if powered else "off"),
            },
            [],
        )
        logger.info("bluez.powered adapter=%s powered=%s", adapter.name, powered)

    def _drop_sender(self, sender: str) -> None:
        for adapter in self._adapters:
            monitors = [key for key in adapter.monitors if key[0] == sender]
            if sender in adapter.sessions or sender in adapter.filters or monitors:
                adapter.sessions.discard(sender)
                adapter.filters.pop(sender, None)
                for key in monitors:
                    del adapter.monitors[key]
                self._update_policy(adapter)

    # -- D-Bus method calls ------------------------------------------------------------------

    async def _call(self, message: Message) -> Message:
        # A method call through the outbox, so that it too waits for room in the socket.
        if self._bus is None:
            raise DBusError(ERROR_FAILED, "not connected")
        message.serial = self._bus.next_serial()
        reply: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending_calls[message.serial] = reply
        self._queue_signal(message)
        try:
            return await asyncio.wait_for(reply, CALL_TIMEOUT_S)
        finally:
            self._pending_calls.pop(message.serial, None)

    def _on_message(self, message: Message) -> bool | None:
        if message.message_type == MessageType.SIGNAL:
            if message.member == "NameOwnerChanged" and message.sender == "org.freedesktop.DBus":
                self._on_name_owner_changed(message)
            return None
        if message.message_type != MessageType.METHOD_CALL:
            pending = self._pending_calls.get(message.reply_serial)
            if pending is not None and not pending.done():
                pending.set_result(message)
                return True
            return None
        try:
            reply = self._dispatch(message)
        except DBusError as exc:
            reply = Message.new_error(message, exc.type, exc.text)
        except Exception:  # a bug here must cost one reply, never the service
            logger.exception("bluez.handler_failed member=%s", message.member)
            reply = Message.new_error(message, ERROR_FAILED, "internal error")
        # Replies go through the outbox too: only the flusher writes to the socket.
        if not message.flags & MessageFlag.NO_REPLY_EXPECTED:
            self._queue_signal(reply)
        return True

    def _on_name_owner_changed(self, message: Message) -> None:
        if message.signature != "sss":
            return
        name, _old_owner, new_owner = message.body
        if name.startswith(":") and not new_owner:
            self._drop_sender(name)

    def _dispatch(self, message: Message) -> Message:
        path, interface, member = message.path or "", message.interface, message.member or ""
        if interface == PEER_INTERFACE and member == "Ping":
            return Message.new_method_return(message)
        target = self._target(path)
        if target is None:
            raise DBusError(DBUS_UNKNOWN_OBJECT, f"no object at {path}")
        if interface in (INTROSPECTABLE_INTERFACE, None) and member == "Introspect":
            return Message.new_method_return(message, "s", [self._introspect(path, target)])
        if interface in (OBJECT_MANAGER_INTERFACE, None) and member == "GetManagedObjects":
            if path != "/":
                raise DBusError(DBUS_UNKNOWN_METHOD, "ObjectManager lives at /")
            return Message.new_method_return(message, "a{oa{sa{sv}}}", [self._managed_objects()])
        if interface == PROPERTIES_INTERFACE:
            return self._properties_call(message, target)
        if isinstance(target, _Adapter):
            if interface in (ADAPTER_INTERFACE, None) and member in _ADAPTER_METHODS:
                return self._adapter_call(message, target)
            if interface == MONITOR_MANAGER_INTERFACE and self.settings.passive_scanning:
                return self._monitor_call(message, target)
        if isinstance(target, _Device) and interface in (DEVICE_INTERFACE, None):
            raise DBusError(ERROR_NOT_SUPPORTED, "simulated devices cannot be connected")
        raise DBusError(DBUS_UNKNOWN_METHOD, f"{interface}.{member} is not supported here")

    def _target(self, path: str) -> str | _Adapter | _Device | None:
        if path in ("/", "/org", BLUEZ_ROOT):
            return path
        adapter_path, _, device_name = path.partition("/dev_")
        adapter = next((a for a in self._adapters if a.path == adapter_path and a.present), None)
        if adapter is None:
            return None
        if not device_name:
            return adapter
        device = adapter.devices.get(path)
        return device if device is not None and device.announced is not None else None

    def _adapter_interfaces(self, adapter: _Adapter) -> dict[str, dict[str, Variant]]:
        interfaces: dict[str, dict[str, Variant]] = {
            INTROSPECTABLE_INTERFACE: {},
            ADAPTER_INTERFACE: to_variants(adapter.properties(), ADAPTER_SIGNATURES),
            PROPERTIES_INTERFACE: {},
        }
        if self.settings.passive_scanning:
            interfaces[MONITOR_MANAGER_INTERFACE] = dict(MONITOR_MANAGER_PROPERTIES)
        return interfaces

    def _managed_objects(self) -> dict[str, dict[str, dict[str, Variant]]]:
        objects: dict[str, dict[str, dict[str, Variant]]] = {
            BLUEZ_ROOT: {"org.bluez.AgentManager1": {}, "org.bluez.ProfileManager1": {}},
        }
        for adapter in self._adapters:
            if not adapter.present:
                continue
            objects[adapter.path] = self._adapter_interfaces(adapter)
            for device in adapter.devices.values():
                if device.announced is not None:
                    objects[device.path] = {
                        DEVICE_INTERFACE: to_variants(device.announced, DEVICE_SIGNATURES),
                        PROPERTIES_INTERFACE: {},
                        INTROSPECTABLE_INTERFACE: {},
                    }
        return objects

    def _introspect(self, path: str, target: str | _Adapter | _Device) -> str:
        if isinstance(target, _Device):
            return _introspection(_DEVICE_XML, [])
        if isinstance(target, _Adapter):
            extra = _MONITOR_MANAGER_XML if self.settings.passive_scanning else ""
            children = [d.path.rsplit("/", 1)[1] for d in target.devices.values() if d.announced]
            return _introspection(_ADAPTER_XML + extra, children)
        if path == "/":
            return _introspection(_OBJECT_MANAGER_XML, ["org"])
        if path == "/org":
            return _introspection("", ["bluez"])
        return _introspection("", [a.name for a in self._adapters if a.present])

    def _interface_properties(
        self, target: str | _Adapter | _Device, interface: str
    ) -> tuple[dict[str, Variant], frozenset[str]]:
        """The properties of `interface` on `target` and which of them are writable."""
        if isinstance(target, _Adapter) and interface == ADAPTER_INTERFACE:
            props = to_variants(target.properties(), ADAPTER_SIGNATURES)
            return props, frozenset({"Powered", "Alias"})
        if (
            isinstance(target, _Adapter)
            and interface == MONITOR_MANAGER_INTERFACE
            and self.settings.passive_scanning
        ):
            return dict(MONITOR_MANAGER_PROPERTIES), frozenset()
        if isinstance(target, _Device) and interface == DEVICE_INTERFACE:
            return to_variants(target.announced or {}, DEVICE_SIGNATURES), frozenset()
        raise DBusError(DBUS_INVALID_ARGS, f"no interface {interface!r} at this object")

    def _properties_call(self, message: Message, target: str | _Adapter | _Device) -> Message:
        member, signature, body = message.member, message.signature, message.body
        if member == "GetAll" and signature == "s":
            props, _ = self._interface_properties(target, body[0])
            return Message.new_method_return(message, "a{sv}", [props])
        if member == "Get" and signature == "ss":
            props, _ = self._interface_properties(target, body[0])
            if body[1] not in props:
                raise DBusError(DBUS_INVALID_ARGS, f"no property {body[1]!r}")
            return Message.new_method_return(message, "v", [props[body[1]]])
        if member == "Set" and signature == "ssv":
            interface, name, value = body
            props, writable = self._interface_properties(target, interface)
            if name not in props:
                raise DBusError(DBUS_INVALID_ARGS, f"no property {name!r}")
            if name not in writable or not isinstance(target, _Adapter):
                raise DBusError(DBUS_PROPERTY_READ_ONLY, f"property {name!r} is read-only")
            if value.signature != props[name].signature:
                raise DBusError(DBUS_INVALID_ARGS, f"property {name!r} has another type")
            if name == "Powered":
                self._set_powered(target, bool(value.value))
            else:
                target.alias = str(value.value)
                self._signal_properties_changed(
                    target.path,
                    ADAPTER_INTERFACE,
                    {"Alias": value, "Name": value},
                    [],
                )
            return Message.new_method_return(message)
        if member in ("Get", "GetAll", "Set"):
            raise DBusError(DBUS_INVALID_ARGS, f"bad signature {signature!r} for {member}")
        raise DBusError(DBUS_UNKNOWN_METHOD, f"no method {member!r} on {PROPERTIES_INTERFACE}")

    def _adapter_call(self, message: Message, adapter: _Adapter) -> Message:
        member, signature, sender = message.member or "", message.signature, message.sender or ""
        expected = _ADAPTER_METHODS[member]
        if signature != expected:
            raise DBusError(ERROR_INVALID_ARGUMENTS, "Invalid arguments in method call")
        if member == "GetDiscoveryFilters":
            return Message.new_method_return(message, "as", [list(FILTER_KEYS)])
        if member == "RemoveDevice":
            device = adapter.devices.get(message.body[0])
            if device is None or device.announced is None:
                raise DBusError(ERROR_DOES_NOT_EXIST, "Does Not Exist")
            self._remove_device(device)
            return Message.new_method_return(message)
        if not adapter.powered:
            raise DBusError(ERROR_NOT_READY, "Resource Not Ready")
        if member == "SetDiscoveryFilter":
            try:
                discovery_filter = parse_discovery_filter(message.body[0])
            except FilterError as exc:
                raise DBusError(ERROR_INVALID_ARGUMENTS, str(exc)) from exc
            if discovery_filter is None:
                adapter.filters.pop(sender, None)
            else:
                adapter.filters[sender] = discovery_filter
        elif member == "StartDiscovery":
            if sender in adapter.sessions:
                raise DBusError(ERROR_IN_PROGRESS, "Operation already in progress")
            adapter.sessions.add(sender)
            logger.info("bluez.session_started adapter=%s", adapter.name)
        elif member == "StopDiscovery":
            if sender not in adapter.sessions:
                raise DBusError(ERROR_FAILED, "No discovery started")
            adapter.sessions.discard(sender)
            # BlueZ frees the client's filter with its session.
            adapter.filters.pop(sender, None)
            logger.info("bluez.session_stopped adapter=%s", adapter.name)
        self._update_policy(adapter)
        return Message.new_method_return(message)

    def _monitor_call(self, message: Message, adapter: _Adapter) -> Message:
        member, signature, sender = message.member, message.signature, message.sender or ""
        if member not in ("RegisterMonitor", "UnregisterMonitor"):
            raise DBusError(DBUS_UNKNOWN_METHOD, f"no method {member!r}")
        if signature != "o":
            raise DBusError(ERROR_INVALID_ARGUMENTS, "Invalid arguments in method call")
        key = (sender, message.body[0])
        if member == "UnregisterMonitor":
            if key not in adapter.monitors:
                raise DBusError(ERROR_DOES_NOT_EXIST, "Does Not Exist")
            del adapter.monitors[key]
            self._update_policy(adapter)
            return Message.new_method_return(message)
        if key in adapter.monitors:
            raise DBusError(ERROR_ALREADY_EXISTS, "Already Exists")
        adapter.monitors[key] = ()
        task = asyncio.get_running_loop().create_task(self._read_monitor(adapter, key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return Message.new_method_return(message)

    async def _read_monitor(self, adapter: _Adapter, key: tuple[str, str]) -> None:
        # Like BlueZ, read the client's monitor object after the RegisterMonitor reply. bleak
        # exports it only once its task has seen the reply, so the first read may come too
        # early: retry a few times. Its patterns then drive passive scanning.
        sender, path = key
        reply: Message | None = None
        for _attempt in range(MONITOR_READ_ATTEMPTS):
            if _attempt:
                await asyncio.sleep(MONITOR_READ_RETRY_S)
            reply = await self._call(
                Message(
                    destination=sender,
                    path=path,
                    interface=PROPERTIES_INTERFACE,
                    member="GetAll",
                    signature="s",
                    body=[MONITOR_INTERFACE],
                )
            )
            if key not in adapter.monitors or reply.message_type == MessageType.METHOD_RETURN:
                break
        if key not in adapter.monitors:
            return
        if reply is None or reply.signature != "a{sv}":
            error = reply.error_name if reply is not None else None
            logger.warning("bluez.monitor_unreadable adapter=%s error=%s", adapter.name, error)
            return
        patterns_variant = reply.body[0].get("Patterns")
        patterns = or_patterns_from(
            patterns_variant.value if isinstance(patterns_variant, Variant) else None
        )
        adapter.monitors[key] = patterns
        self._update_policy(adapter)
        self._queue_signal(
            Message(
                destination=sender,
                path=path,
                interface=MONITOR_INTERFACE,
                member="Activate",
                flags=MessageFlag.NO_REPLY_EXPECTED,
            )
        )
        logger.info("bluez.monitor_active adapter=%s patterns=%d", adapter.name, len(patterns))


_ADAPTER_METHODS = {
    "StartDiscovery": "",
    "StopDiscovery": "",
    "SetDiscoveryFilter": "a{sv}",
    "GetDiscoveryFilters": "",
    "RemoveDevice": "o",
}
