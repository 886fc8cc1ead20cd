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
    KIND_IBEACON,
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
from firmware_sim.radio import ChannelParams, ShadowingField, in_scan_window, received_rssi
from firmware_sim.scenario import (
    ADVERTISE_BALANCED,
    ADVERTISE_LOW_LATENCY,
    ADVERTISE_LOW_POWER,
    APP_BACKGROUND,
    APP_FOREGROUND,
    CARRY_BACK_POCKET,
    CARRY_BAG,
    CARRY_FRONT_POCKET,
    CARRY_HAND,
    PLATFORM_IOS,
    FloorPlan,
    Person,
    Point,
    Scenario,
    Wall,
)
from firmware_sim.wire import AdvertJson

# Android advertising intervals of the AdvertiseSettings modes: ADVERTISE_MODE_LOW_LATENCY
# ~100 ms, BALANCED ~250 ms, LOW_POWER ~1 s (AOSP android.bluetooth.le.AdvertisingSetParameters
# INTERVAL_LOW = 160, INTERVAL_MEDIUM = 400, INTERVAL_HIGH = 1600 units of 0.625 ms, which
# the legacy AdvertiseSettings modes map to).
ADVERTISE_INTERVAL_S: Mapping[str, float] = {
    ADVERTISE_LOW_LATENCY: 0.100,
    ADVERTISE_BALANCED: 0.250,
    ADVERTISE_LOW_POWER: 1.000,
}
# Random delay added to each phone advert: BLE's advDelay, 0-10 ms (Core spec Vol 6 Part B 4.4.2.2).
ADVERT_JITTER_S = 0.010
# The Eddystone tx_power field the app advertises: calibrated power at 0 m
# (RSSI at 1 m is about 41 dB lower).
PHONE_TX_POWER_DBM = -20
# Phones rotate their resolvable private address about every 15 minutes (Android and iOS default).
ADDRESS_ROTATION_S = 15 * 60
# Anyone within this distance of the entrance point is "at the entrance" (a door plus a step).
ENTRANCE_RADIUS_M = 1.5
# How an Android app scans for store beacons, (window, interval) in seconds. Foreground:
# SCAN_MODE_LOW_LATENCY, 100 ms / 100 ms; background: SCAN_MODE_SCREEN_OFF_LOW_POWER,
# 512 ms / 10.24 s (AOSP packages/modules/Bluetooth, ScanManager).
ANDROID_SCAN_WINDOWS_S: Mapping[str, tuple[float, float]] = {
    APP_FOREGROUND: (0.100, 0.100),
    APP_BACKGROUND: (0.512, 10.24),
}
# iOS hears the store through Core Location only: ranging (CLLocationManager.startRangingBeacons)
# and region monitoring see iBeacon frames of the monitored UUID, nothing else; the radio scans
# continuously while ranging and with hardware filters while monitoring (the wake-up delay
# below stands for the rest).
IOS_SCAN_WINDOW_S = (0.100, 0.100)
# Ranging delivers didRangeBeacons once a second, each beacon with the RSSI averaged over the
# samples of that second (CLBeacon.rssi, Apple documentation).
RANGING_PERIOD_S = 1
# Region monitoring in the background: "usually iPhone 5 and later trigger in the background
# within a second of seeing a beacon. But sometimes it takes longer. Much longer": regions
# beyond the device-wide ~30 of the priority group are served best effort, up to 15 minutes
# (Radius Networks, "Background Monitoring of Beacon Regions on iOS", 2018; D. G. Young,
# "Beacon Monitoring in the Background and Foreground", 2013). Modelled as a log-normal delay
# with a 1 s median (p95 ~3 s) and, with REGION_SLOW_SHARE, a best-effort delay of 1-15 min
# (placeholder share: how many other beacon apps a shopper has installed is not known). A slow
# detection happens at one of iOS's later scans, so only while the store is still heard: a
# shopper who has walked out of range by then is never told to have entered (the region is
# then armed again by the next advert heard).
REGION_WAKE_MEDIAN_S = 1.0
REGION_WAKE_SIGMA = 0.7
REGION_SLOW_SHARE = 0.1
REGION_SLOW_S = (60.0, 900.0)
# A region is left when no beacon of it has been heard for "usually up to 10 s, but up to
# 30 s" (C. Gilchrist, Learning iBeacon, Packt 2014, ch. 5): drawn uniformly in between.
REGION_EXIT_S = (10.0, 30.0)
# What the app sends on a region event (docs/protocol.md, `POST /api/v1/me/sightings`): `enter`
# when woken on entering, `exit` when woken on leaving, each at the moment Core Location
# decided it, with the sightings it ranged meanwhile (none, on leaving).
REGION_ENTER = "enter"
REGION_EXIT = "exit"
# An app woken by a region event runs about 10 s in the background (Apple: "the app is given
# around 10 seconds"); it ranges meanwhile and reports what it ranged. An app may ask for more
# with a background task (UIApplication.beginBackgroundTask): 180 s through iOS 12 (D. G.
# Young and S. Yoder, "Extending Background Ranging on iOS", Radius Networks 2014), on later
# versions what `backgroundTimeRemaining` grants. The app modelled here does not ask;
# `python -m bench accuracy --ios-background-ranging-s 30` measures what asking would give.
BACKGROUND_RANGING_S = 10.0
# Every report of beacon sightings reaches the server over HTTPS on the shopper's mobile data:
# an LTE round trip of 30-60 ms (Opensignal) times the few round trips of a resumed TLS
# connection plus a cold radio's promotion (~100-300 ms on LTE, 3GPP RRC idle to connected)
# gives a few hundred ms; log-normal, median 0.3 s, sigma 0.7 (p95 ~1 s), placeholder.
REPORT_DELAY_MEDIAN_S = 0.3
REPORT_DELAY_SIGMA = 0.7
# Body loss at 2.4 GHz by how the phone is carried: (loss on the open side, extra loss when the
# body is between phone and antenna, where the open side faces relative to the walking
# direction). A human torso shadows 2.45 GHz by 10-20 dB (Ghaddar et al., "A conducting
# cylinder for modeling human body presence in indoor propagation channel", IEEE TAP 2007);
# a phone against the body loses a few dB more (near-field detuning). Placeholders within
# those ranges. Where phones are carried: trouser pockets for most men, bags for most women
# (Ichikawa, Chipchase, Grignani, "Where's the phone?", 2005).
BODY_LOSS_DB: Mapping[str, tuple[float, float, float]] = {
    CARRY_HAND: (0.0, 10.0, 0.0),
    CARRY_FRONT_POCKET: (3.0, 12.0, 0.0),
    CARRY_BACK_POCKET: (3.0, 12.0, math.pi),
    CARRY_BAG: (2.0, 8.0, math.pi / 2),
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
    # When the report carrying it reaches the server (network delay after `unix_time`).
    received_at: float = 0.0


@dataclass(frozen=True)
class RegionEvent:
    """Core Location woke the app on entering or leaving the store's iBeacon region; the app
    reports it (with its app state) over the API."""

    unix_time: float
    person: str
    event: str  # REGION_ENTER | REGION_EXIT
    app_state: str
    # When the report carrying it reaches the server (network delay after `unix_time`).
    received_at: float


@dataclass
class RegionMonitor:
    """An iPhone's Core Location view of the store's iBeacon region, with the app asleep."""

    inside: bool = False
    wake_at: float | None = None
    last_heard: float | None = None
    exit_after_s: float = 0.0
    ranging_until: float = -math.inf


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
    # Shadowing around each fixed antenna (gateways and store beacons), by name.
    shadowing: Mapping[str, ShadowingField] = field(default_factory=dict)
    # Background iPhones' region monitoring, by person (mutable: it carries over seconds).
    regions: dict[str, RegionMonitor] = field(default_factory=dict)
    region_uuids: frozenset[str] = frozenset()
    # How long a background iPhone's app ranges after each region event (BACKGROUND_RANGING_S).
    background_ranging_s: float = BACKGROUND_RANGING_S


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
    # Region events the phones' apps report (background iPhones), in time order.
    regions: list[RegionEvent] = field(default_factory=list)


def build_world(
    scenario: Scenario,
    phone_keys: Mapping[str, PhoneKey],
    channel: ChannelParams,
    unix_start: float,
    rng: random.Random,
    sighting_sink: Callable[[PhoneSighting], None] | None = None,
    background_ranging_s: float = BACKGROUND_RANGING_S,
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
    plan = scenario.floor_plan
    specs = [b.spec for b in plan.beacons]
    specs += [p.tag for p in scenario.people if p.tag is not None]
    antennas = [g.name for g in plan.gateways] + [b.spec.name for b in plan.beacons]
    return World(
        scenario=scenario,
        phones=phones,
        channel=channel,
        unix_start=unix_start,
        beacons={spec.name: BeaconTrack(spec, rng.getrandbits(64)) for spec in specs},
        gateway_scan_phase_s={
            g.name: rng.uniform(0.0, channel.scan_interval_s) for g in plan.gateways
        },
        spans={p.name: (p.start_s, script_end_s(p)) for p in scenario.people},
        sighting_sink=sighting_sink,
        shadowing={
            name: ShadowingField(channel.shadowing_sigma_db, channel.shadowing_decorrelation_m, rng)
            for name in antennas
        },
        regions={
            p.name: RegionMonitor()
            for p in scenario.people
            if p.phone is not None and p.platform == PLATFORM_IOS and p.app_state == APP_BACKGROUND
        },
        region_uuids=frozenset(
            b.spec.ids.uuid
            for b in plan.beacons
            if b.spec.kind == KIND_IBEACON and b.spec.ids.uuid is not None
        ),
        background_ranging_s=background_ranging_s,
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


def pose_at(person: Person, t: float) -> tuple[Point, float] | None:
    """Where the person is at scenario time `t` and which way they face (radians), or None.

    Someone standing still faces the way they last walked.
    """
    elapsed = t - person.start_s
    if elapsed < 0:
        return None
    previous = person.waypoints[0].position
    heading = 0.0
    for waypoint in person.waypoints:
        target = waypoint.position
        length = _distance(previous, target)
        if length > 0:
            heading = math.atan2(target.y - previous.y, target.x - previous.x)
        leg_s = length / person.speed_m_s
        if elapsed < leg_s:
            share = elapsed / leg_s
            point = Point(
                previous.x + (target.x - previous.x) * share,
                previous.y + (target.y - previous.y) * share,
            )
            return point, heading
        elapsed -= leg_s
        if elapsed < waypoint.dwell_s:
            return target, heading
        elapsed -= waypoint.dwell_s
        previous = target
    return None


def position_at(person: Person, t: float) -> Point | None:
    """Where the person is at scenario time `t`, or None before they appear or after they leave."""
    pose = pose_at(person, t)
    return None if pose is None else pose[0]


def body_loss_db(person: Person, heading: float, at: Point, other: Point) -> float:
    """Loss through the carrier's body on the path from their phone at `at` to `other`."""
    near, behind, facing = BODY_LOSS_DB[person.carry]
    bearing = math.atan2(other.y - at.y, other.x - at.x)
    return near + behind * (1.0 - math.cos(bearing - heading - facing)) / 2.0


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


@dataclass(frozen=True)
class _Carrier:
    """A person in the scene this second, as far as the radio cares."""

    person: Person
    position: Point
    heading: float


def _present(world: World, person: Person, t: float) -> tuple[Point, float] | None:
    start, end = world.spans.get(person.name, (person.start_s, math.inf))
    if not start <= t < end:
        return None
    return pose_at(person, t)


def advert_times(person: Person, phone: PhoneRadio, second: int) -> list[float]:
    """Scenario times of the phone's EID adverts in [second, second + 1), before advDelay.

    An iPhone never advertises one; an Android phone at its AdvertiseSettings mode's interval,
    in the background only while its foreground service runs.
    """
    if not person.advertises:
        return []
    interval = ADVERTISE_INTERVAL_S[person.advertise_mode]
    # Each phone starts advertising at its own phase.
    phase = phone.address_offset_s % interval
    first = math.ceil((second - phase) / interval)
    times = []
    k = first
    while (t := phase + k * interval) < second + 1:
        times.append(t)
        k += 1
    return times


def _hears_frame(person: Person, frame: str) -> bool:
    # A TLM frame names no beacon; iOS sees iBeacon frames only (Core Location).
    if frame == FRAME_TLM:
        return False
    return person.platform != PLATFORM_IOS or frame == FRAME_IBEACON


def _listening_channel(world: World, person: Person) -> ChannelParams:
    if person.platform == PLATFORM_IOS:
        window, interval = IOS_SCAN_WINDOW_S
    else:
        window, interval = ANDROID_SCAN_WINDOWS_S[person.app_state]
    return replace(world.channel, scan_window_s=window, scan_interval_s=interval)


def _link_rssi(
    world: World,
    channel: ChannelParams,
    antenna: str,
    antenna_at: Point,
    mobile_at: Point,
    rng: random.Random,
    rssi_at_1m_dbm: float | None,
    carrier: _Carrier | None,
) -> int | None:
    """One packet between a fixed antenna and a point (a phone, a tag or another antenna)."""
    body = 0.0
    if carrier is not None:
        body = body_loss_db(carrier.person, carrier.heading, mobile_at, antenna_at)
    distance = _distance(mobile_at, antenna_at)
    field_ = world.shadowing.get(antenna)
    shadowing = field_.at(mobile_at.x, mobile_at.y) if field_ is not None else 0.0
    # Shadowing comes from what stands between the two ends; within a decorrelation distance
    # of the antenna, in plain line of sight, there is little: the offset fades in over it.
    shadowing *= min(1.0, distance / channel.shadowing_decorrelation_m)
    return received_rssi(
        channel,
        distance,
        rng,
        rssi_at_1m_dbm,
        wall_loss_db(world.scenario.floor_plan, mobile_at, antenna_at),
        shadowing,
        body,
    )


def _gateway_hears(
    world: World,
    source: Point,
    t: float,
    rng: random.Random,
    rssi_at_1m_dbm: float | None = None,
    carrier: _Carrier | None = None,
) -> list[tuple[str, int]]:
    heard: list[tuple[str, int]] = []
    channel = world.channel
    for gateway in world.scenario.floor_plan.gateways:
        if not in_scan_window(channel, t, world.gateway_scan_phase_s.get(gateway.name, 0.0)):
            continue
        rssi = _link_rssi(
            world, channel, gateway.name, gateway.position, source, rng, rssi_at_1m_dbm, carrier
        )
        if rssi is not None:
            heard.append((gateway.name, rssi))
    return heard


def report_delay_s(rng: random.Random) -> float:
    """How long a phone's report takes to reach the server (log-normal, see the constants)."""
    return REPORT_DELAY_MEDIAN_S * math.exp(rng.gauss(0.0, REPORT_DELAY_SIGMA))


def region_wake_delay_s(rng: random.Random) -> float:
    """How long after first hearing the store iOS wakes a background app (see the constants)."""
    if rng.random() < REGION_SLOW_SHARE:
        return rng.uniform(*REGION_SLOW_S)
    return REGION_WAKE_MEDIAN_S * math.exp(rng.gauss(0.0, REGION_WAKE_SIGMA))


@dataclass
class _Ranged:
    """What one iPhone ranged during one second: RSSI samples per beacon, last region advert."""

    samples: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    region_heard: list[float] = field(default_factory=list)


def _beacon_air(
    world: World, second: int, rng: random.Random, present: Mapping[str, _Carrier]
) -> AirSecond:
    adverts: list[AirAdvert] = []
    sightings: list[PhoneSighting] = []
    ranged: dict[str, _Ranged] = {name: _Ranged() for name in world.regions}
    plan = world.scenario.floor_plan
    fixed = [(b.spec.name, b.position, None) for b in plan.beacons]
    carried = [(p.tag.name, None, p.name) for p in world.scenario.people if p.tag is not None]
    listeners = [
        (carrier, _listening_channel(world, carrier.person))
        for name, carrier in present.items()
        if name in world.phones
    ]
    for beacon_name, mounted, carrier_name in fixed + carried:
        track = world.beacons[beacon_name]
        for event in track.events_between(second, second + 1):
            if mounted is not None:
                position = mounted
            elif (holder := present.get(carrier_name or "")) is not None:
                position = holder.position
            else:
                continue
            unix_time = world.unix_start + event.t
            parts = frame_parts(track.spec, event, unix_time)
            rssi_1m = track.spec.rssi_at_1m_dbm
            for gateway, rssi in _gateway_hears(world, position, event.t, rng, rssi_1m):
                advert = parts.to_json(track.address, rssi)
                source = SOURCE_BEACON if carrier_name is None else SOURCE_TAG
                adverts.append(AirAdvert(unix_time, beacon_name, gateway, rssi, advert, source))
            if carrier_name is not None:
                continue
            beacon_id = frame_identifier(track.spec, event.frame, parts)
            for listener, channel in listeners:
                person = listener.person
                if beacon_id is None or not _hears_frame(person, event.frame):
                    continue
                phase = world.phones[person.name].address_offset_s
                if not in_scan_window(channel, event.t, phase):
                    continue
                heard_rssi = _link_rssi(
                    world, channel, beacon_name, position, listener.position, rng, rssi_1m, listener
                )
                if heard_rssi is None:
                    continue
                if person.platform == PLATFORM_IOS:
                    # Core Location hands over one averaged reading per beacon per second.
                    iphone = ranged.setdefault(person.name, _Ranged())
                    key = (beacon_name, beacon_id)
                    iphone.samples.setdefault(key, []).append(heard_rssi)
                    if track.spec.ids.uuid in world.region_uuids:
                        iphone.region_heard.append(unix_time)
                    continue
                sightings.append(
                    PhoneSighting(
                        unix_time,
                        person.name,
                        beacon_name,
                        beacon_id,
                        event.frame,
                        heard_rssi,
                        unix_time + report_delay_s(rng),
                    )
                )
    ranged_reports, regions = _ranging_reports(world, second, rng, ranged)
    return AirSecond(adverts, sightings + ranged_reports, regions)


def _ranging(
    world: World, name: str, second: int, heard: _Ranged, rng: random.Random
) -> tuple[bool, list[RegionEvent]]:
    """Whether the iPhone's app ranges during this second (background apps per region events),
    and the region events Core Location decided during it."""
    monitor = world.regions.get(name)
    if monitor is None:
        return True, []  # the app is in the foreground and ranges all the time
    end = world.unix_start + second + RANGING_PERIOD_S
    events: list[RegionEvent] = []
    if heard.region_heard:
        monitor.last_heard = max(heard.region_heard)
        if not monitor.inside and monitor.wake_at is None:
            monitor.wake_at = min(heard.region_heard) + region_wake_delay_s(rng)
    if not monitor.inside and monitor.wake_at is not None and monitor.wake_at < end:
        wake_at, monitor.wake_at = monitor.wake_at, None
        last = monitor.last_heard
        if last is not None and wake_at - last <= REGION_EXIT_S[0]:
            # Still in range when iOS decides (see REGION_WAKE_MEDIAN_S): entered.
            monitor.inside, monitor.ranging_until = True, wake_at + world.background_ranging_s
            monitor.exit_after_s = rng.uniform(*REGION_EXIT_S)
            events.append(_region_event(name, REGION_ENTER, wake_at, rng))
    last = monitor.last_heard
    if monitor.inside and last is not None and end - last > monitor.exit_after_s:
        monitor.inside = False
        left_at = last + monitor.exit_after_s
        monitor.ranging_until = left_at + world.background_ranging_s
        events.append(_region_event(name, REGION_EXIT, left_at, rng))
    return end <= monitor.ranging_until + RANGING_PERIOD_S, events


def _region_event(name: str, event: str, unix_time: float, rng: random.Random) -> RegionEvent:
    """The app's report of a region event, sent at once (background: the app was just woken)."""
    return RegionEvent(unix_time, name, event, APP_BACKGROUND, unix_time + report_delay_s(rng))


def _ranging_reports(
    world: World, second: int, rng: random.Random, ranged: Mapping[str, _Ranged]
) -> tuple[list[PhoneSighting], list[RegionEvent]]:
    reports: list[PhoneSighting] = []
    regions: list[RegionEvent] = []
    callback_at = world.unix_start + second + RANGING_PERIOD_S
    for name, heard in sorted(ranged.items()):
        ranging, events = _ranging(world, name, second, heard, rng)
        regions += events
        if not ranging or not heard.samples:
            continue
        arrives = callback_at + report_delay_s(rng)
        for (beacon, beacon_id), samples in sorted(heard.samples.items()):
            rssi = round(sum(samples) / len(samples))
            reports.append(
                PhoneSighting(callback_at, name, beacon, beacon_id, FRAME_IBEACON, rssi, arrives)
            )
    return reports, regions


def air_at(world: World, second: int, rng: random.Random) -> AirSecond:
    """What gateways and phones hear during scenario second [second, second + 1), in time order.

    Sightings are ordered by the time the phone saw them (`unix_time`); each carries the time
    its report reaches the server (`received_at`).
    """
    heard: list[AirAdvert] = []
    present: dict[str, _Carrier] = {}
    for person in world.scenario.people:
        phone = world.phones.get(person.name)
        if phone is None and person.tag is None:
            continue
        pose = _present(world, person, second)
        if pose is not None:
            present[person.name] = _Carrier(person, *pose)
        if phone is None:
            continue
        for advertised in advert_times(person, phone, second):
            t = advertised + rng.uniform(0.0, ADVERT_JITTER_S)
            moment = _present(world, person, t)
            if moment is None:
                continue
            carrier = _Carrier(person, *moment)
            unix_time = world.unix_start + t
            eid = presence_eid(phone, unix_time)
            for gateway, rssi in _gateway_hears(world, carrier.position, t, rng, None, carrier):
                advert = presence_advert_from_eid(phone, unix_time, rssi, eid)
                heard.append(AirAdvert(unix_time, person.name, gateway, rssi, advert))
    beacons = _beacon_air(world, second, rng, present) if world.beacons else AirSecond([], [])
    heard.extend(beacons.adverts)
    heard.sort(key=lambda a: a.unix_time)
    sightings = sorted(beacons.sightings, key=lambda s: s.unix_time)
    regions = sorted(beacons.regions, key=lambda r: r.unix_time)
    return AirSecond(heard, sightings, regions)


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
