"""Scenarios: a store floor plan and scripted people, in the JSON format of docs/scenarios.md."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware_sim.beacons import (
    BEACON_KINDS,
    DEFAULT_ADV_INTERVAL_S,
    DEFAULT_BEACON_TX_POWER_DBM,
    DEFAULT_TEMPERATURE_C,
    FRAME_ALTBEACON,
    FRAME_EID,
    FRAME_IBEACON,
    FRAME_NAMES,
    FRAME_UID,
    FRAME_URL,
    KIND_ALTBEACON,
    KIND_IBEACON,
    MAX_ADV_INTERVAL_S,
    MIN_ADV_INTERVAL_S,
    BatterySpec,
    BeaconIds,
    BeaconSpec,
    frames_supported,
)
from firmware_sim.eddystone import IDENTITY_KEY_LENGTH, MAX_ROTATION_EXPONENT
from firmware_sim.frames import (
    RADIUS_NETWORKS_COMPANY_ID,
    UID_INSTANCE_LENGTH,
    UID_NAMESPACE_LENGTH,
    encode_url,
)

# A brisk adult walking pace; used when a person's script gives no speed.
DEFAULT_WALKING_SPEED_M_S = 1.2
MS_PER_S = 1000.0

# The phone's platform (docs/scenarios.md, "people[].platform"): what the app may do on it.
PLATFORM_ANDROID = "android"
# iOS apps never advertise an EID: Core Bluetooth's startAdvertising accepts only a local name
# and service UUIDs (CBPeripheralManager documentation), so an iPhone is heard only through the
# store's iBeacons it reports.
PLATFORM_IOS = "ios"
PLATFORMS = (PLATFORM_ANDROID, PLATFORM_IOS)
# The store app's state on a person's phone (docs/scenarios.md, "people[].app_state").
APP_FOREGROUND = "foreground"
APP_BACKGROUND = "background"
APP_STATES = (APP_FOREGROUND, APP_BACKGROUND)
# Android AdvertiseSettings modes (android.bluetooth.le.AdvertiseSettings.ADVERTISE_MODE_*).
ADVERTISE_LOW_LATENCY = "low_latency"
ADVERTISE_BALANCED = "balanced"
ADVERTISE_LOW_POWER = "low_power"
ADVERTISE_MODES = (ADVERTISE_LOW_LATENCY, ADVERTISE_BALANCED, ADVERTISE_LOW_POWER)
# How the phone is carried; sets the body loss (firmware_sim.world.BODY_LOSS_DB).
CARRY_HAND = "hand"
CARRY_FRONT_POCKET = "front-pocket"
CARRY_BACK_POCKET = "back-pocket"
CARRY_BAG = "bag"
CARRIES = (CARRY_HAND, CARRY_FRONT_POCKET, CARRY_BACK_POCKET, CARRY_BAG)


class ScenarioError(ValueError):
    """A scenario file or a scenario name that cannot be used."""


@dataclass(frozen=True)
class Point:
    """A position on the floor plan, in metres."""

    x: float
    y: float


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle in metres, edges included."""

    x0: float
    y0: float
    x1: float
    y1: float

    def contains(self, point: Point) -> bool:
        """Whether `point` lies inside or on the edge of this rectangle."""
        return self.x0 <= point.x <= self.x1 and self.y0 <= point.y <= self.y1


@dataclass(frozen=True)
class Area:
    """A named rectangle: a zone inside the store or a curbside bay outside it."""

    name: str
    rect: Rect


@dataclass(frozen=True)
class GatewayPlacement:
    """Where a gateway's antenna sits."""

    name: str
    position: Point


@dataclass(frozen=True)
class Wall:
    """A straight wall from `a` to `b`; a door is a wall segment people may walk through."""

    a: Point
    b: Point
    attenuation_db: float
    door: bool = False


@dataclass(frozen=True)
class BeaconPlacement:
    """A fixed store beacon and where it is mounted."""

    spec: BeaconSpec
    position: Point


@dataclass(frozen=True)
class FloorPlan:
    """The store outline, its entrance, zones, curbside bays, gateways, walls and beacons."""

    outline: Rect
    entrance: Point
    zones: tuple[Area, ...]
    bays: tuple[Area, ...]
    gateways: tuple[GatewayPlacement, ...]
    walls: tuple[Wall, ...] = ()
    beacons: tuple[BeaconPlacement, ...] = ()


@dataclass(frozen=True)
class Waypoint:
    """A point a person walks to, then stays at for `dwell_s` seconds."""

    position: Point
    dwell_s: float


@dataclass(frozen=True)
class Person:
    """A scripted person: appears at the first waypoint at `start_s` and leaves after the last."""

    name: str
    waypoints: tuple[Waypoint, ...]
    start_s: float
    speed_m_s: float
    phone: str | None
    walk_by: bool
    staff: bool = False
    app_state: str = APP_FOREGROUND
    tag: BeaconSpec | None = None
    platform: str = PLATFORM_ANDROID
    # The project's app advertises with ADVERTISE_MODE_LOW_POWER (~1 s), on screen and in its
    # foreground service: the rate the gateway's tracker (a report per 0.8 s at most) and the
    # fusion are built for (docs/decisions.md), at a fraction of LOW_LATENCY's battery cost.
    advertise_mode: str = ADVERTISE_LOW_POWER
    # Android in the background: advertising outlives the app's screen only in a foreground
    # service; without one the process is cached and stops (Android 8+ background limits).
    foreground_service: bool = True
    carry: str = CARRY_HAND

    @property
    def advertises(self) -> bool:
        """Whether this phone's app sends EID adverts at all (never on iOS)."""
        if self.phone is None or self.platform == PLATFORM_IOS:
            return False
        return self.app_state == APP_FOREGROUND or self.foreground_service


@dataclass(frozen=True)
class Scenario:
    """A named, self-contained piece of store life."""

    name: str
    description: str
    duration_s: float
    floor_plan: FloorPlan
    people: tuple[Person, ...]


def _field(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise ScenarioError(f"{where}: missing field {key!r}")
    return obj[key]


def _number(obj: Mapping[str, Any], key: str, where: str, default: float | None = None) -> float:
    value = obj.get(key, default) if default is not None else _field(obj, key, where)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{where}: {key!r} must be a number")
    return float(value)


def _integer(obj: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
    value = obj.get(key, default) if default is not None else _field(obj, key, where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(f"{where}: {key!r} must be an integer")
    return value


def _flag(obj: Mapping[str, Any], key: str, where: str, default: bool = False) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise ScenarioError(f"{where}: {key!r} must be true or false")
    return value


def _choice(
    obj: Mapping[str, Any], key: str, choices: tuple[str, ...], default: str, where: str
) -> str:
    value = obj.get(key, default)
    if value not in choices:
        raise ScenarioError(f"{where}: {key!r} must be one of {', '.join(choices)}")
    return str(value)


def _optional_string(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ScenarioError(f"{where}: {key!r} must be a non-empty string or null")
    return value


def _hex(obj: Mapping[str, Any], key: str, where: str, length: int) -> str | None:
    value = _optional_string(obj, key, where)
    if value is None:
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError as exc:
        raise ScenarioError(f"{where}: {key!r} must be hex") from exc
    if len(raw) != length:
        raise ScenarioError(f"{where}: {key!r} must be {length} bytes")
    return raw.hex()


def _uuid(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    value = _optional_string(obj, key, where)
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise ScenarioError(f"{where}: {key!r} must be a UUID") from exc


def _string(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = _field(obj, key, where)
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"{where}: {key!r} must be a non-empty string")
    return value


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{where}: must be an object")
    return value


def _list(obj: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise ScenarioError(f"{where}: {key!r} must be a list")
    return value


def _point(value: Any, where: str) -> Point:
    obj = _mapping(value, where)
    return Point(_number(obj, "x", where), _number(obj, "y", where))


def _rect(value: Any, where: str) -> Rect:
    obj = _mapping(value, where)
    rect = Rect(*(_number(obj, key, where) for key in ("x0", "y0", "x1", "y1")))
    if rect.x0 > rect.x1 or rect.y0 > rect.y1:
        raise ScenarioError(f"{where}: needs x0 <= x1 and y0 <= y1")
    return rect


def _area(value: Any, where: str) -> Area:
    obj = _mapping(value, where)
    return Area(_string(obj, "name", where), _rect(obj, where))


def _gateway(value: Any, where: str) -> GatewayPlacement:
    obj = _mapping(value, where)
    return GatewayPlacement(_string(obj, "name", where), _point(obj, where))


def _wall(value: Any, where: str) -> Wall:
    obj = _mapping(value, where)
    x0, y0, x1, y1 = (_number(obj, key, where) for key in ("x0", "y0", "x1", "y1"))
    if (x0, y0) == (x1, y1):
        raise ScenarioError(f"{where}: a wall needs two distinct ends")
    attenuation = _number(obj, "attenuation_db", where)
    if attenuation < 0:
        raise ScenarioError(f"{where}: attenuation_db must be >= 0")
    return Wall(Point(x0, y0), Point(x1, y1), attenuation, _flag(obj, "door", where))


def _uint16(obj: Mapping[str, Any], key: str, where: str) -> int:
    value = _integer(obj, key, where, 0)
    if not 0 <= value <= 0xFFFF:
        raise ScenarioError(f"{where}: {key!r} must be 0..65535")
    return value


def _beacon_ids(obj: Mapping[str, Any], where: str) -> BeaconIds:
    url = _optional_string(obj, "url", where)
    if url is not None:
        try:
            encode_url(url)
        except ValueError as exc:
            raise ScenarioError(f"{where}: 'url': {exc}") from exc
    identity_key = _hex(obj, "identity_key", where, IDENTITY_KEY_LENGTH)
    exponent = _integer(obj, "rotation_exponent", where, 10)
    if not 0 <= exponent <= MAX_ROTATION_EXPONENT:
        raise ScenarioError(f"{where}: 'rotation_exponent' must be 0..{MAX_ROTATION_EXPONENT}")
    return BeaconIds(
        uuid=_uuid(obj, "uuid", where),
        major=_uint16(obj, "major", where),
        minor=_uint16(obj, "minor", where),
        company_id=_integer(obj, "company_id", where, RADIUS_NETWORKS_COMPANY_ID),
        id1=_uuid(obj, "id1", where),
        id2=_uint16(obj, "id2", where),
        id3=_uint16(obj, "id3", where),
        namespace=_hex(obj, "namespace", where, UID_NAMESPACE_LENGTH),
        instance=_hex(obj, "instance", where, UID_INSTANCE_LENGTH),
        url=url,
        identity_key=bytes.fromhex(identity_key) if identity_key is not None else None,
        rotation_exponent=exponent,
        clock_offset_s=_number(obj, "clock_offset_s", where, 0.0),
    )


def _default_frames(kind: str, ids: BeaconIds) -> tuple[str, ...]:
    if kind == KIND_IBEACON:
        return (FRAME_IBEACON,)
    if kind == KIND_ALTBEACON:
        return (FRAME_ALTBEACON,)
    if ids.identity_key is not None:
        return (FRAME_EID,)
    return (FRAME_URL,) if ids.namespace is None else (FRAME_UID,)


def _battery(value: Any, where: str) -> BatterySpec:
    obj = _mapping(value, where)
    default = BatterySpec()
    capacity = _number(obj, "capacity_mah", where, default.capacity_mah)
    battery = BatterySpec(
        capacity_mah=capacity,
        remaining_mah=_number(obj, "remaining_mah", where, capacity),
        advert_charge_uc=_number(obj, "advert_charge_uc", where, default.advert_charge_uc),
        sleep_current_ua=_number(obj, "sleep_current_ua", where, default.sleep_current_ua),
    )
    if battery.capacity_mah <= 0 or not 0 <= battery.remaining_mah <= battery.capacity_mah:
        raise ScenarioError(f"{where}: needs capacity_mah > 0 and 0 <= remaining_mah <= capacity")
    if battery.advert_charge_uc < 0 or battery.sleep_current_ua < 0:
        raise ScenarioError(f"{where}: charges and currents must be >= 0")
    return battery


def beacon_spec(value: Any, where: str, default_name: str | None = None) -> BeaconSpec:
    """Parse one beacon object (a fixed store beacon, or a tag a person carries)."""
    obj = _mapping(value, where)
    name = _string(obj, "name", where) if default_name is None or "name" in obj else default_name
    kind = _string(obj, "kind", where)
    if kind not in BEACON_KINDS:
        raise ScenarioError(f"{where}: 'kind' must be one of {', '.join(BEACON_KINDS)}")
    ids = _beacon_ids(obj, where)
    raw_frames = obj.get("frames")
    if raw_frames is None:
        frames = _default_frames(kind, ids)
    elif isinstance(raw_frames, list) and raw_frames and all(f in FRAME_NAMES for f in raw_frames):
        frames = tuple(raw_frames)
    else:
        raise ScenarioError(f"{where}: 'frames' must be a non-empty list of {FRAME_NAMES}")
    missing = set(frames) - set(frames_supported(ids))
    if missing:
        raise ScenarioError(f"{where}: no identifiers for frames {sorted(missing)}")
    interval_s = _number(obj, "interval_ms", where, DEFAULT_ADV_INTERVAL_S * MS_PER_S) / MS_PER_S
    if not MIN_ADV_INTERVAL_S <= interval_s <= MAX_ADV_INTERVAL_S:
        raise ScenarioError(f"{where}: 'interval_ms' must be 20..10240")
    tx_power = _integer(obj, "tx_power_dbm", where, DEFAULT_BEACON_TX_POWER_DBM)
    if not -40 <= tx_power <= 20:
        raise ScenarioError(f"{where}: 'tx_power_dbm' must be -40..20")
    temperature = obj.get("temperature_c", DEFAULT_TEMPERATURE_C)
    if temperature is not None and (
        isinstance(temperature, bool) or not isinstance(temperature, int | float)
    ):
        raise ScenarioError(f"{where}: 'temperature_c' must be a number or null")
    uptime = _number(obj, "uptime_s", where, 0.0)
    if uptime < 0:
        raise ScenarioError(f"{where}: 'uptime_s' must be >= 0")
    return BeaconSpec(
        name=name,
        kind=kind,
        frames=frames,
        ids=ids,
        interval_s=interval_s,
        tx_power_dbm=tx_power,
        battery=_battery(obj.get("battery", {}), f"{where}.battery"),
        temperature_c=float(temperature) if temperature is not None else None,
        uptime_s=uptime,
        address=_optional_string(obj, "address", where),
    )


def _beacon_placement(value: Any, where: str) -> BeaconPlacement:
    return BeaconPlacement(beacon_spec(value, where), _point(value, where))


def _floor_plan(value: Any) -> FloorPlan:
    obj = _mapping(value, "store")
    gateways = tuple(
        _gateway(g, f"store.gateways[{i}]") for i, g in enumerate(_list(obj, "gateways", "store"))
    )
    if not gateways:
        raise ScenarioError("store: needs at least one gateway")
    plan = FloorPlan(
        outline=_rect(_field(obj, "outline", "store"), "store.outline"),
        entrance=_point(_field(obj, "entrance", "store"), "store.entrance"),
        zones=tuple(
            _area(z, f"store.zones[{i}]") for i, z in enumerate(_list(obj, "zones", "store"))
        ),
        bays=tuple(_area(b, f"store.bays[{i}]") for i, b in enumerate(_list(obj, "bays", "store"))),
        gateways=gateways,
        walls=tuple(
            _wall(w, f"store.walls[{i}]") for i, w in enumerate(_list(obj, "walls", "store"))
        ),
        beacons=tuple(
            _beacon_placement(b, f"store.beacons[{i}]")
            for i, b in enumerate(_list(obj, "beacons", "store"))
        ),
    )
    names = [a.name for a in plan.zones + plan.bays] + [g.name for g in plan.gateways]
    names += [b.spec.name for b in plan.beacons]
    if len(names) != len(set(names)):
        raise ScenarioError("store: zone, bay, gateway and beacon names must be unique")
    return plan


def _person(value: Any, where: str) -> Person:
    obj = _mapping(value, where)
    waypoints = tuple(
        Waypoint(
            _point(w, f"{where}.waypoints[{i}]"), _number(_mapping(w, where), "dwell_s", where, 0.0)
        )
        for i, w in enumerate(_list(obj, "waypoints", where))
    )
    if not waypoints:
        raise ScenarioError(f"{where}: needs at least one waypoint")
    if any(w.dwell_s < 0 for w in waypoints):
        raise ScenarioError(f"{where}: dwell_s must be >= 0")
    speed = _number(obj, "speed_m_s", where, DEFAULT_WALKING_SPEED_M_S)
    if speed <= 0:
        raise ScenarioError(f"{where}: speed_m_s must be > 0")
    phone = obj.get("phone")
    if phone is not None and (not isinstance(phone, str) or not phone):
        raise ScenarioError(f"{where}: 'phone' must be a non-empty string or null")
    app_state = _choice(obj, "app_state", APP_STATES, APP_FOREGROUND, where)
    background = app_state == APP_BACKGROUND
    platform = _choice(obj, "platform", PLATFORMS, PLATFORM_ANDROID, where)
    carry = CARRY_FRONT_POCKET if background else CARRY_HAND
    name = _string(obj, "name", where)
    tag = obj.get("tag")
    return Person(
        name=name,
        waypoints=waypoints,
        start_s=_number(obj, "start_s", where, 0.0),
        speed_m_s=speed,
        phone=phone,
        walk_by=_flag(obj, "walk_by", where),
        staff=_flag(obj, "staff", where),
        app_state=app_state,
        tag=beacon_spec(tag, f"{where}.tag", f"{name}-tag") if tag is not None else None,
        platform=platform,
        advertise_mode=_choice(obj, "advertise_mode", ADVERTISE_MODES, ADVERTISE_LOW_POWER, where),
        foreground_service=_flag(obj, "foreground_service", where, default=True),
        carry=_choice(obj, "carry", CARRIES, carry, where),
    )


def scenario_from_dict(data: Any) -> Scenario:
    """Build a scenario from its JSON document, raising ScenarioError on anything malformed."""
    obj = _mapping(data, "scenario")
    duration = _number(obj, "duration_s", "scenario")
    if duration <= 0:
        raise ScenarioError("scenario: duration_s must be > 0")
    people = tuple(
        _person(p, f"people[{i}]") for i, p in enumerate(_list(obj, "people", "scenario"))
    )
    if len({p.name for p in people}) != len(people):
        raise ScenarioError("scenario: person names must be unique")
    floor_plan = _floor_plan(_field(obj, "store", "scenario"))
    if {p.name for p in people} & {b.spec.name for b in floor_plan.beacons}:
        raise ScenarioError("scenario: a person and a beacon cannot share a name")
    description = obj.get("description", "")
    if not isinstance(description, str):
        raise ScenarioError("scenario: 'description' must be a string")
    return Scenario(
        name=_string(obj, "name", "scenario"),
        description=description,
        duration_s=duration,
        floor_plan=floor_plan,
        people=people,
    )


def load_scenario_file(path: Path) -> Scenario:
    """Read and validate a scenario JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario file {path}: {exc}") from exc
    return scenario_from_dict(data)
