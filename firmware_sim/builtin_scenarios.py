"""The named scenarios shipped with the simulator, written in the scenario file format."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

from firmware_sim.scenario import Scenario, ScenarioError, scenario_from_dict

# Placeholder wall losses at 2.4 GHz, typical of WLAN planning tables, until measured in a
# store: clear (not low-E) shop-front glass, interior plasterboard, exterior masonry.
GLASS_FRONT_DB = 3.0
PLASTERBOARD_DB = 3.0
MASONRY_DB = 10.0
# An open automatic doorway attenuates nothing; a closed stockroom door about as much as the
# plasterboard around it (placeholder).
OPEN_DOORWAY_DB = 0.0
STOCKROOM_DOOR_DB = 3.0

# The reference store: 20 m x 15 m, front wall on y = 0 with a 2 m door at x = 9..11, a
# stockroom behind a plasterboard wall on y = 13 (door at x = 16..18); street at y < 0.
STORE_WALLS: list[dict[str, Any]] = [
    {"x0": 0, "y0": 0, "x1": 9, "y1": 0, "attenuation_db": GLASS_FRONT_DB},
    {"x0": 9, "y0": 0, "x1": 11, "y1": 0, "attenuation_db": OPEN_DOORWAY_DB, "door": True},
    {"x0": 11, "y0": 0, "x1": 20, "y1": 0, "attenuation_db": GLASS_FRONT_DB},
    {"x0": 0, "y0": 0, "x1": 0, "y1": 15, "attenuation_db": MASONRY_DB},
    {"x0": 20, "y0": 0, "x1": 20, "y1": 15, "attenuation_db": MASONRY_DB},
    {"x0": 0, "y0": 15, "x1": 20, "y1": 15, "attenuation_db": MASONRY_DB},
    {"x0": 0, "y0": 13, "x1": 16, "y1": 13, "attenuation_db": PLASTERBOARD_DB},
    {"x0": 16, "y0": 13, "x1": 18, "y1": 13, "attenuation_db": STOCKROOM_DOOR_DB, "door": True},
    {"x0": 18, "y0": 13, "x1": 20, "y1": 13, "attenuation_db": PLASTERBOARD_DB},
]

STORE_LAYOUT: dict[str, Any] = {
    "outline": {"x0": 0, "y0": 0, "x1": 20, "y1": 15},
    "entrance": {"x": 10, "y": 0},
    "zones": [
        {"name": "dresses", "x0": 2, "y0": 6, "x1": 8, "y1": 12},
        {"name": "shoes", "x0": 12, "y0": 6, "x1": 18, "y1": 12},
        {"name": "stockroom", "x0": 0, "y0": 13, "x1": 20, "y1": 15},
    ],
    "bays": [{"name": "bay-1", "x0": 23.5, "y0": -8.5, "x1": 26.5, "y1": -3.5}],
    "gateways": [
        {"name": "gw-entrance", "x": 10, "y": 0.5},
        {"name": "gw-floor", "x": 10, "y": 10},
    ],
    "walls": STORE_WALLS,
}

# The store's fixed beacons; identifiers match store_server's demo seeding (DEMO_BEACONS).
STORE_UUID = "fda50693-a4e2-4fb1-afcf-c6eb07647825"
STORE_NAMESPACE = "12345678901234678901"
# A TLM every tenth advert: health every ~10 s at 1 s, without starving the identity frame.
_TLM_EVERY_10TH = ["ibeacon"] * 9 + ["tlm"]


def _store_ibeacon(
    name: str, x: float, y: float, major: int, minor: int, interval_ms: int = 1000
) -> dict[str, Any]:
    """One of a store's iBeacons (the store's UUID, a TLM every tenth advert)."""
    return {
        "name": name,
        "kind": "ibeacon",
        "x": x,
        "y": y,
        "uuid": STORE_UUID,
        "major": major,
        "minor": minor,
        "interval_ms": interval_ms,
        "frames": _TLM_EVERY_10TH,
    }


STORE_BEACONS: list[dict[str, Any]] = [
    _store_ibeacon("bcn-entrance", 11.5, 0.3, 1, 1, 350),
    _store_ibeacon("bcn-dresses", 5, 9, 1, 2),
    {
        "name": "bcn-shoes",
        "kind": "eddystone",
        "x": 15,
        "y": 9,
        "namespace": STORE_NAMESPACE,
        "instance": "000000000003",
        "url": "https://example.com/shoes",
        "interval_ms": 1000,
        "frames": ["uid"] * 4 + ["url"] + ["uid"] * 4 + ["tlm"],
    },
    {
        "name": "bcn-till",
        "kind": "altbeacon",
        "x": 17,
        "y": 2,
        "id1": "2f234454-cf6d-4a0f-adf2-f4911ba9ffa6",
        "id2": 1,
        "id3": 4,
        "interval_ms": 1000,
        "tx_power_dbm": -4,
        "temperature_c": None,
    },
]
STORE_WITH_BEACONS: dict[str, Any] = {**STORE_LAYOUT, "beacons": STORE_BEACONS}
# The door's centre line and the points just outside and inside it every shopper walks through.
DOOR_X = 10.0
OUTSIDE_DOOR_Y = -1.5
INSIDE_DOOR_Y = 1.5
# Pavement between the shop front and the curbside bays (bay-1 starts at y = -3.5).
PAVEMENT_Y = (-3.3, -2.0)
# Where people walk on from and off to, well beyond gateway range on both sides.
STREET_X = (-15.0, 35.0)
# The stockroom door's centre line and the points either side of it.
STOCKROOM_DOOR = ({"x": 17, "y": 12.5}, {"x": 17, "y": 13.5})

# Maria: from the street 8 m out straight to the door (under 7 s at 1.2 m/s), then waits. She
# has the order's pickup screen open, where the app asks for ADVERTISE_MODE_LOW_LATENCY: the
# moment it wants to be noticed fastest.
_MARIA_PICKUP_AT_DOOR: dict[str, Any] = {
    "name": "maria",
    "phone": "maria",
    "advertise_mode": "low_latency",
    "speed_m_s": 1.2,
    "waypoints": [
        {"x": 10, "y": -8, "dwell_s": 0},
        {"x": 10, "y": -0.5, "dwell_s": 60},
        {"x": 10, "y": -8, "dwell_s": 0},
    ],
}

# A passer-by on the pavement 7 m from gw-entrance, left to right, never near the door or bay.
_PASSER_BY: dict[str, Any] = {
    "name": "passer",
    "phone": "passer",
    "walk_by": True,
    "speed_m_s": 1.3,
    "waypoints": [{"x": -15, "y": -6.5, "dwell_s": 0}, {"x": 20, "y": -6.5, "dwell_s": 0}],
}

# Leo: walks in, browses dresses, looks at shoes, leaves.
_LEO_BROWSES: dict[str, Any] = {
    "name": "leo",
    "phone": "leo",
    "start_s": 30,
    "speed_m_s": 1.0,
    "waypoints": [
        {"x": 4, "y": -5, "dwell_s": 0},
        {"x": 10, "y": -1, "dwell_s": 0},
        {"x": 10, "y": 3, "dwell_s": 0},
        {"x": 5, "y": 9, "dwell_s": 90},
        {"x": 15, "y": 9, "dwell_s": 40},
        {"x": 10, "y": 3, "dwell_s": 0},
        {"x": 10, "y": -1, "dwell_s": 0},
        {"x": 16, "y": -5, "dwell_s": 0},
    ],
}


# Ana: walks in a while after Leo, lingers at the dresses rail for a minute, leaves.
_ANA_LINGERS: dict[str, Any] = {
    "name": "ana",
    "phone": "ana",
    "start_s": 75,
    "speed_m_s": 1.1,
    "waypoints": [
        {"x": 16, "y": -5, "dwell_s": 0},
        {"x": 10, "y": -1, "dwell_s": 0},
        {"x": 10, "y": 3, "dwell_s": 0},
        {"x": 7, "y": 9, "dwell_s": 60},
        {"x": 10, "y": 3, "dwell_s": 0},
        {"x": 10, "y": -1, "dwell_s": 0},
        {"x": 4, "y": -5, "dwell_s": 0},
    ],
}


def _stop(x: float, y: float, dwell_s: float = 0) -> dict[str, Any]:
    return {"x": round(x, 2), "y": round(y, 2), "dwell_s": round(dwell_s)}


def _through_door_in(x: float = DOOR_X) -> list[dict[str, Any]]:
    return [_stop(x, OUTSIDE_DOOR_Y), _stop(x, INSIDE_DOOR_Y)]


def _through_door_out(x: float = DOOR_X) -> list[dict[str, Any]]:
    return [_stop(x, INSIDE_DOOR_Y), _stop(x, OUTSIDE_DOOR_Y)]


# Nina browses with the app open; Omar's iPhone has the app in the background (heard only
# through the beacons his phone hears).
_NINA_BROWSES: dict[str, Any] = {
    "name": "nina",
    "phone": "nina",
    "start_s": 5,
    "waypoints": [
        _stop(-2, -2.5),
        *_through_door_in(),
        _stop(4, 8, 60),
        _stop(6, 10, 20),
        _stop(15, 8, 45),
        *_through_door_out(),
        _stop(25, -2.5),
    ],
}
_OMAR_BROWSES: dict[str, Any] = {
    "name": "omar",
    "phone": "omar",
    "platform": "ios",
    "app_state": "background",
    "start_s": 40,
    "speed_m_s": 1.0,
    "waypoints": [
        _stop(28, -2.5),
        *_through_door_in(),
        _stop(14, 7, 90),
        _stop(17, 3, 30),
        *_through_door_out(),
        _stop(-5, -2.5),
    ],
}
# Dora lingers six minutes at the dresses rail, drifting between three spots.
_DORA_DWELLS: dict[str, Any] = {
    "name": "dora",
    "phone": "dora",
    "start_s": 5,
    "speed_m_s": 1.0,
    "waypoints": [
        _stop(-3, -2.5),
        *_through_door_in(),
        _stop(4, 8, 120),
        _stop(6, 10, 120),
        _stop(3, 11, 120),
        *_through_door_out(),
        _stop(-3, -2.5),
    ],
}
# Carla drives into bay-1 for a curbside pickup: her car's iBeacon tag is heard; her iPhone,
# app in the background, does not advertise. Dan comes later with an Android phone.
_CAR_SPEED_M_S = 3.0
_CARLA_CURBSIDE: dict[str, Any] = {
    "name": "carla",
    "phone": "carla",
    "platform": "ios",
    "app_state": "background",
    "start_s": 10,
    "speed_m_s": _CAR_SPEED_M_S,
    "tag": {
        "kind": "ibeacon",
        "uuid": "e2c56db5-dffb-48d2-b060-d0f5a71096e0",
        "major": 7,
        "minor": 1,
        "interval_ms": 500,
    },
    "waypoints": [_stop(45, -6), _stop(25, -6, 300), _stop(45, -6)],
}
_DAN_CURBSIDE: dict[str, Any] = {
    "name": "dan",
    "phone": "dan",
    "app_state": "background",
    "start_s": 360,
    "speed_m_s": _CAR_SPEED_M_S,
    "waypoints": [_stop(45, -6), _stop(25, -6, 240), _stop(45, -6)],
}
# Staff work an eight-hour shift on the floor and in the stockroom.
STAFF_SHIFT_S = 8 * 3600
STAFF_SEED = 11
STAFF_OVERTIME_S = 1800
_FLOOR_SPOTS = [(5, 9), (15, 9), (17, 3), (10, 4), (3, 3), (12, 11)]


def _staff_route(rng: random.Random, shift_s: float) -> list[dict[str, Any]]:
    """Waypoints for a shift: floor spots and stockroom visits, always through the doors."""
    route = [_stop(10, 14, rng.uniform(60, 300))]
    in_stockroom, elapsed = True, 0.0
    while elapsed < shift_s:
        to_stockroom = not in_stockroom and rng.random() < 0.2
        if in_stockroom or to_stockroom:
            inner, outer = STOCKROOM_DOOR[1], STOCKROOM_DOOR[0]
            route += [_stop(inner["x"], inner["y"]), _stop(outer["x"], outer["y"])]
            if to_stockroom:
                route[-2:] = route[-2:][::-1]
                route.append(_stop(rng.uniform(2, 18), rng.uniform(13.5, 14.5), 300))
                elapsed += 300
                in_stockroom = True
                continue
            in_stockroom = False
        x, y = rng.choice(_FLOOR_SPOTS)
        dwell = rng.uniform(120, 900)
        route.append(_stop(x + rng.uniform(-1, 1), y + rng.uniform(-1, 1), dwell))
        elapsed += dwell + 20
    # Walking time is only estimated above: the last stop lasts past the end of the shift.
    route[-1]["dwell_s"] += STAFF_OVERTIME_S
    return route


def staff_document(seed: int = STAFF_SEED) -> dict[str, Any]:
    """The `staff` scenario: three staff phones on the floor all day, the fixed beacons."""
    rng = random.Random(seed)  # noqa: S311 - scenario generation, reproducible by design
    people = [
        {
            "name": f"staff-{name}",
            "phone": f"staff-{name}",
            "staff": True,
            "speed_m_s": 1.1,
            "waypoints": _staff_route(rng, STAFF_SHIFT_S),
        }
        for name in ("anna", "ben", "chen")
    ]
    return {
        "name": "staff",
        "description": "three staff phones on the floor and in the stockroom for an 8-hour shift",
        "duration_s": STAFF_SHIFT_S,
        "store": STORE_WITH_BEACONS,
        "people": people,
    }


# The dying beacon keeps ~5 mC: at 1 s and ~17 uC a second it goes silent after ~5 minutes.
DYING_BEACON_REMAINING_MAH = 1.4e-3


def dying_beacon_document() -> dict[str, Any]:
    """The `dying-beacon` scenario: bcn-shoes' coin cell runs out about 5 minutes in."""
    beacons = [
        {**b, "battery": {"remaining_mah": DYING_BEACON_REMAINING_MAH}, "uptime_s": 3.2e7}
        if b["name"] == "bcn-shoes"
        else b
        for b in STORE_BEACONS
    ]
    return {
        "name": "dying-beacon",
        "description": "bcn-shoes' battery dies about 5 minutes in; nina browses shoes meanwhile",
        "duration_s": 600,
        "store": {**STORE_LAYOUT, "beacons": beacons},
        "people": [{**_NINA_BROWSES, "start_s": 200}],
    }


# busy-saturday: about 200 shoppers an hour walk in, more walk by (placeholder mix).
BUSY_SATURDAY_SEED = 2024
BUSY_SATURDAY_S = 3600
SHOPPERS_PER_HOUR = 200
WALK_BYS_PER_HOUR = 300


@dataclass(frozen=True)
class PlatformMix:
    """Who carries what, in a generated scenario (docs/scenarios.md, "Platform mix")."""

    # Placeholder: shoppers with the store app installed and presence opted in.
    app_share: float = 0.75
    # iOS's share of phones: StatCounter GlobalStats, mobile OS market share, Europe, 2024
    # (about 35 %; set it per scenario: the United States are above half).
    ios_share: float = 0.35
    # Placeholder: shoppers with the app open on screen while walking in.
    foreground_share: float = 0.2
    # Placeholder: Android apps in the background that keep a foreground service (and so keep
    # advertising); the others are cached by the OS and only scan.
    foreground_service_share: float = 0.5
    # Placeholder: shoppers carrying a registered key-fob tag.
    tag_share: float = 0.05
    # Where a phone not in hand is carried: trouser pockets for most men, bags for most women
    # (Ichikawa, Chipchase, Grignani, "Where's the phone?", 2005); a few hold it anyway.
    carry_shares: tuple[tuple[str, float], ...] = (
        ("hand", 0.1),
        ("front-pocket", 0.35),
        ("back-pocket", 0.1),
        ("bag", 0.45),
    )


DEFAULT_MIX = PlatformMix()
_INSIDE_SPOTS = ((2.5, 6.5, 7.5, 11.5), (12.5, 6.5, 17.5, 11.5), (1.5, 2.0, 18.5, 12.0))
# Where a shopper crosses the door, relative to its centre: inside a 2 m doorway with a margin.
DOOR_SPREAD_M = 0.6
# The pavement, as signed distances from the door along the store's inward normal (the
# reference store's y coordinates: its front wall is y = 0, the street at y < 0).
PAVEMENT_BAND = PAVEMENT_Y
# People walk on from and off to 25 m either side of the door, well beyond gateway range.
STREET_ENDS = (STREET_X[0] - DOOR_X, STREET_X[1] - DOOR_X)
# Drivers of curbside pickups: about 3 m/s (11 km/h) on the car park lane, waiting 2-8 minutes.
DRIVE_SPEED_M_S = (2.5, 3.5)
CURBSIDE_WAIT_S = (120, 480)
# Placeholder: share of curbside drivers whose car carries a registered iBeacon tag.
CAR_TAG_SHARE = 0.3
# Cars passing the bays without stopping, at town speed (30 km/h).
DRIVE_BY_SPEED_M_S = 8.3


@dataclass(frozen=True)
class Frontage:
    """Where a store meets its street: the door's centre and the way into the store.

    A point on the street side is `along` metres along the front from the door and `inward`
    metres into the store (negative: out on the pavement).
    """

    door: tuple[float, float]
    inward: tuple[float, float]

    def at(self, along: float, inward: float) -> tuple[float, float]:
        """The floor-plan point `along` the front and `inward` from the door."""
        (x, y), (ix, iy) = self.door, self.inward
        # The front runs at right angles to the inward normal: (iy, -ix).
        return (x + iy * along + ix * inward, y - ix * along + iy * inward)


@dataclass(frozen=True)
class Population:
    """How a generated scenario fills a store: arrivals, stops, phones, tags, cars."""

    frontage: Frontage
    inside_spots: tuple[tuple[float, float, float, float], ...]
    duration_s: float = BUSY_SATURDAY_S
    shoppers_per_hour: float = SHOPPERS_PER_HOUR
    walk_bys_per_hour: float = WALK_BYS_PER_HOUR
    # Curbside: the bays drivers park in (name, centre) and the lane they drive along.
    bays: tuple[tuple[str, float, float], ...] = ()
    lane_y: float = 0.0
    drivers_per_hour: float = 0.0
    drive_bys_per_hour: float = 0.0
    mix: PlatformMix = DEFAULT_MIX


REFERENCE_FRONTAGE = Frontage(door=(DOOR_X, 0.0), inward=(0.0, 1.0))


def _arrivals(rng: random.Random, per_hour: float, duration_s: float) -> list[float]:
    times: list[float] = []
    if per_hour <= 0:
        return times
    t = rng.expovariate(per_hour / 3600)
    while t < duration_s:
        times.append(t)
        t += rng.expovariate(per_hour / 3600)
    return times


def _phone_fields(rng: random.Random, name: str, mix: PlatformMix) -> dict[str, Any]:
    if rng.random() >= mix.app_share:
        return {"phone": None}
    platform = "ios" if rng.random() < mix.ios_share else "android"
    if rng.random() < mix.foreground_share:
        return {"phone": name, "platform": platform, "app_state": "foreground"}
    fields: dict[str, Any] = {"phone": name, "platform": platform, "app_state": "background"}
    service = rng.random() < mix.foreground_service_share
    if platform == "android":
        fields["foreground_service"] = service
    draw = rng.random()
    for carry, share in mix.carry_shares:
        if draw < share:
            fields["carry"] = carry
            break
        draw -= share
    return fields


def _at(frontage: Frontage, along: float, inward: float, dwell_s: float = 0) -> dict[str, Any]:
    x, y = frontage.at(along, inward)
    return _stop(x, y, dwell_s)


def _shopper(
    rng: random.Random, population: Population, index: int, start_s: float
) -> dict[str, Any]:
    name = f"shopper-{index:03d}"
    front = population.frontage
    door = rng.uniform(-DOOR_SPREAD_M, DOOR_SPREAD_M)
    enter_along, leave_along = rng.choice(STREET_ENDS), rng.choice(STREET_ENDS)
    stops = []
    for _ in range(rng.randint(1, 4)):
        x0, y0, x1, y1 = rng.choice(population.inside_spots)
        lingering = rng.random() < 0.1
        dwell = rng.uniform(300, 600) if lingering else rng.uniform(10, 240)
        stops.append(_stop(rng.uniform(x0, x1), rng.uniform(y0, y1), dwell))
    person: dict[str, Any] = {
        "name": name,
        "start_s": round(start_s, 1),
        "speed_m_s": round(rng.uniform(0.9, 1.4), 2),
        "waypoints": [
            _at(front, enter_along, rng.uniform(*PAVEMENT_BAND)),
            _at(front, door, OUTSIDE_DOOR_Y),
            _at(front, door, INSIDE_DOOR_Y),
            *stops,
            _at(front, door, INSIDE_DOOR_Y),
            _at(front, door, OUTSIDE_DOOR_Y),
            _at(front, leave_along, rng.uniform(*PAVEMENT_BAND)),
        ],
        **_phone_fields(rng, name, population.mix),
    }
    if rng.random() < population.mix.tag_share:
        person["tag"] = {
            "kind": "ibeacon",
            "uuid": "e2c56db5-dffb-48d2-b060-d0f5a71096e0",
            "major": 8,
            "minor": index,
        }
    return person


def _walk_by(
    rng: random.Random, population: Population, index: int, start_s: float
) -> dict[str, Any]:
    name = f"passer-{index:03d}"
    inward = rng.uniform(*PAVEMENT_BAND)
    ends = list(STREET_ENDS) if rng.random() < 0.5 else list(reversed(STREET_ENDS))
    front = population.frontage
    return {
        "name": name,
        "walk_by": True,
        "start_s": round(start_s, 1),
        "speed_m_s": round(rng.uniform(1.0, 1.6), 2),
        "waypoints": [_at(front, ends[0], inward), _at(front, ends[1], inward)],
        **_phone_fields(rng, name, population.mix),
    }


def _driver(
    rng: random.Random, population: Population, index: int, start_s: float
) -> dict[str, Any]:
    """A curbside pickup: drives along the lane, parks in a bay, waits, drives off."""
    name = f"driver-{index:03d}"
    _, x, y = rng.choice(population.bays)
    lane = population.lane_y
    ends = [x + along for along in STREET_ENDS]
    arrive, leave = rng.choice(ends), rng.choice(ends)
    person: dict[str, Any] = {
        "name": name,
        "start_s": round(start_s, 1),
        "speed_m_s": round(rng.uniform(*DRIVE_SPEED_M_S), 2),
        "waypoints": [
            _stop(arrive, lane),
            _stop(x, lane),
            _stop(x, y, rng.uniform(*CURBSIDE_WAIT_S)),
            _stop(x, lane),
            _stop(leave, lane),
        ],
        **_phone_fields(rng, name, population.mix),
    }
    if rng.random() < CAR_TAG_SHARE:
        person["tag"] = {
            "kind": "ibeacon",
            "uuid": "e2c56db5-dffb-48d2-b060-d0f5a71096e0",
            "major": 9,
            "minor": index,
            "interval_ms": 500,
        }
    return person


def _drive_by(
    rng: random.Random, population: Population, index: int, start_s: float
) -> dict[str, Any]:
    name = f"car-{index:03d}"
    x = population.bays[0][1]
    ends = [x + along for along in STREET_ENDS]
    if rng.random() < 0.5:
        ends.reverse()
    return {
        "name": name,
        "walk_by": True,
        "start_s": round(start_s, 1),
        "speed_m_s": DRIVE_BY_SPEED_M_S,
        "waypoints": [_stop(ends[0], population.lane_y), _stop(ends[1], population.lane_y)],
        **_phone_fields(rng, name, population.mix),
    }


def population_people(population: Population, seed: int) -> list[dict[str, Any]]:
    """Shoppers, walk-bys and (with bays) drivers and passing cars, generated from `seed`."""
    rng = random.Random(seed)  # noqa: S311 - scenario generation, reproducible by design
    duration = population.duration_s
    people = [
        _shopper(rng, population, i, t)
        for i, t in enumerate(_arrivals(rng, population.shoppers_per_hour, duration))
    ]
    people += [
        _walk_by(rng, population, i, t)
        for i, t in enumerate(_arrivals(rng, population.walk_bys_per_hour, duration))
    ]
    people += [
        _driver(rng, population, i, t)
        for i, t in enumerate(_arrivals(rng, population.drivers_per_hour, duration))
    ]
    people += [
        _drive_by(rng, population, i, t)
        for i, t in enumerate(_arrivals(rng, population.drive_bys_per_hour, duration))
    ]
    return people


def busy_saturday_document(seed: int = BUSY_SATURDAY_SEED) -> dict[str, Any]:
    """The `busy-saturday` scenario: an hour of Poisson arrivals, generated from `seed`."""
    population = Population(REFERENCE_FRONTAGE, _INSIDE_SPOTS)
    return {
        "name": "busy-saturday",
        "description": "an hour of ~200 shoppers and ~300 walk-bys, seeded, with the fixed beacons",
        "duration_s": BUSY_SATURDAY_S,
        "store": STORE_WITH_BEACONS,
        "people": population_people(population, seed),
    }


# Reference layouts beyond the reference store, each filled by a generated population.
LAYOUT_SEED = 2025
LAYOUT_DURATION_S = 1800

# door-pair: the reference store with its door watched from both sides, so the order in which
# the two gateways (and the two door beacons) hear a phone tells the direction of passage: one
# antenna 1.5 m inside the door, one under the canopy 1.5 m out on the pavement, and an iBeacon
# on the outside of the door frame next to the one inside.
DOOR_PAIR_STORE: dict[str, Any] = {
    **STORE_WITH_BEACONS,
    "gateways": [
        {"name": "gw-door-in", "x": 10, "y": 1.5},
        {"name": "gw-door-out", "x": 10, "y": -1.5},
        {"name": "gw-floor", "x": 10, "y": 10},
    ],
    "beacons": [
        *STORE_BEACONS,
        _store_ibeacon("bcn-door-out", 8.5, -0.3, 1, 9, 350),
    ],
}

# curbside-bays: the reference store with three pickup bays on the kerb to its right, a gateway
# on each bay's sign post at the pavement edge (passers on the pavement walk right under it),
# cars driving up the car-park lane at y = -11 and turning into a bay.
CURBSIDE_BAYS = (("bay-1", 25.0, -6.0), ("bay-2", 29.0, -6.0), ("bay-3", 33.0, -6.0))
CURBSIDE_LANE_Y = -11.0
CURBSIDE_STORE: dict[str, Any] = {
    **STORE_WITH_BEACONS,
    "bays": [
        {"name": name, "x0": x - 1.5, "y0": y - 2.5, "x1": x + 1.5, "y1": y + 2.5}
        for name, x, y in CURBSIDE_BAYS
    ],
    "gateways": [
        *STORE_LAYOUT["gateways"],
        *({"name": f"gw-{name}", "x": x, "y": -3.4} for name, x, _ in CURBSIDE_BAYS),
    ],
}

# long-narrow: another shape and size: 30 m deep and 8 m wide, the street along its short west
# wall (x < 0), the door near one corner of it (y = 5..7), three zones one behind the other,
# a gateway by the door and two down the long floor.
LONG_NARROW_DOOR = (0.0, 6.0)
LONG_NARROW_FRONTAGE = Frontage(door=LONG_NARROW_DOOR, inward=(1.0, 0.0))
LONG_NARROW_STORE: dict[str, Any] = {
    "outline": {"x0": 0, "y0": 0, "x1": 30, "y1": 8},
    "entrance": {"x": LONG_NARROW_DOOR[0], "y": LONG_NARROW_DOOR[1]},
    "zones": [
        {"name": "books", "x0": 3, "y0": 1, "x1": 11, "y1": 7},
        {"name": "music", "x0": 13, "y0": 1, "x1": 21, "y1": 7},
        {"name": "cafe", "x0": 23, "y0": 0, "x1": 30, "y1": 8},
    ],
    "bays": [],
    "gateways": [
        {"name": "gw-entrance", "x": 0.5, "y": 6},
        {"name": "gw-middle", "x": 12, "y": 4},
        {"name": "gw-back", "x": 26, "y": 4},
    ],
    "walls": [
        {"x0": 0, "y0": 0, "x1": 0, "y1": 5, "attenuation_db": GLASS_FRONT_DB},
        {"x0": 0, "y0": 5, "x1": 0, "y1": 7, "attenuation_db": OPEN_DOORWAY_DB, "door": True},
        {"x0": 0, "y0": 7, "x1": 0, "y1": 8, "attenuation_db": GLASS_FRONT_DB},
        {"x0": 0, "y0": 0, "x1": 30, "y1": 0, "attenuation_db": MASONRY_DB},
        {"x0": 0, "y0": 8, "x1": 30, "y1": 8, "attenuation_db": MASONRY_DB},
        {"x0": 30, "y0": 0, "x1": 30, "y1": 8, "attenuation_db": MASONRY_DB},
    ],
    "beacons": [
        _store_ibeacon("bcn-entrance", 0.3, 4.5, 2, 1, 350),
        *(
            _store_ibeacon(f"bcn-{zone}", x, 4, 2, minor)
            for zone, x, minor in (("books", 7, 2), ("music", 17, 3), ("cafe", 26.5, 4))
        ),
    ],
}
LONG_NARROW_SPOTS = ((3.5, 1.5, 10.5, 6.5), (13.5, 1.5, 20.5, 6.5), (23.5, 0.5, 29.5, 7.5))


# wide-front: a 40 m x 10 m store whose whole long side is glass on the street (y < 0), the door
# in its middle, the door gateway on the first pillar 1.2 m in, a gateway over each end of the
# floor and a beacon in each of three zones only 5.5-7 m from the glass: passers walk past the
# zones' beacons and gateways through the glass, not only past the door.
WIDE_FRONT_DOOR = (20.0, 0.0)
WIDE_FRONT_FRONTAGE = Frontage(door=WIDE_FRONT_DOOR, inward=(0.0, 1.0))
WIDE_FRONT_STORE: dict[str, Any] = {
    "outline": {"x0": 0, "y0": 0, "x1": 40, "y1": 10},
    "entrance": {"x": WIDE_FRONT_DOOR[0], "y": WIDE_FRONT_DOOR[1]},
    "zones": [
        {"name": "homeware", "x0": 2, "y0": 2, "x1": 12, "y1": 9},
        {"name": "gifts", "x0": 15, "y0": 5, "x1": 25, "y1": 9},
        {"name": "stationery", "x0": 28, "y0": 2, "x1": 38, "y1": 9},
    ],
    "bays": [],
    "gateways": [
        {"name": "gw-door", "x": 20.5, "y": 1.2},
        {"name": "gw-west", "x": 7, "y": 6},
        {"name": "gw-east", "x": 33, "y": 6},
    ],
    "walls": [
        {"x0": 0, "y0": 0, "x1": 19, "y1": 0, "attenuation_db": GLASS_FRONT_DB},
        {"x0": 19, "y0": 0, "x1": 21, "y1": 0, "attenuation_db": OPEN_DOORWAY_DB, "door": True},
        {"x0": 21, "y0": 0, "x1": 40, "y1": 0, "attenuation_db": GLASS_FRONT_DB},
        {"x0": 0, "y0": 0, "x1": 0, "y1": 10, "attenuation_db": MASONRY_DB},
        {"x0": 40, "y0": 0, "x1": 40, "y1": 10, "attenuation_db": MASONRY_DB},
        {"x0": 0, "y0": 10, "x1": 40, "y1": 10, "attenuation_db": MASONRY_DB},
    ],
    "beacons": [
        _store_ibeacon("bcn-door", 18.5, 0.4, 3, 1, 350),
        *(
            _store_ibeacon(f"bcn-{zone}", x, y, 3, minor)
            for zone, x, y, minor in (
                ("homeware", 7, 5.5, 2),
                ("gifts", 20, 7, 3),
                ("stationery", 33, 5.5, 4),
            )
        ),
    ],
}
WIDE_FRONT_SPOTS = ((2.5, 2.5, 11.5, 8.5), (15.5, 5.5, 24.5, 8.5), (28.5, 2.5, 37.5, 8.5))


def layout_document(name: str, seed: int = LAYOUT_SEED) -> dict[str, Any]:
    """One of the reference layouts beyond the reference store, with its generated population."""
    if name == "door-pair":
        store, population = DOOR_PAIR_STORE, Population(REFERENCE_FRONTAGE, _INSIDE_SPOTS)
        about = "the reference store with a gateway and a beacon on each side of the door"
    elif name == "curbside-bays":
        store = CURBSIDE_STORE
        population = Population(
            REFERENCE_FRONTAGE,
            _INSIDE_SPOTS,
            bays=CURBSIDE_BAYS,
            lane_y=CURBSIDE_LANE_Y,
            drivers_per_hour=30,
            drive_bys_per_hour=120,
        )
        about = "three kerbside bays, a gateway on each bay's post; drivers wait, cars pass"
    elif name == "long-narrow":
        store = LONG_NARROW_STORE
        population = Population(LONG_NARROW_FRONTAGE, LONG_NARROW_SPOTS)
        about = "a 30 m x 8 m store, street on its short side, door near a corner"
    elif name == "wide-front":
        store = WIDE_FRONT_STORE
        population = Population(WIDE_FRONT_FRONTAGE, WIDE_FRONT_SPOTS)
        about = "a 40 m x 10 m store, its long glass side on the street, door in the middle"
    else:
        raise ScenarioError(f"unknown layout {name!r}")
    population = replace(population, duration_s=LAYOUT_DURATION_S)
    return {
        "name": name,
        "description": f"{about}: 30 minutes of shoppers and walk-bys",
        "duration_s": LAYOUT_DURATION_S,
        "store": store,
        "people": population_people(population, seed),
    }


LAYOUT_NAMES = ("door-pair", "curbside-bays", "long-narrow", "wide-front")


BUILTIN_SCENARIO_DOCUMENTS: dict[str, dict[str, Any]] = {
    "pickup-door": {
        "name": "pickup-door",
        "description": "maria walks from the street to the door and waits about 60 s for pickup",
        "duration_s": 90,
        "store": STORE_LAYOUT,
        "people": [_MARIA_PICKUP_AT_DOOR],
    },
    "walk-by": {
        "name": "walk-by",
        "description": "a phone passes along the pavement 7 m from the entrance without entering",
        "duration_s": 40,
        "store": STORE_LAYOUT,
        "people": [_PASSER_BY],
    },
    "demo": {
        "name": "demo",
        "description": (
            "maria arrives for pickup at ~20 s, a passer-by walks past, leo browses, "
            "ana lingers at the dresses"
        ),
        "duration_s": 240,
        "store": STORE_LAYOUT,
        "people": [
            {**_MARIA_PICKUP_AT_DOOR, "start_s": 14},
            _PASSER_BY,
            _LEO_BROWSES,
            _ANA_LINGERS,
        ],
    },
    "browse": {
        "name": "browse",
        "description": "nina (app open) browses dresses then shoes; omar (iOS, background) shoes",
        "duration_s": 330,
        "store": STORE_WITH_BEACONS,
        "people": [_NINA_BROWSES, _OMAR_BROWSES],
    },
    "dwell": {
        "name": "dwell",
        "description": "dora lingers six minutes at the dresses rail, then leaves",
        "duration_s": 420,
        "store": STORE_WITH_BEACONS,
        "people": [_DORA_DWELLS],
    },
    "curbside": {
        "name": "curbside",
        "description": "carla waits 5 min at bay-1 (car tag, iPhone silent); dan waits later",
        "duration_s": 720,
        # A store that offers curbside pickup puts a gateway on the facade by its bays.
        "store": {
            **STORE_WITH_BEACONS,
            "gateways": [
                *STORE_WITH_BEACONS["gateways"],
                {"name": "gw-curbside", "x": 25, "y": -2},
            ],
        },
        "people": [_CARLA_CURBSIDE, _DAN_CURBSIDE],
    },
    "staff": staff_document(),
    "dying-beacon": dying_beacon_document(),
    "busy-saturday": busy_saturday_document(),
    **{name: layout_document(name) for name in LAYOUT_NAMES},
}


def builtin_scenario_names() -> list[str]:
    """Names of the shipped scenarios, in listing order."""
    return list(BUILTIN_SCENARIO_DOCUMENTS)


def builtin_scenario(name: str) -> Scenario:
    """The shipped scenario called `name`."""
    try:
        document = BUILTIN_SCENARIO_DOCUMENTS[name]
    except KeyError:
        known = ", ".join(BUILTIN_SCENARIO_DOCUMENTS)
        raise ScenarioError(f"unknown scenario {name!r} (built-in: {known})") from None
    return scenario_from_dict(document)
