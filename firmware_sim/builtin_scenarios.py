"""The named scenarios shipped with the simulator, written in the scenario file format."""

from __future__ import annotations

from typing import Any

from firmware_sim.scenario import Scenario, ScenarioError, scenario_from_dict

# The reference store: 20 m x 15 m, front wall on y = 0, the street and pavement at y < 0.
STORE_LAYOUT: dict[str, Any] = {
    "outline": {"x0": 0, "y0": 0, "x1": 20, "y1": 15},
    "entrance": {"x": 10, "y": 0},
    "zones": [
        {"name": "dresses", "x0": 2, "y0": 6, "x1": 8, "y1": 12},
        {"name": "shoes", "x0": 12, "y0": 6, "x1": 18, "y1": 12},
    ],
    "bays": [{"name": "bay-1", "x0": 23.5, "y0": -8.5, "x1": 26.5, "y1": -3.5}],
    "gateways": [
        {"name": "gw-entrance", "x": 10, "y": 0.5},
        {"name": "gw-floor", "x": 10, "y": 10},
    ],
}

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
        "description": "maria arrives for pickup at ~20 s, a passer-by walks past, leo browses",
        "duration_s": 240,
        "store": STORE_LAYOUT,
        "people": [{**_MARIA_PICKUP_AT_DOOR, "start_s": 14}, _PASSER_BY, _LEO_BROWSES],
    },
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
