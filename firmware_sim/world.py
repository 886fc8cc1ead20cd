"""Running a scenario: where each person is, what they truly do, which adverts gateways hear."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

from firmware_sim.eddystone import (
    EDDYSTONE_SERVICE_UUID,
    IDENTITY_KEY_LENGTH,
    compute_eid,
    eid_service_data,
)
from firmware_sim.phones import DEFAULT_ROTATION_EXPONENT, PhoneKey
from firmware_sim.radio import ChannelParams, received_rssi
from firmware_sim.scenario import FloorPlan, Person, Point, Scenario
from firmware_sim.wire import AdvertJson

# The app advertises its presence frame once per second (one advert per phone per scenario
# second in adverts_at): often enough to see a shopper enter within ~2 s, rarely enough to
# spare the battery.
# Random delay added to each advert, like BLE's advDelay (0-10 ms) plus OS scheduling slack.
ADVERT_JITTER_S = 0.1
# The Eddystone tx_power field the app advertises: calibrated power at 0 m
# (RSSI at 1 m is about 41 dB lower).
PHONE_TX_POWER_DBM = -20
# Phones rotate their resolvable private address about every 15 minutes (Android and iOS default).
ADDRESS_ROTATION_S = 15 * 60
# Anyone within this distance of the entrance point is "at the entrance" (a door plus a step).
ENTRANCE_RADIUS_M = 1.5

STATE_OUTSIDE = "outside"
STATE_WALK_BY = "walk-by"
STATE_ENTRANCE = "entrance"
# Inside the store but in no zone and not at the entrance.
STATE_INSIDE = "inside"


@dataclass(frozen=True)
class PhoneRadio:
    """The radio identity of the phone a person carries."""

    identity_key: bytes
    rotation_exponent: int
    registered: bool
    address_secret: bytes
    address_offset_s: float


@dataclass(frozen=True)
class World:
    """A scenario ready to run: phones resolved, channel chosen, time 0 pinned to Unix time."""

    scenario: Scenario
    phones: Mapping[str, PhoneRadio]
    channel: ChannelParams
    unix_start: float


@dataclass(frozen=True)
class AirAdvert:
    """One advert as one gateway heard it."""

    unix_time: float
    person: str
    gateway: str
    rssi: int
    advert: AdvertJson


def build_world(
    scenario: Scenario,
    phone_keys: Mapping[str, PhoneKey],
    channel: ChannelParams,
    unix_start: float,
    rng: random.Random,
) -> World:
    """Give every phone-carrying person a radio identity; unknown phones get a random key."""
    phones: dict[str, PhoneRadio] = {}
    for person in scenario.people:
        if person.phone is None:
            continue
        key = phone_keys.get(person.phone)
        phones[person.name] = PhoneRadio(
            identity_key=key.identity_key if key else rng.randbytes(IDENTITY_KEY_LENGTH),
            rotation_exponent=key.rotation_exponent if key else DEFAULT_ROTATION_EXPONENT,
            registered=key is not None,
            address_secret=rng.randbytes(16),
            address_offset_s=rng.uniform(0.0, ADDRESS_ROTATION_S),
        )
    return World(scenario=scenario, phones=phones, channel=channel, unix_start=unix_start)


def _distance(a: Point, b: Point) -> float:
    return math.hypot(a.x - b.x, a.y - b.y)


def script_end_s(person: Person) -> float:
    """Scenario time at which the person leaves the simulated area."""
    total = person.start_s
    previous = person.waypoints[0].position
    for waypoint in person.waypoints:
        total += _distance(previous, waypoint.position) / person.speed_m_s + waypoint.dwell_s
        previous = waypoint.position
    return total


def position_at(person: Person, t: float) -> Point | None:
    """Where the person is at scenario time `t`, or None before they appear or after they leave."""
    elapsed = t - person.start_s
    if elapsed < 0:
        return None
    previous = person.waypoints[0].position
    for waypoint in person.waypoints:
        leg_s = _distance(previous, waypoint.position) / person.speed_m_s
        if elapsed < leg_s:
            share = elapsed / leg_s
            return Point(
                previous.x + (waypoint.position.x - previous.x) * share,
                previous.y + (waypoint.position.y - previous.y) * share,
            )
        elapsed -= leg_s
        if elapsed < waypoint.dwell_s:
            return waypoint.position
        elapsed -= waypoint.dwell_s
        previous = waypoint.position
    return None


def place_of(plan: FloorPlan, point: Point, walk_by: bool = False) -> str:
    """The ground-truth state of someone standing at `point`."""
    for bay in plan.bays:
        if bay.rect.contains(point):
            return bay.name
    if _distance(point, plan.entrance) <= ENTRANCE_RADIUS_M:
        return STATE_ENTRANCE
    if plan.outline.contains(point):
        for zone in plan.zones:
            if zone.rect.contains(point):
                return zone.name
        return STATE_INSIDE
    return STATE_WALK_BY if walk_by else STATE_OUTSIDE


def state_at(plan: FloorPlan, person: Person, t: float) -> str:
    """The ground-truth state of `person` at scenario time `t`."""
    position = position_at(person, t)
    if position is None:
        return STATE_OUTSIDE
    return place_of(plan, position, person.walk_by)


def ground_truth_at(scenario: Scenario, t: float) -> dict[str, str]:
    """Every person's ground-truth state at scenario time `t`."""
    return {p.name: state_at(scenario.floor_plan, p, t) for p in scenario.people}


def address_at(phone: PhoneRadio, unix_time: float) -> str:
    """The phone's random private address at `unix_time`; it changes every ADDRESS_ROTATION_S."""
    period = int((unix_time + phone.address_offset_s) // ADDRESS_ROTATION_S)
    digest = hashlib.sha256(phone.address_secret + period.to_bytes(8, "big", signed=True)).digest()
    # The two top bits 0b01 mark a resolvable private address (Core spec Vol 6 Part B 1.3.2.2).
    octets = bytes([(digest[0] & 0x3F) | 0x40]) + digest[1:6]
    return ":".join(f"{octet:02X}" for octet in octets)


def presence_advert(phone: PhoneRadio, unix_time: float, rssi: int) -> AdvertJson:
    """The bleak-shaped EID presence advert of `phone` at `unix_time`, heard at `rssi`."""
    eid = compute_eid(phone.identity_key, phone.rotation_exponent, int(unix_time))
    return {
        "address": address_at(phone, unix_time),
        "rssi": rssi,
        "local_name": None,
        "tx_power": None,
        "manufacturer_data": {},
        "service_data": {EDDYSTONE_SERVICE_UUID: eid_service_data(PHONE_TX_POWER_DBM, eid).hex()},
        "service_uuids": [EDDYSTONE_SERVICE_UUID],
    }


def adverts_at(world: World, second: int, rng: random.Random) -> list[AirAdvert]:
    """Adverts heard by any gateway during scenario second [second, second + 1), in time order."""
    heard: list[AirAdvert] = []
    plan = world.scenario.floor_plan
    for person in world.scenario.people:
        phone = world.phones.get(person.name)
        if phone is None:
            continue
        t = second + rng.uniform(0.0, ADVERT_JITTER_S)
        position = position_at(person, t)
        if position is None:
            continue
        unix_time = world.unix_start + t
        for gateway in plan.gateways:
            rssi = received_rssi(world.channel, _distance(position, gateway.position), rng)
            if rssi is None:
                continue
            advert = presence_advert(phone, unix_time, rssi)
            heard.append(AirAdvert(unix_time, person.name, gateway.name, rssi, advert))
    heard.sort(key=lambda a: a.unix_time)
    return heard
