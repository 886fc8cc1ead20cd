"""Running a scenario: where each person is, what they truly do, what the radios hear."""

from __future__ import annotations

import bisect
import functools
import hashlib
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from firmware_sim.beacons import (
    ADV_DELAY_MAX_S,
    FRAME_IBEACON,
    FRAME_TLM,
    BeaconEvent,
    BeaconSpec,
    BeaconState,
    advertise,
    frame_identifier,
    frame_parts,
    initial_state,
    static_address,
)
from firmware_sim.eddystone import (
    EDDYSTONE_SERVICE_UUID,
    IDENTITY_KEY_LENGTH,
    compute_eid,
    eid_service_data,
)
from firmware_sim.phones import DEFAULT_ROTATION_EXPONENT, PhoneKey
from firmware_sim.radio import ChannelParams, in_scan_window, received_rssi
from firmware_sim.scenario import (
    APP_BACKGROUND,
    APP_FOREGROUND,
    APP_IOS_BACKGROUND,
    FloorPlan,
    Person,
    Point,
    Scenario,
    Wall,
)
from firmware_sim.wire import AdvertJson

# The app in the foreground advertises its presence frame once per second (one advert per
# phone per scenario second in adverts_at): often enough to see a shopper enter within ~2 s.
FOREGROUND_ADVERT_PERIOD_S = 1
# Placeholder: an Android app in the background advertises in bursts when the OS lets it run
# (Doze, batching); modelled as one advert every 5 s (0.2 Hz) until measured on real phones.
BACKGROUND_ADVERT_PERIOD_S = 5
# Random delay added to each phone advert, like BLE's advDelay (0-10 ms) plus OS scheduling slack.
ADVERT_JITTER_S = 0.1
# The Eddystone tx_power field the app advertises: calibrated power at 0 m
# (RSSI at 1 m is about 41 dB lower).
PHONE_TX_POWER_DBM = -20
# Phones rotate their resolvable private address about every 15 minutes (Android and iOS default).
ADDRESS_ROTATION_S = 15 * 60
# Anyone within this distance of the entrance point is "at the entrance" (a door plus a step).
ENTRANCE_RADIUS_M = 1.5
# How the app scans for store beacons, (window, interval) in seconds. Foreground: Android's
# SCAN_MODE_LOW_LATENCY, 100 ms / 100 ms; background: SCAN_MODE_SCREEN_OFF_LOW_POWER,
# 512 ms / 10.24 s (AOSP packages/modules/Bluetooth, ScanManager). iOS background region
# monitoring publishes no duty cycle: a placeholder equal to Android's screen-off figure.
PHONE_SCAN_WINDOWS_S: Mapping[str, tuple[float, float]] = {
    APP_FOREGROUND: (0.100, 0.100),
    APP_BACKGROUND: (0.512, 10.24),
    APP_IOS_BACKGROUND: (0.512, 10.24),
}

STATE_OUTSIDE = "outside"
STATE_WALK_BY = "walk-by"
STATE_ENTRANCE = "entrance"
# Inside the store but in no zone and not at the entrance.
STATE_INSIDE = "inside"

SOURCE_PHONE = "phone"
SOURCE_TAG = "tag"
SOURCE_BEACON = "beacon"


@dataclass(frozen=True)
class PhoneRadio:
    """The radio identity of the phone a person carries."""

    identity_key: bytes
    rotation_exponent: int
    registered: bool
    address_secret: bytes
    address_offset_s: float


@dataclass(frozen=True)
class PhoneSighting:
    """The store app on a person's phone heard a store beacon (reported later over the API)."""

    unix_time: float
    person: str
    beacon: str
    beacon_id: str
    frame: str
    rssi: int


class BeaconTrack:
    """One beacon's firmware run, memoised: each event is drawn once, in time order."""

    def __init__(self, spec: BeaconSpec, seed: int) -> None:
        self.spec = spec
        self.address = spec.address or static_address(spec.name)
        self._rng = random.Random(seed)  # noqa: S311 - simulation noise, reproducible by design
        self._state: BeaconState = initial_state(spec, self._rng.uniform(0.0, spec.interval_s))
        self._events: list[BeaconEvent] = []
        self._times: list[float] = []

    def events_between(self, t0: float, t1: float) -> list[BeaconEvent]:
        """The beacon's advertising events with scenario time in [t0, t1)."""
        while not self._state.dead and self._state.next_advert_s < t1:
            event, self._state = advertise(
                self.spec, self._state, self._rng.uniform(0.0, ADV_DELAY_MAX_S)
            )
            if event is not None:
                self._events.append(event)
                self._times.append(event.t)
        return self._events[
            bisect.bisect_left(self._times, t0) : bisect.bisect_left(self._times, t1)
        ]

    @property
    def dead(self) -> bool:
        """Whether the battery has run out (as far as the run has got)."""
        return self._state.dead


@dataclass(frozen=True)
class World:
    """A scenario ready to run: radios resolved, channel chosen, time 0 pinned to Unix time."""

    scenario: Scenario
    phones: Mapping[str, PhoneRadio]
    channel: ChannelParams
    unix_start: float
    beacons: Mapping[str, BeaconTrack] = field(default_factory=dict)
    gateway_scan_phase_s: Mapping[str, float] = field(default_factory=dict)
    spans: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    sighting_sink: Callable[[PhoneSighting], None] | None = None


@dataclass(frozen=True)
class AirAdvert:
    """One advert as one gateway heard it; `person` names the transmitter (person or beacon)."""

    unix_time: float
    person: str
    gateway: str
    rssi: int
    advert: AdvertJson
    source: str = SOURCE_PHONE


@dataclass(frozen=True)
class AirSecond:
    """Everything heard during one scenario second."""

    adverts: list[AirAdvert]
    sightings: list[PhoneSighting]


def build_world(
    scenario: Scenario,
    phone_keys: Mapping[str, PhoneKey],
    channel: ChannelParams,
    unix_start: float,
    rng: random.Random,
    sighting_sink: Callable[[PhoneSighting], None] | None = None,
) -> World:
    """Give every phone, tag and beacon a radio identity; unknown phones get a random key."""
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
    specs = [b.spec for b in scenario.floor_plan.beacons]
    specs += [p.tag for p in scenario.people if p.tag is not None]
    return World(
        scenario=scenario,
        phones=phones,
        channel=channel,
        unix_start=unix_start,
        beacons={spec.name: BeaconTrack(spec, rng.getrandbits(64)) for spec in specs},
        gateway_scan_phase_s={
            g.name: rng.uniform(0.0, channel.scan_interval_s) for g in scenario.floor_plan.gateways
        },
        spans={p.name: (p.start_s, script_end_s(p)) for p in scenario.people},
        sighting_sink=sighting_sink,
    )


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


@functools.lru_cache(maxsize=4096)
def _eid_for_window(identity_key: bytes, rotation_exponent: int, window_start: int) -> bytes:
    # The EID depends only on the window start (K <= 15 keeps a window inside one 2^16 period).
    return compute_eid(identity_key, rotation_exponent, window_start)


def presence_eid(phone: PhoneRadio, unix_time: float) -> bytes:
    """The phone's EID at `unix_time`."""
    k = phone.rotation_exponent
    return _eid_for_window(phone.identity_key, k, (int(unix_time) >> k) << k)


def presence_advert(phone: PhoneRadio, unix_time: float, rssi: int) -> AdvertJson:
    """The bleak-shaped EID presence advert of `phone` at `unix_time`, heard at `rssi`."""
    return presence_advert_from_eid(phone, unix_time, rssi, presence_eid(phone, unix_time))


def _orientation(a: Point, b: Point, c: Point) -> float:
    return (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)


def _on_segment(a: Point, b: Point, p: Point) -> bool:
    return min(a.x, b.x) <= p.x <= max(a.x, b.x) and min(a.y, b.y) <= p.y <= max(a.y, b.y)


def segments_intersect(a: Point, b: Point, c: Point, d: Point) -> bool:
    """Whether segment a-b meets segment c-d (touching and overlapping count)."""
    o1, o2 = _orientation(a, b, c), _orientation(a, b, d)
    o3, o4 = _orientation(c, d, a), _orientation(c, d, b)
    if ((o1 > 0 > o2) or (o1 < 0 < o2)) and ((o3 > 0 > o4) or (o3 < 0 < o4)):
        return True
    return (
        (o1 == 0 and _on_segment(a, b, c))
        or (o2 == 0 and _on_segment(a, b, d))
        or (o3 == 0 and _on_segment(c, d, a))
        or (o4 == 0 and _on_segment(c, d, b))
    )


def walls_crossed(walls: tuple[Wall, ...], a: Point, b: Point) -> list[Wall]:
    """The walls (doors included) the straight line from `a` to `b` passes through."""
    return [w for w in walls if segments_intersect(a, b, w.a, w.b)]


def wall_loss_db(plan: FloorPlan, a: Point, b: Point) -> float:
    """Attenuation of every wall and door between `a` and `b`."""
    return sum(w.attenuation_db for w in walls_crossed(plan.walls, a, b))


def _present(world: World, person: Person, t: float) -> Point | None:
    start, end = world.spans.get(person.name, (person.start_s, math.inf))
    if not start <= t < end:
        return None
    return position_at(person, t)


def _phone_advertises(world: World, person: Person, phone: PhoneRadio, second: int) -> bool:
    if person.app_state == APP_IOS_BACKGROUND:
        return False
    if person.app_state == APP_BACKGROUND:
        phase = int(phone.address_offset_s) % BACKGROUND_ADVERT_PERIOD_S
        return (second + phase) % BACKGROUND_ADVERT_PERIOD_S == 0
    return second % FOREGROUND_ADVERT_PERIOD_S == 0


def _phone_hears(person: Person, frame: str) -> bool:
    # A TLM frame names no beacon; iOS in the background only ranges iBeacons (CoreLocation).
    if frame == FRAME_TLM:
        return False
    return person.app_state != APP_IOS_BACKGROUND or frame == FRAME_IBEACON


def _gateway_hears(
    world: World,
    source: Point,
    t: float,
    rng: random.Random,
    rssi_at_1m_dbm: float | None = None,
) -> list[tuple[str, int]]:
    heard: list[tuple[str, int]] = []
    plan, channel = world.scenario.floor_plan, world.channel
    for gateway in plan.gateways:
        if not in_scan_window(channel, t, world.gateway_scan_phase_s.get(gateway.name, 0.0)):
            continue
        rssi = received_rssi(
            channel,
            _distance(source, gateway.position),
            rng,
            rssi_at_1m_dbm,
            wall_loss_db(plan, source, gateway.position),
        )
        if rssi is not None:
            heard.append((gateway.name, rssi))
    return heard


def _phone_channel(world: World, app_state: str) -> ChannelParams:
    window, interval = PHONE_SCAN_WINDOWS_S[app_state]
    return replace(world.channel, scan_window_s=window, scan_interval_s=interval)


def _beacon_air(
    world: World, second: int, rng: random.Random, present: Mapping[str, Point]
) -> AirSecond:
    adverts: list[AirAdvert] = []
    sightings: list[PhoneSighting] = []
    plan = world.scenario.floor_plan
    people = {p.name: p for p in world.scenario.people}
    fixed = [(b.spec.name, b.position, None) for b in plan.beacons]
    carried = [(p.tag.name, None, p.name) for p in world.scenario.people if p.tag is not None]
    listeners = [
        (people[name], position, _phone_channel(world, people[name].app_state))
        for name, position in present.items()
        if name in world.phones
    ]
    for beacon_name, mounted, carrier in fixed + carried:
        track = world.beacons[beacon_name]
        for event in track.events_between(second, second + 1):
            position = mounted if carrier is None else present.get(carrier)
            if position is None:
                continue
            unix_time = world.unix_start + event.t
            parts = frame_parts(track.spec, event, unix_time)
            rssi_1m = track.spec.rssi_at_1m_dbm
            for gateway, rssi in _gateway_hears(world, position, event.t, rng, rssi_1m):
                advert = parts.to_json(track.address, rssi)
                source = SOURCE_BEACON if carrier is None else SOURCE_TAG
                adverts.append(AirAdvert(unix_time, beacon_name, gateway, rssi, advert, source))
            if carrier is not None:
                continue
            beacon_id = frame_identifier(track.spec, event.frame, parts)
            for person, where, phone_channel in listeners:
                if beacon_id is None or not _phone_hears(person, event.frame):
                    continue
                phase = world.phones[person.name].address_offset_s
                if not in_scan_window(phone_channel, event.t, phase):
                    continue
                heard_rssi = received_rssi(
                    phone_channel,
                    _distance(position, where),
                    rng,
                    rssi_1m,
                    wall_loss_db(plan, position, where),
                )
                if heard_rssi is not None:
                    sightings.append(
                        PhoneSighting(
                            unix_time, person.name, beacon_name, beacon_id, event.frame, heard_rssi
                        )
                    )
    return AirSecond(adverts, sightings)


def air_at(world: World, second: int, rng: random.Random) -> AirSecond:
    """What gateways and phones hear during scenario second [second, second + 1), in time order."""
    heard: list[AirAdvert] = []
    present: dict[str, Point] = {}
    for person in world.scenario.people:
        phone = world.phones.get(person.name)
        if phone is None:
            if person.tag is not None:
                position = _present(world, person, second)
                if position is not None:
                    present[person.name] = position
            continue
        if not _phone_advertises(world, person, phone, second):
            position = _present(world, person, second)
            if position is not None:
                present[person.name] = position
            continue
        t = second + rng.uniform(0.0, ADVERT_JITTER_S)
        position = _present(world, person, t)
        if position is None:
            continue
        present[person.name] = position
        unix_time = world.unix_start + t
        eid = presence_eid(phone, unix_time)
        for gateway, rssi in _gateway_hears(world, position, t, rng):
            advert = presence_advert_from_eid(phone, unix_time, rssi, eid)
            heard.append(AirAdvert(unix_time, person.name, gateway, rssi, advert))
    beacons = _beacon_air(world, second, rng, present) if world.beacons else AirSecond([], [])
    heard.extend(beacons.adverts)
    heard.sort(key=lambda a: a.unix_time)
    sightings = sorted(beacons.sightings, key=lambda s: s.unix_time)
    return AirSecond(heard, sightings)


def presence_advert_from_eid(
    phone: PhoneRadio, unix_time: float, rssi: int, eid: bytes
) -> AdvertJson:
    """The presence advert carrying an already computed `eid`."""
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
    """Adverts heard by any gateway during scenario second [second, second + 1), in time order.

    Phone sightings of store beacons in that second go to `world.sighting_sink`, if set.
    """
    air = air_at(world, second, rng)
    if world.sighting_sink is not None:
        for sighting in air.sightings:
            world.sighting_sink(sighting)
    return air.adverts
