"""Built-in scenarios and the extended format: invariants, beacons, tags, phones, busy-saturday."""

# Seeded random.Random is the simulator's reproducible noise source, not cryptography.

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.builtin_scenarios import (
    BUILTIN_SCENARIO_DOCUMENTS,
    LAYOUT_NAMES,
    builtin_scenario,
    builtin_scenario_names,
    busy_saturday_document,
)
from firmware_sim.radio import ChannelParams
from firmware_sim.scenario import Person, Scenario, ScenarioError, scenario_from_dict
from firmware_sim.world import (
    SOURCE_BEACON,
    SOURCE_PHONE,
    SOURCE_TAG,
    PhoneSighting,
    adverts_at,
    air_at,
    build_world,
    position_at,
    script_end_s,
    state_at,
    walls_crossed,
)

DOCS_FILE = Path(__file__).parent.parent.parent / "docs" / "scenarios.md"
UNIX_START = 1_764_054_000.0
INSIDE_STATES = {"entrance", "inside", "dresses", "shoes", "stockroom"}
NEW_SCENARIOS = {"browse", "dwell", "curbside", "staff", "dying-beacon", "busy-saturday"}


def _world(scenario: Scenario, seed: int = 0, **kwargs: Any) -> Any:
    return build_world(scenario, {}, ChannelParams(), UNIX_START, random.Random(seed), **kwargs)


def _path(person: Person) -> list[tuple[Any, Any]]:
    points = [w.position for w in person.waypoints]
    return list(zip(points, points[1:], strict=False))


def test_the_new_scenarios_are_built_in() -> None:
    assert NEW_SCENARIOS <= set(builtin_scenario_names())


@pytest.mark.parametrize("name", list(BUILTIN_SCENARIO_DOCUMENTS))
def test_nobody_walks_through_a_wall(name: str) -> None:
    scenario = builtin_scenario(name)
    walls = scenario.floor_plan.walls
    for person in scenario.people:
        for a, b in _path(person):
            solid = [w for w in walls_crossed(walls, a, b) if not w.door]
            assert not solid, f"{person.name} walks from {a} to {b} through {solid}"


@pytest.mark.parametrize("name", list(BUILTIN_SCENARIO_DOCUMENTS))
def test_walk_bys_never_enter(name: str) -> None:
    scenario = builtin_scenario(name)
    for person in (p for p in scenario.people if p.walk_by):
        start, end = int(person.start_s), int(script_end_s(person)) + 1
        states = {state_at(scenario.floor_plan, person, t) for t in range(start, end)}
        assert not states & INSIDE_STATES, person.name


def test_the_wall_invariant_catches_a_shortcut() -> None:
    scenario = builtin_scenario("browse")
    shortcut = scenario.people[0].waypoints[:1] + scenario.people[0].waypoints[3:4]
    walls = scenario.floor_plan.walls
    (a, b) = (shortcut[0].position, shortcut[1].position)
    assert [w for w in walls_crossed(walls, a, b) if not w.door]


@pytest.mark.parametrize("name", ["browse", "curbside", "busy-saturday", "long-narrow"])
def test_no_iphone_ever_advertises_an_eid(name: str) -> None:
    scenario = builtin_scenario(name)
    iphones = {p.name for p in scenario.people if p.phone and p.platform == "ios"}
    assert iphones
    world, rng = _world(scenario), random.Random(1)
    heard = [
        a for s in range(0, min(int(scenario.duration_s), 400)) for a in adverts_at(world, s, rng)
    ]
    assert not [a for a in heard if a.source == SOURCE_PHONE and a.person in iphones]
    assert {a.person for a in heard if a.source == SOURCE_PHONE} - iphones


def test_an_iphone_reports_ranged_ibeacons_only() -> None:
    seen: list[PhoneSighting] = []
    world = _world(builtin_scenario("browse"), sighting_sink=seen.append)
    rng = random.Random(2)
    for second in range(330):
        adverts_at(world, second, rng)
    omar = [s for s in seen if s.person == "omar"]
    nina = [s for s in seen if s.person == "nina"]
    assert omar and {s.frame for s in omar} == {"ibeacon"}
    # Ranging: one averaged reading per beacon per callback, on whole seconds.
    keys = [(s.unix_time, s.beacon) for s in omar]
    assert len(keys) == len(set(keys))
    assert all(s.unix_time == int(s.unix_time) for s in omar)
    assert {"ibeacon", "uid", "altbeacon"} <= {s.frame for s in nina}
    assert all(s.beacon_id.startswith(("ibeacon:", "eddystone_", "altbeacon:")) for s in seen)
    assert "tlm" not in {s.frame for s in seen}
    assert all(s.received_at > s.unix_time for s in seen)


def test_gateways_hear_the_fixed_beacons_and_their_tlm() -> None:
    world, rng = _world(builtin_scenario("dwell")), random.Random(3)
    heard = [a for s in range(60) for a in air_at(world, s, rng).adverts]
    beacons = {a.person for a in heard if a.source == SOURCE_BEACON}
    assert beacons == {"bcn-entrance", "bcn-dresses", "bcn-shoes", "bcn-till"}
    tlm = [a for a in heard if any(v.startswith("2000") for v in a.advert["service_data"].values())]
    assert tlm
    times = [a.unix_time for a in heard]
    assert times == sorted(times)


def test_dwell_shopper_lingers_five_minutes_in_one_zone() -> None:
    scenario = builtin_scenario("dwell")
    dora = scenario.people[0]
    states = [state_at(scenario.floor_plan, dora, t) for t in range(int(scenario.duration_s))]
    assert states.count("dresses") >= 300


def test_curbside_car_tag_is_heard_while_the_iphone_is_silent() -> None:
    scenario = builtin_scenario("curbside")
    world, rng = _world(scenario), random.Random(4)
    heard = [a for s in range(0, 320) for a in adverts_at(world, s, rng)]
    assert {a.person for a in heard if a.source == SOURCE_TAG} == {"carla-tag"}
    carla = scenario.people[0]
    assert [state_at(scenario.floor_plan, carla, t) for t in range(20, 300)].count("bay-1") > 250


def test_staff_are_flagged_and_on_the_floor_all_day() -> None:
    scenario = builtin_scenario("staff")
    assert scenario.duration_s >= 8 * 3600
    assert all(p.staff for p in scenario.people)
    for person in scenario.people:
        states = {state_at(scenario.floor_plan, person, t) for t in range(0, 8 * 3600, 60)}
        assert "stockroom" in states and states & {"dresses", "shoes", "inside"}
        assert script_end_s(person) >= 8 * 3600


def test_dying_beacon_goes_silent_during_the_run() -> None:
    scenario = builtin_scenario("dying-beacon")
    world, rng = _world(scenario), random.Random(5)
    heard = [a for s in range(int(scenario.duration_s)) for a in adverts_at(world, s, rng)]
    shoes = [a for a in heard if a.person == "bcn-shoes"]
    assert shoes and shoes[-1].unix_time - UNIX_START < scenario.duration_s / 2
    assert world.beacons["bcn-shoes"].dead and not world.beacons["bcn-entrance"].dead
    tlm = [a for a in shoes if any(v.startswith("2000") for v in a.advert["service_data"].values())]
    last_mv = int(next(iter(tlm[-1].advert["service_data"].values()))[4:8], 16)
    assert last_mv < 2100


def test_busy_saturday_has_about_200_shoppers_an_hour_and_many_walk_bys() -> None:
    scenario = builtin_scenario("busy-saturday")
    shoppers = [p for p in scenario.people if not p.walk_by]
    passers = [p for p in scenario.people if p.walk_by]
    hours = scenario.duration_s / 3600
    assert 170 <= len(shoppers) / hours <= 230
    assert len(passers) > len(shoppers)
    assert scenario.floor_plan.beacons
    for person in shoppers[:50]:
        states = {
            state_at(scenario.floor_plan, person, t)
            for t in range(int(person.start_s), int(script_end_s(person)), 5)
        }
        assert states & INSIDE_STATES


def test_busy_saturday_is_reproducible_from_the_seed() -> None:
    assert busy_saturday_document(7) == busy_saturday_document(7)
    assert busy_saturday_document(7) != busy_saturday_document(8)
    assert BUILTIN_SCENARIO_DOCUMENTS["busy-saturday"] == busy_saturday_document()


def test_same_seed_same_air_with_beacons() -> None:
    scenario = builtin_scenario("browse")
    runs = []
    for _ in range(2):
        world, rng = _world(scenario, seed=9), random.Random(9)
        runs.append(
            [(a.person, a.gateway, a.rssi) for s in range(60) for a in adverts_at(world, s, rng)]
        )
    assert runs[0] == runs[1]


def test_background_android_phone_with_a_foreground_service_advertises_each_second() -> None:
    scenario = builtin_scenario("curbside")
    dan = next(p for p in scenario.people if p.name == "dan")
    assert (dan.app_state, dan.foreground_service, dan.advertise_mode) == (
        "background",
        True,
        "low_power",
    )
    world, rng = _world(scenario), random.Random(6)
    times = sorted(
        a.unix_time - UNIX_START
        for s in range(380, 600)
        for a in adverts_at(world, s, rng)
        if a.person == "dan" and a.gateway == "gw-curbside"
    )
    assert times and len(times) <= 220
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) > 0.95


def _docs_beacon_example() -> Any:
    blocks = re.findall(r"```json\n(.*?)```", DOCS_FILE.read_text(), flags=re.DOTALL)
    return next(d for d in map(json.loads, blocks) if d.get("name") == "beacons-and-walls")


def test_docs_beacon_example_is_valid() -> None:
    scenario = scenario_from_dict(_docs_beacon_example())
    assert scenario.floor_plan.beacons and scenario.floor_plan.walls
    assert {(p.platform, p.app_state) for p in scenario.people} >= {("ios", "background")}
    assert any(p.staff for p in scenario.people) and any(p.tag for p in scenario.people)
    position = position_at(scenario.people[0], 10)
    assert position is not None


def _with(document: Any, path: tuple[str | int, ...], value: object) -> Any:
    document = json.loads(json.dumps(document))
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return document


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("store", "beacons", 0, "kind"), "bluetooth"),
        (("store", "beacons", 0, "frames"), ["altbeacon"]),
        (("store", "beacons", 0, "frames"), []),
        (("store", "beacons", 0, "interval_ms"), 5),
        (("store", "beacons", 0, "uuid"), "nope"),
        (("store", "beacons", 0, "battery"), {"capacity_mah": 10, "remaining_mah": 20}),
        (("store", "beacons", 1, "url"), "https://far-too-long-for-one-frame.example.com/"),
        (("store", "walls", 0, "attenuation_db"), -1),
        (("store", "walls", 0, "x1"), 0),
        (("people", 0, "app_state"), "asleep"),
        (("people", 0, "app_state"), "ios-background"),
        (("people", 0, "platform"), "symbian"),
        (("people", 0, "advertise_mode"), "turbo"),
        (("people", 0, "foreground_service"), "yes"),
        (("people", 0, "carry"), "hat"),
        (("people", 0, "staff"), "yes"),
        (("people", 0, "tag"), {"kind": "ibeacon"}),
    ],
)
def test_malformed_beacons_walls_and_people_are_rejected(
    path: tuple[str | int, ...], value: object
) -> None:
    with pytest.raises(ScenarioError):
        scenario_from_dict(_with(_docs_beacon_example(), path, value))


def test_the_reference_layouts_are_built_in_with_their_features() -> None:
    door_pair = builtin_scenario("door-pair").floor_plan
    door = door_pair.entrance
    sides = {
        g.name: g.position.y - door.y for g in door_pair.gateways if g.name.startswith("gw-door")
    }
    assert sides["gw-door-in"] > 0 > sides["gw-door-out"]
    outside_beacons = [b for b in door_pair.beacons if not door_pair.outline.contains(b.position)]
    assert [b.spec.name for b in outside_beacons] == ["bcn-door-out"]

    curbside = builtin_scenario("curbside-bays")
    assert len(curbside.floor_plan.bays) == 3
    posts = [g for g in curbside.floor_plan.gateways if g.name.startswith("gw-bay")]
    assert len(posts) == 3
    drivers = [p for p in curbside.people if p.name.startswith("driver-")]
    assert drivers
    for person in drivers:
        states = {state_at(curbside.floor_plan, person, t) for t in range(0, 1800, 5)}
        assert states & {"bay-1", "bay-2", "bay-3"}, person.name

    narrow = builtin_scenario("long-narrow").floor_plan
    outline = narrow.outline
    assert (outline.x1 - outline.x0) / (outline.y1 - outline.y0) > 3
    assert narrow.entrance.x == outline.x0, "the door is on the short west wall"
    assert {z.name for z in narrow.zones} == {"books", "music", "cafe"}

    wide = builtin_scenario("wide-front").floor_plan
    outline = wide.outline
    assert outline.x1 - outline.x0 > 3 * (outline.y1 - outline.y0)
    assert wide.entrance.y == outline.y0, "the door is in the long glass side on the street"
    # The zones' beacons hang close behind the glass: passers walk past them, not only the door.
    assert all(b.position.y - outline.y0 <= 7 for b in wide.beacons)


def test_shoppers_of_every_layout_enter_through_its_door() -> None:
    for name in LAYOUT_NAMES:
        scenario = builtin_scenario(name)
        shoppers = [p for p in scenario.people if p.name.startswith("shopper-")]
        assert len(shoppers) > 50
        for person in shoppers[:20]:
            states = [
                state_at(scenario.floor_plan, person, t)
                for t in range(int(person.start_s), int(script_end_s(person)))
            ]
            zones = {zone.name for zone in scenario.floor_plan.zones}
            assert "entrance" in states and set(states) & (INSIDE_STATES | zones)
