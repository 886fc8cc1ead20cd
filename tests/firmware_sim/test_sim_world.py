"""Scenarios and the world: ground-truth invariants, positions and the adverts phones send."""

# Seeded random.Random is the simulator's reproducible noise source, not cryptography.

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from firmware_sim.builtin_scenarios import builtin_scenario, builtin_scenario_names
from firmware_sim.eddystone import EDDYSTONE_SERVICE_UUID, compute_eid
from firmware_sim.phones import PhoneKey, PhonesFileError, phones_from_dict
from firmware_sim.radio import ChannelParams
from firmware_sim.scenario import Point, ScenarioError, scenario_from_dict
from firmware_sim.world import (
    ADDRESS_ROTATION_S,
    STATE_ENTRANCE,
    STATE_WALK_BY,
    address_at,
    adverts_at,
    build_world,
    ground_truth_at,
    position_at,
    script_end_s,
    state_at,
)

DOCS_FILE = Path(__file__).parent.parent.parent / "docs" / "scenarios.md"
MARIA_KEY = PhoneKey(bytes.fromhex("000102030405060708090a0b0c0d0e0f"), 10)
UNIX_START = 1_764_054_000.0
LOSSLESS = ChannelParams(packet_loss=0.0)
OUTSIDE_STATES = {"outside", "walk-by", "bay-1"}


def _states(scenario_name: str, person: str) -> list[str]:
    scenario = builtin_scenario(scenario_name)
    return [ground_truth_at(scenario, t)[person] for t in range(int(scenario.duration_s))]


def test_every_builtin_scenario_loads() -> None:
    assert {"pickup-door", "walk-by", "demo"} <= set(builtin_scenario_names())
    for name in builtin_scenario_names():
        assert builtin_scenario(name).name == name


def test_unknown_builtin_is_a_scenario_error() -> None:
    with pytest.raises(ScenarioError, match="pickup-door"):
        builtin_scenario("no-such-scenario")


def test_maria_reaches_the_entrance_within_15_s_in_pickup_door() -> None:
    states = _states("pickup-door", "maria")
    assert states[0] == "outside"
    assert STATE_ENTRANCE in states[:15]
    assert states.count(STATE_ENTRANCE) >= 55


@pytest.mark.parametrize("scenario_name", ["walk-by", "demo"])
def test_walk_by_person_is_never_inside(scenario_name: str) -> None:
    states = _states(scenario_name, "passer")
    assert set(states) <= OUTSIDE_STATES
    assert STATE_WALK_BY in states


def test_demo_has_maria_arrive_around_20_s_and_leo_browse() -> None:
    maria = _states("demo", "maria")
    assert 15 <= maria.index(STATE_ENTRANCE) <= 25
    assert {"dresses", "shoes", "inside"} <= set(_states("demo", "leo"))


def test_position_follows_the_script() -> None:
    maria = builtin_scenario("pickup-door").people[0]
    assert position_at(maria, -0.1) is None
    assert position_at(maria, 0) == Point(10, -8)
    halfway = position_at(maria, 7.5 / 2 / 1.2)
    assert halfway is not None and halfway.y == pytest.approx(-4.25)
    assert position_at(maria, 7.5 / 1.2 + 30) == Point(10, -0.5)
    assert position_at(maria, script_end_s(maria) + 0.01) is None


def test_person_out_of_the_scene_is_outside() -> None:
    demo = builtin_scenario("demo")
    leo = next(p for p in demo.people if p.name == "leo")
    assert state_at(demo.floor_plan, leo, 0) == "outside"


def test_adverts_carry_the_eid_of_the_phone_key() -> None:
    world = build_world(
        builtin_scenario("pickup-door"),
        {"maria": MARIA_KEY},
        LOSSLESS,
        UNIX_START,
        random.Random(1),
    )
    adverts = [a for s in range(10) for a in adverts_at(world, s, random.Random(s))]
    assert {a.gateway for a in adverts} == {"gw-entrance", "gw-floor"}
    for air in adverts:
        data = bytes.fromhex(air.advert["service_data"][EDDYSTONE_SERVICE_UUID])
        assert data[:2] == bytes.fromhex("30ec")
        assert data[2:] == compute_eid(MARIA_KEY.identity_key, 10, int(air.unix_time))
        assert air.advert["rssi"] == air.rssi
        assert air.advert["service_uuids"] == [EDDYSTONE_SERVICE_UUID]
    times = [a.unix_time for a in adverts]
    assert times == sorted(times)


def test_unregistered_phone_gets_a_seeded_random_key() -> None:
    scenario = builtin_scenario("walk-by")
    first = build_world(scenario, {}, LOSSLESS, UNIX_START, random.Random(5)).phones["passer"]
    again = build_world(scenario, {}, LOSSLESS, UNIX_START, random.Random(5)).phones["passer"]
    other = build_world(scenario, {}, LOSSLESS, UNIX_START, random.Random(6)).phones["passer"]
    assert not first.registered
    assert first == again
    assert first.identity_key != other.identity_key


def test_person_without_phone_is_never_heard() -> None:
    document = json.loads(json.dumps(_docs_example()))
    document["people"][0]["phone"] = None
    world = build_world(scenario_from_dict(document), {}, LOSSLESS, UNIX_START, random.Random(0))
    assert all(adverts_at(world, s, random.Random(s)) == [] for s in range(60))


def test_phone_address_is_private_and_rotates() -> None:
    world = build_world(
        builtin_scenario("pickup-door"),
        {"maria": MARIA_KEY},
        LOSSLESS,
        UNIX_START,
        random.Random(1),
    )
    phone = world.phones["maria"]
    addresses = {address_at(phone, UNIX_START + k * 60) for k in range(60)}
    assert 4 <= len(addresses) <= 5  # one hour, a new address every 15 minutes
    for address in addresses:
        assert re.fullmatch(r"([0-9A-F]{2}:){5}[0-9A-F]{2}", address)
        assert int(address[:2], 16) >> 6 == 0b01
    assert address_at(phone, UNIX_START) != address_at(phone, UNIX_START + ADDRESS_ROTATION_S)


def _docs_example() -> object:
    text = DOCS_FILE.read_text()
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL)
    return json.loads(blocks[0])


def test_docs_scenario_example_is_valid() -> None:
    scenario = scenario_from_dict(_docs_example())
    assert "shoes" in set(ground_truth_at(scenario, t)["maria"] for t in range(60))


def test_docs_phones_example_is_valid() -> None:
    blocks = re.findall(r"```json\n(.*?)```", DOCS_FILE.read_text(), flags=re.DOTALL)
    phones = next(json.loads(b) for b in blocks if '"phones"' in b)
    assert phones_from_dict(phones)["maria"] == MARIA_KEY


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("duration_s",), -1),
        (("store", "gateways"), []),
        (("store", "outline"), {"x0": 5, "y0": 0, "x1": 1, "y1": 1}),
        (("people", 0, "waypoints"), []),
        (("people", 0, "speed_m_s"), 0),
        (("people", 0, "walk_by"), "yes"),
        (("people", 0, "waypoints", 0, "x"), "ten"),
    ],
)
def test_malformed_scenarios_are_rejected(path: tuple[str | int, ...], value: object) -> None:
    document = json.loads(json.dumps(_docs_example()))
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ScenarioError):
        scenario_from_dict(document)


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"phones": [{"person": "x", "identity_key": "00"}]},
        {"phones": [{"person": "x", "identity_key": "zz" * 16}]},
        {"phones": [{"person": "x", "identity_key": "00" * 16, "rotation_exponent": 16}]},
        {"phones": [{"identity_key": "00" * 16}]},
    ],
)
def test_malformed_phones_files_are_rejected(document: object) -> None:
    with pytest.raises(PhonesFileError):
        phones_from_dict(document)
