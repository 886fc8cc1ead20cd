"""Scenarios: a store floor plan and scripted people, in the JSON format of docs/scenarios.md."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A brisk adult walking pace; used when a person's script gives no speed.
DEFAULT_WALKING_SPEED_M_S = 1.2


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
class FloorPlan:
    """The store outline, its entrance, zones, curbside bays and gateways."""

    outline: Rect
    entrance: Point
    zones: tuple[Area, ...]
    bays: tuple[Area, ...]
    gateways: tuple[GatewayPlacement, ...]


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
    )
    names = [a.name for a in plan.zones + plan.bays] + [g.name for g in plan.gateways]
    if len(names) != len(set(names)):
        raise ScenarioError("store: zone, bay and gateway names must be unique")
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
    walk_by = obj.get("walk_by", False)
    if not isinstance(walk_by, bool):
        raise ScenarioError(f"{where}: 'walk_by' must be true or false")
    return Person(
        name=_string(obj, "name", where),
        waypoints=waypoints,
        start_s=_number(obj, "start_s", where, 0.0),
        speed_m_s=speed,
        phone=phone,
        walk_by=walk_by,
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
    description = obj.get("description", "")
    if not isinstance(description, str):
        raise ScenarioError("scenario: 'description' must be a string")
    return Scenario(
        name=_string(obj, "name", "scenario"),
        description=description,
        duration_s=duration,
        floor_plan=_floor_plan(_field(obj, "store", "scenario")),
        people=people,
    )


def load_scenario_file(path: Path) -> Scenario:
    """Read and validate a scenario JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario file {path}: {exc}") from exc
    return scenario_from_dict(data)
