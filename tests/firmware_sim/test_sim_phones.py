"""The phones as they are: Android advertising modes, iPhones ranging and waking, the channel."""

# Seeded random.Random is the simulator's reproducible noise source, not cryptography.

from __future__ import annotations

import math
import random
import statistics
from typing import Any

import pytest

from firmware_sim.builtin_scenarios import STORE_WITH_BEACONS
from firmware_sim.radio import ChannelParams, ShadowingField
from firmware_sim.scenario import Point, Scenario, scenario_from_dict
from firmware_sim.world import (
    BACKGROUND_RANGING_S,
    REGION_EXIT_S,
    SOURCE_PHONE,
    PhoneSighting,
    advert_times,
    air_at,
    body_loss_db,
    build_world,
    pose_at,
)

UNIX_START = 1_764_054_000.0
STILL_AT_THE_RAIL = [{"x": 5, "y": 8, "dwell_s": 600}]


def _scenario(*people: dict[str, Any], duration_s: float = 120) -> Scenario:
    return scenario_from_dict(
        {
            "name": "phones",
            "duration_s": duration_s,
            "store": STORE_WITH_BEACONS,
            "people": list(people),
        }
    )


def _person(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "phone": name, "waypoints": STILL_AT_THE_RAIL, **fields}


def _run(scenario: Scenario, seconds: int, seed: int = 1, **channel: Any) -> Any:
    seen: list[PhoneSighting] = []
    world = build_world(scenario, {}, ChannelParams(**channel), UNIX_START, random.Random(seed))
    rng = random.Random(seed)
    adverts = []
    for second in range(seconds):
        air = air_at(world, second, rng)
        adverts += air.adverts
        seen += air.sightings
    return world, adverts, seen


@pytest.mark.parametrize(
    ("mode", "per_second"), [("low_latency", 10), ("balanced", 4), ("low_power", 1)]
)
def test_android_advertises_at_its_advertise_settings_interval(mode: str, per_second: int) -> None:
    scenario = _scenario(_person("ann", advertise_mode=mode))
    world = build_world(scenario, {}, ChannelParams(), UNIX_START, random.Random(1))
    ann = scenario.people[0]
    times = [t for s in range(20) for t in advert_times(ann, world.phones["ann"], s)]
    assert len(times) in (20 * per_second, 20 * per_second + 1)
    gaps = {round(b - a, 6) for a, b in zip(times, times[1:], strict=False)}
    assert gaps == {round(1 / per_second, 6)}


def test_android_in_the_background_advertises_only_with_a_foreground_service() -> None:
    scenario = _scenario(
        _person("svc", app_state="background"),
        _person("cached", app_state="background", foreground_service=False),
    )
    svc, cached = scenario.people
    assert svc.advertise_mode == "low_power" and svc.advertises
    assert not cached.advertises
    _, adverts, _ = _run(scenario, 30, packet_loss=0.0)
    assert {a.person for a in adverts if a.source == SOURCE_PHONE} == {"svc"}


def test_no_iphone_ever_advertises_whatever_the_app_does() -> None:
    people = [
        _person(f"i-{state}-{mode}", platform="ios", app_state=state, advertise_mode=mode)
        for state in ("foreground", "background")
        for mode in ("low_latency", "low_power")
    ]
    scenario = _scenario(*people, _person("droid"))
    assert not any(p.advertises for p in scenario.people if p.platform == "ios")
    _, adverts, _ = _run(scenario, 60, packet_loss=0.0)
    assert {a.person for a in adverts if a.source == SOURCE_PHONE} == {"droid"}


def test_a_foreground_iphone_ranges_once_a_second() -> None:
    scenario = _scenario(_person("ivy", platform="ios"))
    _, _, sightings = _run(scenario, 60)
    seconds = {s.unix_time for s in sightings if s.beacon == "bcn-dresses"}
    assert len(seconds) >= 50
    assert all(s.frame == "ibeacon" and s.received_at > s.unix_time for s in sightings)


def test_a_background_iphone_reports_only_for_a_while_after_its_region_wakes_it() -> None:
    walk_in = [{"x": 10, "y": -30}, {"x": 10, "y": -1.5}, {"x": 10, "y": 1.5}, *STILL_AT_THE_RAIL]
    scenario = _scenario(
        _person("ivy", platform="ios", app_state="background", waypoints=walk_in),
        duration_s=400,
    )
    for seed in range(1, 6):
        world, _, sightings = _run(scenario, 200, seed=seed)
        monitor = world.regions["ivy"]
        assert monitor.inside or monitor.wake_at is not None
        if not sightings:
            assert monitor.wake_at is not None  # a best-effort wake-up, minutes away
            continue
        times = sorted({s.unix_time for s in sightings})
        assert times[-1] - times[0] <= BACKGROUND_RANGING_S + 1
        assert len(times) < 15


def test_a_background_iphone_whose_app_asks_for_more_time_ranges_for_as_long() -> None:
    # The app asks iOS for a 30 s background task on waking: it ranges through the door.
    walk_in = [{"x": 10, "y": -30}, {"x": 10, "y": -1.5}, {"x": 10, "y": 1.5}, *STILL_AT_THE_RAIL]
    scenario = _scenario(
        _person("ivy", platform="ios", app_state="background", waypoints=walk_in),
        duration_s=400,
    )
    spans = []
    for seed in range(1, 6):
        world = build_world(
            scenario, {}, ChannelParams(), UNIX_START, random.Random(seed), background_ranging_s=30
        )
        rng = random.Random(seed)
        sightings = [s for second in range(200) for s in air_at(world, second, rng).sightings]
        times = sorted({s.unix_time for s in sightings})
        if times:
            assert times[-1] - times[0] <= 30 + 1
            spans.append(times[-1] - times[0])
    assert spans and max(spans) > BACKGROUND_RANGING_S + 1


def test_a_background_iphone_reports_entering_and_leaving_the_region() -> None:
    # Ivy walks in, browses for a minute and walks far away down the street.
    visit = [
        {"x": 10, "y": -30},
        {"x": 10, "y": -1.5},
        {"x": 10, "y": 1.5},
        {"x": 5, "y": 8, "dwell_s": 60},
        {"x": 10, "y": 1.5},
        {"x": 10, "y": -1.5},
        {"x": 200, "y": -3},
    ]
    scenario = _scenario(
        _person("ivy", platform="ios", app_state="background", waypoints=visit),
        _person("fg", platform="ios"),
        duration_s=400,
    )
    told = 0
    for seed in range(1, 6):
        world = build_world(scenario, {}, ChannelParams(), UNIX_START, random.Random(seed))
        rng = random.Random(seed)
        regions = [r for second in range(400) for r in air_at(world, second, rng).regions]
        assert {r.person for r in regions} <= {"ivy"}  # a foreground app ranges, no wake-ups
        if not regions:
            continue  # a best-effort wake-up that never came while she was in range
        told += 1
        # Entered, left; at the edge of range a lucky advert may enter it again for a while.
        events = [r.event for r in regions]
        assert events == ["enter", "exit"] * (len(events) // 2) and len(events) >= 2
        enter, leave = regions[:2]
        assert all(r.app_state == "background" and r.received_at > r.unix_time for r in regions)
        # Left 10-30 s after the last advert heard: well after she walked out of the door.
        assert leave.unix_time - enter.unix_time > 60 + REGION_EXIT_S[0]
    assert told >= 3


def test_shadowing_is_steady_in_place_and_decorrelates_with_distance() -> None:
    field = ShadowingField(6.0, 2.0, random.Random(4))
    assert field.at(3.0, 4.0) == field.at(3.0, 4.0)
    rng = random.Random(5)
    points = [(rng.uniform(0, 500), rng.uniform(0, 500)) for _ in range(3000)]
    values = [field.at(x, y) for x, y in points]
    assert statistics.pstdev(values) == pytest.approx(6.0, rel=0.25)

    def correlation(step: float) -> float:
        pairs = [(field.at(x, y), field.at(x + step, y)) for x, y in points]
        a, b = zip(*pairs, strict=True)
        return statistics.correlation(a, b)

    assert correlation(0.2) > 0.8
    assert correlation(2.0) < correlation(0.2)
    assert abs(correlation(20.0)) < 0.2


def test_a_shopper_standing_still_sees_a_steady_offset_not_fresh_noise() -> None:
    quiet = {
        "packet_loss": 0.0,
        "rician_k": None,
        "shadowing_sigma_db": 8.0,
        "temporal_sigma_db": 0.0,
    }
    walking = [{"x": 2, "y": 3}, {"x": 18, "y": 11}]
    scenario = _scenario(_person("still"), _person("walker", waypoints=walking), duration_s=20)
    _, adverts, _ = _run(scenario, 10, 1, **quiet)
    still = {a.rssi for a in adverts if a.person == "still" and a.gateway == "gw-floor"}
    walker = {a.rssi for a in adverts if a.person == "walker" and a.gateway == "gw-floor"}
    assert len(still) == 1
    assert len(walker) > 5


def test_the_body_shadows_the_phone_behind_it() -> None:
    scenario = _scenario(
        _person("hand"),
        _person("pocket", carry="back-pocket"),
        _person("bag", carry="bag"),
    )
    hand, pocket, bag = scenario.people
    here, ahead, behind = Point(0, 0), Point(5, 0), Point(-5, 0)
    assert body_loss_db(hand, 0.0, here, ahead) < body_loss_db(hand, 0.0, here, behind)
    assert body_loss_db(pocket, 0.0, here, ahead) > body_loss_db(pocket, 0.0, here, behind)
    assert body_loss_db(bag, 0.0, here, ahead) == pytest.approx(
        body_loss_db(bag, 0.0, here, behind)
    )


def test_people_face_the_way_they_walk_and_keep_it_standing() -> None:
    person = _scenario(
        _person("p", waypoints=[{"x": 0, "y": 0}, {"x": 0, "y": 5, "dwell_s": 30}])
    ).people[0]
    walking, standing = pose_at(person, 1.0), pose_at(person, 20.0)
    assert walking is not None and standing is not None
    assert walking[1] == standing[1] == pytest.approx(math.pi / 2)
