"""The open-source presence rules and the bench's metrics, on constructed traces."""

from __future__ import annotations

from typing import Any

import pytest

from bench.accuracy import (
    UNIX_START,
    Heard,
    RuleTrack,
    Trace,
    metrics,
    server_layout,
)
from bench.baselines import (
    BERMUDA_NOT_HOME_S,
    bermuda,
    bermuda_distance,
    espresense_distance,
    espresense_mqtt_room,
    home_assistant_ibeacon,
    percentage_difference,
)
from firmware_sim.builtin_scenarios import STORE_LAYOUT
from firmware_sim.scenario import Scenario, scenario_from_dict
from store_server.vocabulary import PresenceKind

WALK_IN_AND_STAY = [
    {"x": 10, "y": -5},
    {"x": 10, "y": 3},
    {"x": 5, "y": 9, "dwell_s": 120},
    {"x": 10, "y": 3},
    {"x": 10, "y": -5},
]


def _scenario(duration_s: float = 400, **person: Any) -> Scenario:
    return scenario_from_dict(
        {
            "name": "constructed",
            "duration_s": duration_s,
            "store": STORE_LAYOUT,
            "people": [{"name": "ann", "phone": "ann", "waypoints": WALK_IN_AND_STAY, **person}],
        }
    )


def _trace(heard: list[tuple[float, str, int]], duration_s: float = 400) -> Trace:
    scenario = _scenario(duration_s)
    gateways, beacons = server_layout(scenario)
    return Trace(
        scenario,
        int(duration_s),
        UNIX_START,
        {"ann": "android-foreground"},
        gateways,
        beacons,
        [Heard("ann", gateway, UNIX_START + t, rssi, "phone") for t, gateway, rssi in heard],
    )


def _kinds(track: RuleTrack) -> list[tuple[float, str]]:
    return [(round(t - UNIX_START, 1), kind) for t, kind, _ in track.events]


def test_distance_models_meet_their_reference_at_one_metre() -> None:
    assert bermuda_distance(-55) == pytest.approx(1.0)
    assert bermuda_distance(-85) == pytest.approx(10.0)
    assert espresense_distance(-59) == pytest.approx(1.0)
    assert espresense_distance(-86) == pytest.approx(10.0)
    assert percentage_difference(1.0, 3.0) == pytest.approx(0.25)


def test_home_assistant_stays_home_180_s_and_notices_on_its_minute_tick() -> None:
    heard = [(float(t), "gw-entrance", -80) for t in range(10, 41)]
    track = home_assistant_ibeacon(_trace(heard))["ann"]
    # Last heard at 40 s: unavailable after 220 s, noticed at the 240 s check.
    assert _kinds(track) == [(10.0, PresenceKind.ENTERED), (240.0, PresenceKind.EXITED)]
    # labels[s] is the state at the end of second s.
    assert track.labels[100] == "inside" and track.labels[238] == "inside"
    assert track.labels[239] == "outside" and track.labels[5] == "outside"


def test_bermuda_keeps_its_area_until_a_challenger_is_clearly_closer() -> None:
    # Heard at the door, then both; the floor gateway only slightly stronger at first.
    heard = [(t + 0.5, "gw-entrance", -60) for t in range(0, 20)]
    heard += [(t + 0.6, "gw-floor", -59) for t in range(10, 20)]
    heard += [(t + 0.6, "gw-floor", -50) for t in range(20, 40)]
    heard += [(t + 0.5, "gw-entrance", -75) for t in range(20, 40)]
    heard.sort()
    track = bermuda(_trace(heard))["ann"]
    assert track.labels[15] == "entrance", "1 dB closer is not enough to take the area"
    assert track.labels[35] == "inside"
    # Not home BERMUDA_NOT_HOME_S after the last advert (39.6 s).
    exits = [t for t, kind in _kinds(track) if kind == PresenceKind.EXITED]
    assert exits and 39.6 + BERMUDA_NOT_HOME_S <= exits[0] <= 39.6 + BERMUDA_NOT_HOME_S + 1


def test_bermuda_distance_rises_slowly_and_ignores_impossible_jumps() -> None:
    heard = [(t + 0.5, "gw-floor", -55) for t in range(0, 10)]
    heard += [(10.5, "gw-floor", -95)]  # 100 m away a second later: impossible, ignored
    heard += [(t + 0.5, "gw-floor", -65) for t in range(11, 60)]
    machine_track = bermuda(_trace(heard, duration_s=80))["ann"]
    assert machine_track.labels[12] == "inside"
    assert [k for _, k in _kinds(machine_track)].count(PresenceKind.ENTERED) == 1


def test_espresense_moves_to_a_closer_room_and_goes_away_after_120_s() -> None:
    heard = [(t + 0.5, "gw-entrance", -65) for t in range(0, 20)]
    heard += [(t + 0.7, "gw-floor", -50) for t in range(20, 40)]
    heard.sort()
    track = espresense_mqtt_room(_trace(heard))["ann"]
    assert track.labels[10] == "entrance"
    assert track.labels[38] == "inside"
    exits = [t for t, kind in _kinds(track) if kind == PresenceKind.EXITED]
    # Away 120 s after the last report; a node skips reports of a device that has not moved
    # for up to 5 s, so the last one may be that much older than the last advert.
    assert exits and 39.7 + 120 - 5 <= exits[0] <= 39.7 + 121


def test_metrics_score_walk_by_precision_and_dwell_latency() -> None:
    scenario = _scenario()
    ann = scenario.people[0]
    # Truth: ann walks 8 m to the door (~6.7 s), 7 m to the rail (in the dresses from 10 s),
    # stays 120 s (until 137 s), leaves: her minute there is reached at 70 s.
    labels = ["outside"] * 400
    t0 = UNIX_START

    def dwell_at(t: float) -> RuleTrack:
        return RuleTrack(
            labels=list(labels),
            events=[
                (t0 + 6, PresenceKind.ENTERED, "entrance"),
                (t0 + t, PresenceKind.ZONE_DWELL, "dresses"),
            ],
        )

    on_time = dwell_at(72)
    on_time.events.insert(0, (t0 + 2, PresenceKind.WALK_BY, None))
    good = metrics(scenario, [(ann, on_time)])
    assert good["walk_by_events"] == 1 and good["walkby_event_precision"] == 0.0
    assert good["dwell_latency_p95_s"] == 2 and good["early_dwells"] == 0
    assert good["missed_dwells"] == 0 and good["missed_arrivals"] == 0
    late = metrics(scenario, [(ann, dwell_at(130))])
    assert late["walkby_event_precision"] is None
    assert late["dwell_latency_p95_s"] == 60 and late["missed_dwells"] == 0
    # Decided after she has left the rail (a total on leaving): it does not reach her there.
    gone = metrics(scenario, [(ann, dwell_at(140))])
    assert gone["dwell_latency_p95_s"] is None and gone["missed_dwells"] == 1
    # Decided in the zone before her minute there was up: counted, and told apart.
    early = metrics(scenario, [(ann, dwell_at(40))])
    assert early["dwell_latency_p95_s"] == -30 and early["early_dwells"] == 1


def _layout_with_gateways(gateways: list[dict[str, Any]]) -> Scenario:
    return scenario_from_dict(
        {
            "name": "constructed",
            "duration_s": 60,
            "store": {**STORE_LAYOUT, "gateways": gateways},
            "people": [],
        }
    )


def test_the_gateway_nearest_the_door_watches_it_where_none_hangs_beside_it() -> None:
    # The door at (10, 0): a gateway on the first pillar 2.7 m in is the door gateway when
    # none hangs within 2 m; with one beside the door it stays a floor gateway; one 5 m in
    # never watches the door.
    pillar = {"name": "gw-pillar", "x": 11, "y": 2.5}
    back = {"name": "gw-back", "x": 10, "y": 10}
    gateways, _ = server_layout(_layout_with_gateways([pillar, back]))
    assert gateways["gw-pillar"].kind == "entrance" and gateways["gw-back"].kind == "floor"
    beside = {"name": "gw-door", "x": 10, "y": 0.5}
    gateways, _ = server_layout(_layout_with_gateways([pillar, beside, back]))
    assert gateways["gw-door"].kind == "entrance" and gateways["gw-pillar"].kind == "floor"
    far = {"name": "gw-far", "x": 10, "y": 5}
    gateways, _ = server_layout(_layout_with_gateways([far, back]))
    assert gateways["gw-far"].kind == "floor"
