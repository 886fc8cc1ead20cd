"""D-Bus values of the virtual BlueZ: property signatures, variants out, filter arguments in.

The D-Bus type of every Adapter1 and Device1 property the simulator shows and of every
SetDiscoveryFilter key, the fixed AdvertisementMonitorManager1 properties, `to_variants` (the
model's plain property values wrapped for GetManagedObjects, InterfacesAdded and
PropertiesChanged) and `parse_discovery_filter` (SetDiscoveryFilter's a{sv} checked the way
BlueZ checks it and read into the model's DiscoveryFilter). Uses dbus-fast's Variant, never a
connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dbus_fast import Variant

from firmware_sim.bluez.model import DiscoveryFilter, full_uuid

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


class FilterError(ValueError):
    """SetDiscoveryFilter arguments BlueZ would reject."""


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
