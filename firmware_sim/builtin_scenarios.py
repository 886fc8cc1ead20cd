"""The named scenarios shipped with the simulator, written in the scenario file format."""

from __future__ import annotations

import random
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
STORE_BEACONS: list[dict[str, Any]] = [
    {
        "name": "bcn-entrance",
        "kind": "ibeacon",
        "x": 11.5,
        "y": 0.3,
        "uuid": STORE_UUID,
        "major": 1,
        "minor": 1,
        "interval_ms": 350,
        "frames": _TLM_EVERY_10TH,
    },
    {
        "name": "bcn-dresses",
        "kind": "ibeacon",
        "x": 5,
        "y": 9,
        "uuid": STORE_UUID,
        "major": 1,
        "minor": 2,
        "interval_ms": 1000,
        "frames": _TLM_EVERY_10TH,
    },
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

# Maria: from the street 8 m out straight to the door (under 7 s at 1.2 m/s), then waits.
_MARIA_PICKUP_AT_DOOR: dict[str, Any] = {
    "name": "maria",
    "phone": "maria",
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
    "app_state": "ios-background",
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
    "app_state": "ios-background",
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
# Placeholder mix of the shoppers' phones: no app, app open, Android background, iOS background.
APP_MIX = ((None, 0.25), ("foreground", 0.2), ("background", 0.3), ("ios-background", 0.25))
# Placeholder: share of shoppers carrying a registered key-fob tag.
TAG_SHARE = 0.05
_INSIDE_SPOTS = ((2.5, 6.5, 7.5, 11.5), (12.5, 6.5, 17.5, 11.5), (1.5, 2.0, 18.5, 12.0))


def _arrivals(rng: random.Random, per_hour: float, duration_s: float) -> list[float]:
    times, t = [], rng.expovariate(per_hour / 3600)
    while t < duration_s:
        times.append(t)
        t += rng.expovariate(per_hour / 3600)
    return times


def _phone_fields(rng: random.Random, name: str) -> dict[str, Any]:
    draw, app_state = rng.random(), None
    for state, share in APP_MIX:
        if draw < share:
            app_state = state
            break
        draw -= share
    if app_state is None:
        return {"phone": None}
    return {"phone": name, "app_state": app_state}


def _shopper(rng: random.Random, index: int, start_s: float) -> dict[str, Any]:
    name = f"shopper-{index:03d}"
    door_x = DOOR_X + rng.uniform(-0.6, 0.6)
    enter_x, leave_x = rng.choice(STREET_X), rng.choice(STREET_X)
    stops = []
    for _ in range(rng.randint(1, 4)):
        x0, y0, x1, y1 = rng.choice(_INSIDE_SPOTS)
        lingering = rng.random() < 0.1
        dwell = rng.uniform(300, 600) if lingering else rng.uniform(10, 240)
        stops.append(_stop(rng.uniform(x0, x1), rng.uniform(y0, y1), dwell))
    person: dict[str, Any] = {
        "name": name,
        "start_s": round(start_s, 1),
        "speed_m_s": round(rng.uniform(0.9, 1.4), 2),
        "waypoints": [
            _stop(enter_x, rng.uniform(*PAVEMENT_Y)),
            *_through_door_in(door_x),
            *stops,
            *_through_door_out(door_x),
            _stop(leave_x, rng.uniform(*PAVEMENT_Y)),
        ],
        **_phone_fields(rng, name),
    }
    if rng.random() < TAG_SHARE:
        person["tag"] = {
            "kind": "ibeacon",
            "uuid": "e2c56db5-dffb-48d2-b060-d0f5a71096e0",
            "major": 8,
            "minor": index,
        }
    return person


def _walk_by(rng: random.Random, index: int, start_s: float) -> dict[str, Any]:
    name = f"passer-{index:03d}"
    y = rng.uniform(*PAVEMENT_Y)
    ends = list(STREET_X) if rng.random() < 0.5 else list(reversed(STREET_X))
    return {
        "name": name,
        "walk_by": True,
        "start_s": round(start_s, 1),
        "speed_m_s": round(rng.uniform(1.0, 1.6), 2),
        "waypoints": [_stop(ends[0], y), _stop(ends[1], y)],
        **_phone_fields(rng, name),
    }


def busy_saturday_document(seed: int = BUSY_SATURDAY_SEED) -> dict[str, Any]:
    """The `busy-saturday` scenario: an hour of Poisson arrivals, generated from `seed`."""
    rng = random.Random(seed)  # noqa: S311 - scenario generation, reproducible by design
    shoppers = [
        _shopper(rng, i, t)
        for i, t in enumerate(_arrivals(rng, SHOPPERS_PER_HOUR, BUSY_SATURDAY_S))
    ]
    passers = [
        _walk_by(rng, i, t)
        for i, t in enumerate(_arrivals(rng, WALK_BYS_PER_HOUR, BUSY_SATURDAY_S))
    ]
    return {
        "name": "busy-saturday",
        "description": "an hour of ~200 shoppers and ~300 walk-bys, seeded, with the fixed beacons",
        "duration_s": BUSY_SATURDAY_S,
        "store": STORE_WITH_BEACONS,
        "people": shoppers + passers,
    }


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
