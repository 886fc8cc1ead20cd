"""The radio link's line format: a JSON hello, then one bleak-shaped advert per line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypedDict
from urllib.parse import urlsplit

# Manufacturer company ids are 16-bit (Bluetooth SIG assigned numbers).
MAX_COMPANY_ID = 0xFFFF
# Adverts carry at most 31 bytes (legacy) or 254 bytes (extended) of AD data.
MAX_AD_VALUE_BYTES = 254


class AdvertJson(TypedDict):
    """A bleak AdvertisementData as JSON, the shape of tests/vectors/adverts.json."""

    address: str
    rssi: int
    local_name: str | None
    tx_power: int | None
    manufacturer_data: dict[str, str]
    service_data: dict[str, str]
    service_uuids: list[str]


@dataclass(frozen=True)
class ParsedAdvert:
    """An advert line decoded to the types bleak uses (bytes values, int company ids)."""

    address: str
    rssi: int
    local_name: str | None
    tx_power: int | None
    manufacturer_data: dict[int, bytes]
    service_data: dict[str, bytes]
    service_uuids: list[str]


@dataclass(frozen=True)
class RadioUrl:
    """Where a gateway's scanner finds the simulator: tcp://HOST:PORT/GATEWAY_NAME."""

    host: str
    port: int
    gateway: str


def advert_line(advert: AdvertJson) -> bytes:
    """Encode one advert as a newline-terminated JSON line."""
    return json.dumps(advert, separators=(",", ":")).encode() + b"\n"


def hello_line(gateway: str) -> bytes:
    """The first line a gateway sends: which gateway's radio it wants to hear."""
    return json.dumps({"gateway": gateway}).encode() + b"\n"


def parse_hello_line(line: bytes) -> str | None:
    """The gateway name of a hello line, or None when the line is not a valid hello."""
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    gateway = data.get("gateway") if isinstance(data, dict) else None
    return gateway if isinstance(gateway, str) and gateway else None


def _int_or_none(value: Any) -> tuple[bool, int | None]:
    if value is None:
        return True, None
    if isinstance(value, bool) or not isinstance(value, int):
        return False, None
    return True, value


def _hex_bytes(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        decoded = bytes.fromhex(value)
    except ValueError:
        return None
    return decoded if len(decoded) <= MAX_AD_VALUE_BYTES else None


def _manufacturer_data(value: Any) -> dict[int, bytes] | None:
    if not isinstance(value, dict):
        return None
    result: dict[int, bytes] = {}
    for key, raw in value.items():
        if not key.isdecimal() or int(key) > MAX_COMPANY_ID:
            return None
        decoded = _hex_bytes(raw)
        if decoded is None:
            return None
        result[int(key)] = decoded
    return result


def _service_data(value: Any) -> dict[str, bytes] | None:
    if not isinstance(value, dict):
        return None
    result: dict[str, bytes] = {}
    for key, raw in value.items():
        decoded = _hex_bytes(raw)
        if decoded is None:
            return None
        result[key.lower()] = decoded
    return result


def parse_advert_line(line: bytes) -> ParsedAdvert | None:
    """Decode one advert line; None for anything malformed (never raises)."""
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    address, rssi = data.get("address"), data.get("rssi")
    if not isinstance(address, str) or isinstance(rssi, bool) or not isinstance(rssi, int):
        return None
    local_name = data.get("local_name")
    if local_name is not None and not isinstance(local_name, str):
        return None
    tx_power_ok, tx_power = _int_or_none(data.get("tx_power"))
    manufacturer_data = _manufacturer_data(data.get("manufacturer_data", {}))
    service_data = _service_data(data.get("service_data", {}))
    service_uuids = data.get("service_uuids", [])
    if (
        not tx_power_ok
        or manufacturer_data is None
        or service_data is None
        or not isinstance(service_uuids, list)
        or not all(isinstance(u, str) for u in service_uuids)
    ):
        return None
    return ParsedAdvert(
        address=address,
        rssi=rssi,
        local_name=local_name,
        tx_power=tx_power,
        manufacturer_data=manufacturer_data,
        service_data=service_data,
        service_uuids=[u.lower() for u in service_uuids],
    )


def parse_radio_url(url: str) -> RadioUrl:
    """Parse tcp://HOST:PORT/GATEWAY_NAME, raising ValueError when malformed."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"bad port in radio url {url!r}") from exc
    gateway = parts.path.lstrip("/")
    if parts.scheme != "tcp" or not parts.hostname or port is None or not gateway or "/" in gateway:
        raise ValueError(f"radio url {url!r} is not tcp://HOST:PORT/GATEWAY_NAME")
    return RadioUrl(host=parts.hostname, port=port, gateway=gateway)
