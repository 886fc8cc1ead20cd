"""The pure model of the virtual BlueZ: what BlueZ would show for a new advert.

How the simulator's advert JSON becomes an advert, how the discovery filters of every session
and the patterns of every passive monitor merge into one scan policy, whether that policy
reports an advert (rebuilding the advert's AD structures for the or-patterns), how advertising
data merges into a device (BlueZ's update_found_devices), which Device1 properties that shows
and which of them changed since the bus was last told. Immutable values in, values out: no
D-Bus types, no I/O and no asyncio (tests/test_architecture.py checks the imports).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from firmware_sim.bluez.names import (
    AD_FLAGS,
    AD_MANUFACTURER_DATA,
    AD_NAME_COMPLETE,
    AD_SERVICE_DATA16,
    AD_SERVICE_DATA128,
    AD_TX_POWER,
    AD_UUID16_COMPLETE,
    AD_UUID128_COMPLETE,
    ADVERTISING_FLAGS,
    BASE_UUID_SUFFIX,
    RSSI_THRESHOLD_DB,
)
from firmware_sim.wire import AdvertJson, ParsedAdvert


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


def or_patterns_from(value: Any) -> tuple[tuple[int, int, bytes], ...]:
    """Validated (start, AD type, content) triples from a monitor's Patterns property."""
    patterns: list[tuple[int, int, bytes]] = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, list | tuple) and len(item) == 3:
            start, kind, content = item
            if isinstance(start, int) and isinstance(kind, int) and isinstance(content, bytes):
                patterns.append((start, kind, content))
    return tuple(patterns)
