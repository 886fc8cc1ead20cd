"""The fusion core on constructed traces: no flapping, no walk-by entries, no ghosts, bad input."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import replace

from store_server.presence import fusion
from store_server.presence.fusion import (
    BeaconReport,
    CheckIn,
    FusionParams,
    GatewayReading,
    PersonState,
    Place,
)
from store_server.vocabulary import PlaceKind, PresenceState, ZoneKind

PARAMS = FusionParams(entry_rssi_dbm=-70.0)
DOOR = Place(PlaceKind.ENTRANCE, "entrance")
# One door reading this strong is an entry by itself (the entry threshold + ENTRY_SURE_MARGIN_DB).
SURE = -50
FLOOR = Place(PlaceKind.FLOOR)
DRESSES = Place(PlaceKind.ZONE, "dresses")
SHOES = Place(PlaceKind.ZONE, "shoes")
T0 = 1_764_054_000.0


def door(rssi: int, at: float) -> GatewayReading:
    return GatewayReading("gw-entrance", DOOR, rssi, 0.0, at)


def floor(rssi: int, at: float) -> GatewayReading:
    return GatewayReading("gw-floor", FLOOR, rssi, 0.0, at)


def door_beacon(rssi: int, at: float) -> BeaconReport:
    return BeaconReport("bcn-entrance", DOOR, rssi, at)


def play(
    signals: Sequence[fusion.Signal], state: PersonState | None = None, until: float | None = None
) -> tuple[PersonState, list[fusion.PresenceEvent]]:
    """Feed signals one by one at their own time, then let time run to `until`."""
    current = state or PersonState()
    events: list[fusion.PresenceEvent] = []
    for signal in sorted(signals, key=fusion.signal_time):
        fused = fusion.fuse(current, [signal], PARAMS, signal.seen_at)
        current, events = fused.state, events + fused.events
    if until is not None:
        t = current.last_heard_at or T0
        while t < until:
            t += 1.0
            fused = fusion.advance(current, PARAMS, t)
            current, events = fused.state, events + fused.events
    return current, events


def kinds(events: list[fusion.PresenceEvent]) -> list[str]:
    return [e.kind for e in events]


def entered(at: float = T0) -> PersonState:
    state, events = play([door(SURE, at)])
    assert kinds(events) == ["entered"]
    return state


def test_one_sure_door_reading_enters_at_once_with_confidence_and_reasons() -> None:
    assert SURE == PARAMS.entry_rssi_dbm + PARAMS.entry_sure_margin_db
    state, events = play([door(SURE, T0)])
    assert kinds(events) == ["entered"]
    event = events[0]
    assert event.at == T0 and event.place == "entrance"
    assert event.confidence == 1.0
    assert event.reasons == (
        {"signal": "eddystone_eid", "rssi": SURE, "gateway": "gw-entrance", "place": "entrance"},
    )
    assert state.visit_open and state.state == PresenceState.ENTRANCE


def test_calibration_offset_applies() -> None:
    reading = GatewayReading("gw-entrance", DOOR, SURE - 11, 11.0, T0)  # a deaf antenna, corrected
    assert kinds(play([reading])[1]) == ["entered"]


def test_a_walk_by_past_the_door_is_never_an_entry() -> None:
    rng = random.Random(7)
    # Passing the door 3 m out at 1.3 m/s: -67 dBm at the closest, 4 dB of noise per advert.
    signals: list[fusion.Signal] = []
    for second in range(16):
        x = -10 + 1.3 * second
        distance = (x * x + 9) ** 0.5
        mean = -59 - 20 * math.log10(distance)
        signals.append(door(round(mean + rng.gauss(0, 3)), T0 + second))
        signals.append(floor(round(-86 + rng.gauss(0, 2)), T0 + second + 0.5))
    state, events = play(signals, until=T0 + 60)
    assert "entered" not in kinds(events)
    assert kinds(events) == ["walk_by"]
    assert not state.visit_open


def test_a_walk_by_whose_door_reading_rises_and_falls_is_not_an_entry() -> None:
    # A passer 2.5 m from the door gateway: one lucky advert at -60 (what one reading needed
    # before), a pair at -64 within 3 s, the phone hearing the entrance beacon through the glass.
    readings = [-72, -68, -64, -60, -64, -67, -71, -75]
    signals: list[fusion.Signal] = [door(r, T0 + i) for i, r in enumerate(readings)]
    signals += [door_beacon(-72 + (i % 3), T0 + i / 3 + 0.1) for i in range(24)]
    state, events = play(signals, until=T0 + 60)
    assert "entered" not in kinds(events)
    assert not state.visit_open


def test_two_doorway_readings_in_a_row_enter_at_the_second() -> None:
    # Walking through the 2 m door: about 1 m from the antenna for two adverts.
    state, events = play([door(-70, T0), door(-58, T0 + 1), door(-57, T0 + 2)])
    assert kinds(events) == ["entered"]
    assert events[0].at == T0 + 2 and state.state == PresenceState.ENTRANCE


def test_door_readings_too_far_apart_do_not_add_up() -> None:
    gap = PARAMS.entry_confirm_window_s + 1
    state, events = play([door(-58, T0), door(-58, T0 + gap), door(-58, T0 + 2 * gap)])
    assert "entered" not in kinds(events)


def test_the_phone_hearing_the_entrance_beacon_confirms_a_door_reading() -> None:
    # One door reading not sure by itself, then the app hears the door's beacon close by.
    signals: list[fusion.Signal] = [door(-60, T0)]
    signals += [door_beacon(-62, T0 + 0.3 * (i + 1)) for i in range(3)]
    state, events = play(signals)
    assert kinds(events) == ["entered"]
    assert events[0].at == T0 + 0.9 and state.visit_open


BAY = Place(PlaceKind.BAY, "bay-1")


def curb(rssi: int, at: float) -> GatewayReading:
    return GatewayReading("gw-curbside", BAY, rssi, 0.0, at, "customer_tag", "car tag")


def curb_phone(rssi: int, at: float) -> GatewayReading:
    return GatewayReading("gw-curbside", BAY, rssi, 0.0, at)


def door_tag(rssi: int, at: float) -> GatewayReading:
    return GatewayReading("gw-entrance", DOOR, rssi, 0.0, at, "customer_tag", "car tag")


def test_a_car_waiting_nearest_the_bay_gateway_arrives_at_the_bay() -> None:
    # A car 4 m from the facade gateway (-71 dBm): below the door's threshold, but no other
    # gateway hears it as well, so the bay is where it is, once that has held bay_arrival_s.
    signals: list[fusion.Signal] = [curb(-71, T0 + s) for s in range(10)]
    signals += [door_tag(-88, T0 + s + 0.5) for s in range(0, 10, 3)]
    state, events = play(signals)
    assert kinds(events) == ["entered", "curbside"]
    assert events[0].at == T0 + PARAMS.bay_arrival_s and events[0].place == "bay-1"
    assert events[0].reasons[0]["detail"] == "car tag" and events[0].confidence > 0.5
    assert state.state == PresenceState.BAY and state.place == "bay-1"


def test_a_passer_under_the_bay_gateway_for_a_moment_is_no_arrival() -> None:
    state, events = play([curb(-62, T0), curb(-60, T0 + 1)], until=T0 + 40)
    assert "entered" not in kinds(events) and not state.visit_open


def test_a_car_that_drives_off_exits_quickly() -> None:
    # Its tag fades at the post, then falls silent: no absolute floor ends the bay, the silence
    # does, after the gateway's keepalive plus a few of its usual gaps (Evidence.fresh).
    signals: list[fusion.Signal] = [curb(-71, T0 + s) for s in range(60)]
    signals += [curb(-71 - 4 * i, T0 + 60 + i) for i in range(1, 6)]
    state, events = play(signals, until=T0 + 90)
    exited = [e for e in events if e.kind == "exited"]
    silent = PARAMS.report_keepalive_s + PARAMS.silence_gaps
    assert len(exited) == 1 and exited[0].at <= T0 + 65 + silent + PARAMS.exit_after_s + 1


def test_someone_missed_at_the_door_who_walks_into_a_zone_has_entered() -> None:
    # The door gateway never heard them well; the app hears the dresses beacon up close.
    signals: list[fusion.Signal] = [
        BeaconReport("bcn-dresses", DRESSES, -62, T0 + s) for s in range(40)
    ]
    state, events = play(signals)
    assert kinds(events)[:2] == ["entered", "zone_entered"]
    assert events[0].at <= T0 + PARAMS.inside_entry_s + 1
    assert state.state == PresenceState.ZONE and state.place == "dresses"


def test_a_shopper_standing_at_the_front_of_the_store_does_not_flap_with_the_entrance() -> None:
    # Three to four metres in from the door: its gateway reads about the entry threshold.
    state = entered()
    rng = random.Random(5)
    places = []
    for second in range(1, 600):
        t = T0 + 10 + second
        signals: list[fusion.Signal] = [door(round(-70 + rng.gauss(0, 4)), t)]
        if second % 10 == 0:
            signals.append(floor(-77, t + 0.5))
        state = fusion.fuse(state, signals, PARAMS, t + 0.5).state
        places.append(state.state)
    changes = sum(1 for a, b in zip(places, places[1:], strict=False) if a != b)
    assert changes <= 1  # leaves the entrance once, then stays on the floor
    assert state.state == PresenceState.INSIDE and state.visit_open


def test_a_phone_lying_still_near_a_zone_border_does_not_flap() -> None:
    state = entered()
    rng = random.Random(3)
    signals: list[fusion.Signal] = []
    for second in range(1, 600):
        t = T0 + 10 + second
        # Both zones' beacons about equally strong, each reading 4 dB noisy.
        signals.append(BeaconReport("bcn-dresses", DRESSES, round(-70 + rng.gauss(0, 4)), t))
        signals.append(BeaconReport("bcn-shoes", SHOES, round(-71 + rng.gauss(0, 4)), t + 0.3))
        if second % 10 == 0:
            signals.append(floor(-74, t + 0.6))
    state, events = play(signals, state)
    changes = [e for e in events if e.kind in ("zone_entered", "zone_dwell")]
    assert len(changes) <= 3  # settles once (entering a zone), then holds for ten minutes
    assert state.state == PresenceState.ZONE


def test_a_phone_that_goes_silent_leaves_within_the_lost_timeout() -> None:
    state, events = play([door(SURE, T0), floor(-75, T0 + 5), floor(-76, T0 + 15)], until=T0 + 60)
    exits = [e for e in events if e.kind == "exited"]
    assert len(exits) == 1
    assert exits[0].at <= T0 + 15 + PARAMS.lost_timeout_s
    assert not state.visit_open


def test_walking_out_through_the_door_exits_before_the_lost_timeout() -> None:
    signals: list[fusion.Signal] = [door(SURE, T0), floor(-74, T0 + 10), door(-58, T0 + 30)]
    signals += [door(-72 - 3 * i, T0 + 31 + i) for i in range(6)]
    signals += [floor(-88, T0 + 31), floor(-90, T0 + 35)]
    state, events = play(signals, until=T0 + 45)
    assert kinds(events)[0] == "entered" and kinds(events)[-1] == "exited"
    assert events[-1].at < T0 + 31 + PARAMS.lost_timeout_s


def test_walking_out_of_a_zone_leaves_it_after_the_dwell_wherever_the_evidence_wavers() -> None:
    # In the dresses zone for a minute, then by the door: the estimate goes doorway, floor,
    # doorway, floor... two seconds each. The zone is left MIN_DWELL_S after the
    # zone's evidence went, not when one of those places has held for MIN_DWELL_S.
    state = entered()
    zone = [BeaconReport("bcn-dresses", DRESSES, -62, T0 + 5 + s) for s in range(60)]
    state, events = play([*zone, floor(-74, T0 + 60)], state)
    assert state.state == PresenceState.ZONE and state.place == "dresses"
    left = T0 + 65
    walk: list[fusion.Signal] = []
    for i in range(12):
        t = left + i
        walk.append(BeaconReport("bcn-dresses", DRESSES, -90, t))
        walk.append(floor(-74, t + 0.2))
        # In the doorway for two seconds, then by it for two, and so on.
        walk.append(door(-40 if i % 4 < 2 else -92, t + 0.5))
    state, events = play(walk, state)
    moved = [e for e in events if e.kind == "zone_dwell"]
    assert len(moved) == 1
    assert moved[0].at <= left + 1 + PARAMS.min_dwell_s + 1
    assert state.state != PresenceState.ZONE


def test_out_of_order_and_far_off_readings_are_ignored_with_a_reason() -> None:
    state = entered(T0)
    state, _ = play([floor(-74, T0 + 20)], state)
    fused = fusion.fuse(
        state,
        [
            door(-50, T0 + 10),  # older than the last fused reading: where she was, not is
            door(-50, T0 + 20 + 3600),  # an hour in the future
            door(-50, T0 + 20 - 3600),  # an hour in the past
        ],
        PARAMS,
        T0 + 21,
    )
    assert fused.ignored == {
        fusion.IGNORED_OUT_OF_ORDER: 1,
        fusion.IGNORED_FUTURE: 1,
        fusion.IGNORED_STALE: 1,
    }
    assert fused.events == [] and fused.state == state


def tag_at(gateway: str, place: Place, rssi: int, at: float) -> GatewayReading:
    return GatewayReading(gateway, place, rssi, 0.0, at, "customer_tag", "key fob")


def test_her_tag_and_her_phone_are_each_their_own_evidence_at_one_gateway() -> None:
    # One gateway hears her key fob 16 dB above her pocketed phone, a few tenths of a second
    # apart and uploaded out of order: both count, neither smooths the other's level.
    state = entered(T0)
    fused = fusion.fuse(
        state,
        [tag_at("gw-floor", FLOOR, -70, T0 + 10.4), floor(-86, T0 + 10.1)],
        PARAMS,
        T0 + 11,
    )
    assert not fused.ignored
    floor_levels = sorted(
        (e.signal, e.level) for e in fused.state.evidence if e.source == "gateway:gw-floor"
    )
    assert floor_levels == [("customer_tag", -70.0), ("eddystone_eid", -86.0)]


def test_a_shopper_with_a_tag_is_placed_by_one_transmitter_across_gateways() -> None:
    # At the back of the store the floor gateway hears her fob at -73 and her pocketed phone
    # at -90; the door gateway hears only the fob, at -79. The fob reads steadily, so the
    # gateways report it on their keepalive (every 10 s); the phone's level wavers, so it is
    # reported every second. Read transmitter by transmitter she is in the store; the door's
    # fob against the floor's phone (-79 against -90) would put her on the pavement.
    signals: list[fusion.Signal] = []
    for s in range(0, 120, 10):
        signals += [
            tag_at("gw-floor", FLOOR, -73, T0 + 5 + s),
            tag_at("gw-entrance", DOOR, -79, T0 + 5.3 + s),
        ]
    signals += [floor(-90 + s % 2, T0 + 5.6 + s) for s in range(120)]
    state, events = play(signals, entered(T0), until=T0 + 126)
    assert state.visit_open and "exited" not in kinds(events)
    assert state.state != PresenceState.OUTSIDE


def test_far_future_reading_is_never_an_arrival() -> None:
    fused = fusion.fuse(None, [door(-40, T0 + 3600)], PARAMS, T0)
    assert fused.events == [] and not fused.state.visit_open


def test_a_check_in_at_a_bay_during_a_visit_places_her_there_at_once() -> None:
    state = entered()
    bay = Place(PlaceKind.BAY, "bay-3")
    state, events = play([CheckIn(bay, T0 + 1)], state)
    assert state.state == PresenceState.BAY and state.place == "bay-3"
    assert kinds(events) == ["curbside"] and events[0].at == T0 + 1


def test_restore_rebuilds_an_open_visit_without_events() -> None:
    state = fusion.restore((T0, T0 + 5), [floor(-74, T0 + 4), floor(-73, T0 + 5)], PARAMS)
    assert state.visit_open and state.state == PresenceState.INSIDE
    assert fusion.fuse(state, [floor(-74, T0 + 6)], PARAMS, T0 + 6).events == []


def test_a_window_shopper_one_and_a_half_metres_from_the_glass_is_never_an_entry() -> None:
    # Looking at the window 1.5 m in front of the glass, 3 m beside the door, for two minutes:
    # about -69 dBm at the door gateway, 4 dB of noise per advert, the floor gateway behind the
    # glass at -86, and the phone hearing the entrance beacon through the glass.
    rng = random.Random(11)
    signals: list[fusion.Signal] = []
    for second in range(120):
        t = T0 + second
        signals.append(door(round(-69 + rng.gauss(0, 3)), t))
        signals.append(floor(round(-86 + rng.gauss(0, 2)), t + 0.4))
        signals.append(door_beacon(round(-75 + rng.gauss(0, 3)), t + 0.7))
    state, events = play(signals, until=T0 + 200)
    assert "entered" not in kinds(events) and not state.visit_open
    assert kinds(events) == ["walk_by"]  # once she has gone


def test_walk_by_fires_only_once_the_passer_is_gone_never_before_an_entry() -> None:
    passing = [door(-72 + (s % 3), T0 + s) for s in range(8)]
    state, events = play(passing, until=T0 + 7 + PARAMS.walk_by_gone_s - 1)
    assert events == []  # still in front of the shop, or only just gone: not yet a walk-by
    state, events = play([], state, until=T0 + 7 + PARAMS.walk_by_gone_s + 1)
    assert kinds(events) == ["walk_by"]
    walk_by = events[0]
    assert walk_by.at >= T0 + 7 + PARAMS.walk_by_gone_s
    assert {r["signal"] for r in walk_by.reasons} == {"near_shop_front", "gone"}
    # Someone who lingers at the window and then steps in gets an entry and no walk-by.
    state, events = play([*passing, door(-58, T0 + 8), door(-56, T0 + 9)], until=T0 + 60)
    assert "walk_by" not in kinds(events) and kinds(events)[0] == "entered"


def test_a_dwell_event_fires_while_dwelling_then_the_total_on_leaving() -> None:
    state = entered()
    at_rail = [BeaconReport("bcn-dresses", DRESSES, -62, T0 + 5 + s) for s in range(90)]
    state, events = play(at_rail, state)
    dwell = [e for e in events if e.kind == "zone_dwell"]
    zone_entered = next(e for e in events if e.kind == "zone_entered")
    assert len(dwell) == 1 and dwell[0].place == "dresses"
    # While still at the rail, her minute counted from when the evidence placed her there
    # (the minimum dwell before she was shown there).
    assert dwell[0].at == zone_entered.at - PARAMS.min_dwell_s + PARAMS.zone_dwell_s
    assert dwell[0].dwell_s == PARAMS.zone_dwell_s and dwell[0].reasons
    assert state.state == PresenceState.ZONE
    state, events = play([door(-55, T0 + 200)], state)
    [total] = [e for e in events if e.kind == "zone_dwell"]
    assert total.dwell_s is not None and total.dwell_s > 80


def test_a_dwell_is_reached_on_the_clock_between_a_quiet_phones_reports() -> None:
    # A phone in a pocket: the rail's beacon heard every 8 s. The dwell is due between two
    # reports; the clock (advance, as the sweep runs it) fires it on time. (Every 9 s until
    # the zone had to hold two of the phone's gaps: that put the dwell on a report by chance.)
    state = entered()
    events: list[fusion.PresenceEvent] = []
    for second in range(1, 30 + int(PARAMS.zone_dwell_s) + 20):
        t = T0 + second
        if second % 8 == 0:
            fused = fusion.fuse(state, [BeaconReport("bcn-dresses", DRESSES, -62, t)], PARAMS, t)
        else:
            fused = fusion.advance(state, PARAMS, t)
        state, events = fused.state, events + fused.events
    [dwell] = [e for e in events if e.kind == "zone_dwell"]
    # Her minute counts from when the beacon placed her there: once the door's sure reading
    # is no longer current.
    assert dwell.at == T0 + PARAMS.evidence_ttl_s + 1 + PARAMS.zone_dwell_s
    assert (dwell.at - T0) % 8 != 0  # not at a report: on the clock


def test_a_check_in_enters_at_once_with_its_confidence_and_reason() -> None:
    state, events = play([CheckIn(Place(PlaceKind.ENTRANCE, "entrance"), T0)])
    assert kinds(events) == ["entered"]
    assert events[0].confidence == PARAMS.check_in_confidence
    assert events[0].reasons == ({"signal": "check_in", "place": "entrance"},)
    assert state.visit_open
    state, events = play([CheckIn(BAY, T0)])
    assert kinds(events) == ["entered", "curbside"] and state.place == "bay-1"


def test_every_tunable_is_a_field_of_fusion_params() -> None:
    # No module constant of fusion steers a decision: each is a FusionParams field (the bench
    # sweeps them by flag); the constants left are input validity and presentation.
    constants = {name for name in vars(fusion) if name.isupper()}
    assert constants == {
        "ARRIVAL_KINDS",
        "VISIT_STATES",
        "IGNORED_FUTURE",
        "IGNORED_STALE",
        "IGNORED_OUT_OF_ORDER",
        "IGNORED_RSSI",
        "RSSI_RANGE_DBM",
        "REORDER_TOLERANCE_S",
        "MAX_CLOCK_SKEW_S",
        "BASE_CONFIDENCE",
        "FULL_CONFIDENCE_MARGIN_DB",
        "AGREEMENT_BONUS",
        "APP_FOREGROUND",
        "APP_BACKGROUND",
        "REGION_ENTER",
        "REGION_EXIT",
    }


def test_a_pocketed_phone_that_only_reports_beacons_is_placed_by_the_nearest_one() -> None:
    # An iPhone or a cached Android app: no gateway hears it. In a pocket, its body takes 8 dB
    # off the dresses beacon (-76 instead of -68), which is still the beacon it hears best.
    signals: list[fusion.Signal] = []
    for s in range(40):
        signals.append(BeaconReport("bcn-dresses", DRESSES, -76, T0 + s))
        signals.append(BeaconReport("bcn-shoes", SHOES, -84, T0 + s + 0.3))
    state, events = play(signals)
    assert kinds(events)[:2] == ["entered", "zone_entered"]
    assert state.state == PresenceState.ZONE and state.place == "dresses"


def test_the_body_allowance_goes_only_to_the_nearest_beacon() -> None:
    # Between two zones, both beacons weak: the weaker one never places her in its zone.
    beacons = [
        fusion.Evidence("beacon:bcn-dresses", "phone_beacon", DRESSES, -75.0, -75.0, T0),
        fusion.Evidence("beacon:bcn-shoes", "phone_beacon", SHOES, -77.0, -77.0, T0),
    ]
    estimate = fusion.locate(beacons, PARAMS, T0 + 1, visit_open=True)
    assert (estimate.state, estimate.place) == (PresenceState.ZONE, "dresses")


def test_a_beacon_only_phone_hearing_the_door_beacon_best_is_no_entry_but_stays_in() -> None:
    # Outside, the entrance beacon is the nearest: never an entry on its own ...
    outside = [door_beacon(-74, T0 + s) for s in range(60)]
    state, events = play(outside)
    assert "entered" not in kinds(events) and not state.visit_open
    # ... during a visit it is the front of the store: still in until it fades away.
    inside = [door_beacon(-74, T0 + 100 + s) for s in range(30)]
    state, events = play(inside, state=entered(T0 + 99))
    assert "exited" not in kinds(events) and state.visit_open


def test_a_phone_reporting_seldom_stays_placed_between_its_scan_windows() -> None:
    # An Android app in the background scans 0.5 s every 10 s and misses beacons now and then:
    # the zone's beacon reported every 10 s, once 25 s apart, keeps her in the zone.
    times = {0, 10, 20, 30, 55, 65, 75}
    state, events = PersonState(), list[fusion.PresenceEvent]()
    for second in range(80):  # the sweep runs every second between the reports
        t = T0 + second
        if second in times:
            fused = fusion.fuse(state, [BeaconReport("bcn-dresses", DRESSES, -66, t)], PARAMS, t)
            state, events = fused.state, events + fused.events
        fused = fusion.advance(state, PARAMS, t + 0.5)
        state, events = fused.state, events + fused.events
    assert kinds(events)[0] == "entered" and state.visit_open
    assert "exited" not in kinds(events)
    assert state.state == PresenceState.ZONE and state.place == "dresses"


def test_one_stray_report_of_a_slow_phone_does_not_move_it() -> None:
    # A background phone reports the dresses beacon every 10 s; once, between two of those,
    # it hears the shoes beacon stronger. A new place must be heard for two of its gaps.
    state = entered(T0 - 1)
    signals: list[fusion.Signal] = [
        BeaconReport("bcn-dresses", DRESSES, -64, T0 + s) for s in range(0, 200, 10)
    ]
    signals.append(BeaconReport("bcn-shoes", SHOES, -50, T0 + 101))
    state, events = play(signals, state=state, until=T0 + 200)
    zones = [e.place for e in events if e.kind == "zone_entered"]
    assert zones == ["dresses"]


def test_a_phone_in_a_car_heard_weakly_but_nearest_the_bay_gateway_is_at_the_bay() -> None:
    # A phone in a bag in a car: -86 dBm at its bay's post, far under any absolute floor, but
    # the post leads the floor gateway (-93) by 7 dB: the bay, with both in the reasons.
    signals: list[fusion.Signal] = [curb_phone(-86, T0 + s) for s in range(10)]
    signals += [floor(-93, T0 + s + 0.5) for s in range(0, 10, 2)]
    state, events = play(signals)
    assert kinds(events) == ["entered", "curbside"]
    assert state.state == PresenceState.BAY and state.place == "bay-1"
    assert [r.get("gateway") for r in events[0].reasons] == ["gw-curbside", "gw-floor"]


def test_a_bay_gateway_without_a_clear_lead_places_nobody() -> None:
    # The post and the floor gateway read alike (someone on the pavement between them).
    signals: list[fusion.Signal] = [curb_phone(-86, T0 + s) for s in range(15)]
    signals += [floor(-85, T0 + s + 0.5) for s in range(15)]
    state, events = play(signals)
    assert "curbside" not in kinds(events) and state.state != PresenceState.BAY


def test_the_bay_holds_until_another_gateway_clearly_leads() -> None:
    waiting: list[fusion.Signal] = [curb_phone(-84, T0 + s) for s in range(10)]
    state, _ = play(waiting)
    assert state.state == PresenceState.BAY
    # The floor gateway creeps up to 2 dB over the post: within the hysteresis, still the bay.
    closer: list[fusion.Signal] = [curb_phone(-84, T0 + 10 + s) for s in range(10)]
    closer += [floor(-82, T0 + 10.5 + s) for s in range(10)]
    state, events = play(closer, state)
    assert state.state == PresenceState.BAY and "exited" not in kinds(events)
    # Then it leads by 8 dB for long: she has walked into the store.
    inside: list[fusion.Signal] = [floor(-76, T0 + 20.5 + s) for s in range(15)]
    inside += [curb_phone(-84, T0 + 20 + s) for s in range(15)]
    state, _ = play(inside, state)
    assert state.state != PresenceState.BAY


def background(at: float, region: str | None = None) -> fusion.PhoneReport:
    return fusion.PhoneReport(at, fusion.APP_BACKGROUND, region)


def test_a_sleeping_iphone_still_in_the_region_has_entered_and_a_region_exit_closes_at_once() -> (
    None
):
    # Woken 25 m down the street: ten seconds of weak door-beacon readings, then silence.
    signals: list[fusion.Signal] = [background(T0, fusion.REGION_ENTER)]
    signals += [door_beacon(-90, T0 + 1 + s) for s in range(10)]
    state, events = play(signals, until=T0 + 600)
    # Entered once still in the region after region_entry_s; then ten minutes of silence while
    # she shops: the app sleeps, the visit holds.
    assert kinds(events) == ["entered"] and state.visit_open
    assert events[0].at == T0 + PARAMS.region_entry_s
    assert events[0].confidence == PARAMS.region_entry_confidence
    assert events[0].reasons[0]["signal"] == "region_enter"
    state, events = play([background(T0 + 601, fusion.REGION_EXIT)], state)
    assert kinds(events) == ["exited"] and events[0].at == T0 + 601
    assert events[0].confidence == PARAMS.region_exit_confidence
    assert events[0].reasons == ({"signal": "region_exit", "app_state": "background"},)


def test_a_passer_whose_region_is_left_in_time_never_enters() -> None:
    signals: list[fusion.Signal] = [background(T0, fusion.REGION_ENTER)]
    signals += [door_beacon(-88, T0 + 1 + s) for s in range(10)]
    signals.append(background(T0 + 60, fusion.REGION_EXIT))
    state, events = play(signals, until=T0 + 300)
    assert "entered" not in kinds(events) and not state.visit_open


def test_a_region_exit_while_a_gateway_hears_her_closes_nothing() -> None:
    state, events = play([door(SURE, T0), background(T0 + 1, fusion.REGION_EXIT)])
    assert kinds(events) == ["entered"] and state.visit_open


def test_a_foreground_app_in_the_region_is_not_entered_by_the_region_alone() -> None:
    told = fusion.PhoneReport(T0, fusion.APP_FOREGROUND, fusion.REGION_ENTER)
    state, events = play([told], until=T0 + 300)
    assert events == [] and not state.visit_open


def run(
    signals: Sequence[fusion.Signal], params: FusionParams, until: float, state: PersonState
) -> tuple[PersonState, list[fusion.PresenceEvent]]:
    """Signals at their own time with the sweep every second between them, up to `until`."""
    pending = sorted(signals, key=fusion.signal_time)
    events: list[fusion.PresenceEvent] = []
    t = pending[0].seen_at if pending else until
    while t <= until:
        while pending and pending[0].seen_at <= t:
            fused = fusion.fuse(state, [pending.pop(0)], params, t)
            state, events = fused.state, events + fused.events
        fused = fusion.advance(state, params, t)
        state, events = fused.state, events + fused.events
        t += 1.0
    return state, events


def at_the_back(start: float, seconds: int) -> list[fusion.Signal]:
    """A pocket phone at the back of the store: both gateways read it weak and alike."""
    return [floor(-88, start + s) if s % 2 else door(-89, start + s) for s in range(seconds)]


def test_a_pocket_phone_at_the_back_of_the_store_stays_in_its_visit() -> None:
    # She walks in and browses the front (the floor gateway at -75), then stands at the back
    # rail for five minutes, where the floor gateway reads -88 and the door -89: no more than
    # the door, so no pavement; the visit holds (inside_hold_db under inside_min_dbm).
    walk_in = [floor(-75, T0 + s) for s in range(1, 40)]
    signals = walk_in + at_the_back(T0 + 40, 300)
    state, events = run(signals, PARAMS, T0 + 340, entered(T0))
    assert kinds(events) == [] and state.visit_open
    assert state.state == PresenceState.INSIDE
    # Without the hold the same trace closes the visit: the rule is what keeps her in.
    _, unheld = run(signals, replace(PARAMS, inside_hold_db=0.0), T0 + 340, entered(T0))
    assert "exited" in kinds(unheld)


def test_walking_out_through_the_door_lifts_the_hold_and_exits_promptly() -> None:
    # The same shopper leaves: the door reads her at -65 as she passes it, then she walks off
    # along the pavement, where both gateways read her as weakly as at the back rail.
    walk_in = [floor(-75, T0 + s) for s in range(1, 40)]
    out = T0 + 120
    leaving = [door(-65, out), *at_the_back(out + 1, 20)]
    signals = walk_in + at_the_back(T0 + 40, 80) + leaving
    state, events = run(signals, PARAMS, out + 30, entered(T0))
    exits = [e.at for e in events if e.kind == "exited"]
    assert len(exits) == 1 and out < exits[0] <= out + 10
    assert not state.visit_open
    # Without the door's word she would be held inside on the pavement until lost.
    _, held = run(signals, replace(PARAMS, door_passage_s=0.0), out + 30, entered(T0))
    assert "exited" not in kinds(held)


def test_a_door_passage_supersedes_the_zone_a_seldom_reporting_phone_heard_before() -> None:
    # A phone that scans every 10 s placed her in the dresses zone; she walks out through the
    # door (its beacon at -66) and down the street, the dresses beacon not heard again: the
    # zone's last sighting, still fresh, no longer holds her once she has passed the door.
    dresses = [BeaconReport("bcn-dresses", DRESSES, -66, T0 + s) for s in range(0, 100, 10)]
    out = T0 + 100
    leaving = [door_beacon(-66, out)] + [door_beacon(-95, out + s) for s in range(2, 20, 2)]
    state, events = run([*dresses, *leaving], PARAMS, out + 25, PersonState())
    assert kinds(events)[:2] == ["entered", "zone_entered"]
    exits = [e.at for e in events if e.kind == "exited"]
    assert len(exits) == 1 and out < exits[0] <= out + 10


def test_a_phone_that_only_hears_beacons_enters_when_the_door_beacon_does_not_dominate() -> None:
    # An iPhone near the front ranges the dresses beacon at -80 and the door's at -76: in-store
    # range, and the door stronger but not by 9 dB (a passer hears the door's beacon 10 dB and
    # more above any in-store one through the glass).
    signals: list[fusion.Signal] = []
    for s in range(30):
        signals += [BeaconReport("bcn-dresses", DRESSES, -80, T0 + s), door_beacon(-76, T0 + s)]
    state, events = run(signals, PARAMS, T0 + 30, PersonState())
    assert kinds(events) == ["entered"] and state.state == PresenceState.INSIDE


def test_a_passer_whose_phone_hears_the_door_beacon_far_stronger_never_enters() -> None:
    # On the pavement: the door's beacon at -72, the dresses beacon through the glass at -86,
    # for as long as a window shopper stands there, then the door's beacon from down the street.
    signals: list[fusion.Signal] = []
    for s in range(60):
        signals += [BeaconReport("bcn-dresses", DRESSES, -82, T0 + s), door_beacon(-72, T0 + s)]
    signals += [door_beacon(-92, T0 + s) for s in range(60, 90, 3)]
    _, events = run(signals, PARAMS, T0 + 100, PersonState())
    assert "entered" not in kinds(events)


def test_an_in_store_sighting_confirmed_only_by_the_door_from_down_the_street_is_no_entry() -> None:
    # A cached Android passer's one scan hears an in-store beacon at -79 (the door's at -86);
    # its next scans hear only the door's beacon, weaker and weaker, as she walks on: no
    # in-store source heard again after the inside hold, so no visit.
    signals: list[fusion.Signal] = [
        BeaconReport("bcn-books", DRESSES, -79, T0),
        door_beacon(-86, T0),
        door_beacon(-90, T0 + 10),
        door_beacon(-95, T0 + 20),
    ]
    _, events = run(signals, PARAMS, T0 + 40, PersonState())
    assert "entered" not in kinds(events)


def test_a_pocket_phone_missing_its_zone_beacon_for_a_few_scans_stays_in_the_zone() -> None:
    # A background Android phone (adverts heard by the floor gateway every second) scans every
    # 10 s and hears the dresses beacon at -66 in most scans; three scans in a row miss it.
    # Nothing places her elsewhere, so she stays in the zone: no zone -> floor -> zone flap.
    seen = [s for s in range(0, 200, 10) if s not in (100, 110, 120)]
    signals: list[fusion.Signal] = [BeaconReport("bcn-dresses", DRESSES, -66, T0 + s) for s in seen]
    signals += [floor(-80, T0 + s + 0.5) for s in range(200)]
    state, events = run(signals, PARAMS, T0 + 200, entered(T0 - 1))
    assert [e.kind for e in events if e.kind != "zone_dwell"] == ["zone_entered"]
    assert state.state == PresenceState.ZONE and state.place == "dresses"
    # Without the hold on her zone's silence, it moves her to the floor and back.
    _, flapping = run(signals, replace(PARAMS, zone_silence_hold_s=0.0), T0 + 200, entered(T0 - 1))
    assert kinds(flapping).count("zone_entered") > 1


def test_a_shopper_at_a_zone_edge_whose_pocket_hides_the_beacon_for_minutes_does_not_flap() -> None:
    # A background Android phone in a bag at the edge of the dresses zone, her back to its
    # beacon: the floor gateway hears her adverts every second at -86..-90, her scans (every
    # 10 s) catch the dresses beacon at -78 twice, then for two and a half minutes only the
    # door's beacon far away (-93), then the dresses beacon again. Nothing says she left.
    rng = random.Random(7)
    scans = range(0, 240, 10)
    signals: list[fusion.Signal] = [
        BeaconReport("bcn-dresses", DRESSES, -78, T0 + s) for s in scans if s < 20 or s >= 180
    ]
    signals += [door_beacon(-93, T0 + s + 0.2) for s in scans]
    signals += [floor(round(-88 + rng.gauss(0, 2)), T0 + s + 0.5) for s in range(240)]
    state, events = run(signals, PARAMS, T0 + 240, entered(T0 - 1))
    assert [e.kind for e in events if e.kind != "zone_dwell"] == ["zone_entered"]
    assert state.state == PresenceState.ZONE and state.place == "dresses"
    # Her dwell campaign's minute is reached while she is still at the rail, unheard.
    zone_entered = next(e for e in events if e.kind == "zone_entered")
    [dwell] = [e for e in events if e.kind == "zone_dwell"]
    assert dwell.at == zone_entered.at - PARAMS.dwell_gaps * 10 + PARAMS.zone_dwell_s < T0 + 180
    # Her scans' own gaps (zone_silence_gaps) alone held her 40 s: then the floor, and back,
    # and the minute is not reached while she stands there unheard.
    _, flapping = run(signals, replace(PARAMS, zone_silence_hold_s=0.0), T0 + 240, entered(T0 - 1))
    assert kinds(flapping).count("zone_entered") > 1
    assert not any(
        e.kind == "zone_dwell" and e.dwell_s == PARAMS.zone_dwell_s and e.at < T0 + 180
        for e in flapping
    )


def test_one_faded_up_door_reading_does_not_take_a_pocket_phone_out_of_its_zone() -> None:
    # At the dresses rail 7 m from the door gateway: it reads her pocket phone at -88, once
    # faded up to -66 (the doorway level); the floor gateway reads her at -82, her scans miss
    # the zone's beacon meanwhile. A doorway reading supersedes older in-store readings, but
    # it does not place her at the door: nothing says she left the rail.
    signals: list[fusion.Signal] = [
        BeaconReport("bcn-dresses", DRESSES, -70, T0 + s) for s in (0, 10, 20, 30, 150)
    ]
    signals += [floor(-82, T0 + s + 0.5) for s in range(160)]
    signals += [door(-66 if s == 40 else -88, T0 + s + 0.7) for s in range(160)]
    state, events = run(signals, PARAMS, T0 + 160, entered(T0 - 1))
    assert kinds(events).count("zone_entered") == 1
    assert state.state == PresenceState.ZONE and state.place == "dresses"
    assert "exited" not in kinds(events)


def test_a_zone_beacon_heard_weak_moves_her_out_of_the_zone() -> None:
    # The same phone walks from the rail to the middle of the floor: its next scans hear the
    # dresses beacon at -92 (under the level that holds a zone), the floor gateway at -75.
    signals: list[fusion.Signal] = [
        BeaconReport("bcn-dresses", DRESSES, -66, T0 + s) for s in range(0, 60, 10)
    ]
    signals += [BeaconReport("bcn-dresses", DRESSES, -92, T0 + s) for s in range(60, 120, 10)]
    signals += [floor(-82 if s < 60 else -75, T0 + s + 0.5) for s in range(120)]
    state, _ = run(signals, PARAMS, T0 + 120, entered(T0 - 1))
    assert state.visit_open and state.state == PresenceState.INSIDE


def test_a_phone_ranging_every_second_that_stops_hearing_its_zone_leaves_it() -> None:
    # An iPhone in the foreground ranges the dresses beacon every second, then walks to the
    # middle of the floor, where it hears it at -90 and the floor's own beacon at -75: the
    # zone's silence is short in its terms, and the weak readings are no reason to hold.
    signals: list[fusion.Signal] = [
        BeaconReport("bcn-dresses", DRESSES, -66, T0 + s) for s in range(60)
    ]
    for s in range(60, 120):
        signals += [
            BeaconReport("bcn-dresses", DRESSES, -90, T0 + s),
            BeaconReport("bcn-till", FLOOR, -75, T0 + s),
        ]
    # Twenty seconds after she left: on the floor, still in her visit.
    state, _ = run(signals, PARAMS, T0 + 80, entered(T0 - 1))
    assert state.visit_open and state.state == PresenceState.INSIDE


def test_a_cached_phone_at_a_rail_hearing_only_the_far_door_beacon_for_a_while_stays() -> None:
    # An Android app the OS has cached scans every 10 s: at the shoes rail it hears its beacon
    # at -70 in most scans, but three scans in a row catch only the door's beacon at -95. The
    # door far and never passed: the silence of her zone's beacon keeps her in the zone.
    seen = [s for s in range(0, 200, 10) if s not in (100, 110, 120)]
    signals: list[fusion.Signal] = [BeaconReport("bcn-shoes", SHOES, -70, T0 + s) for s in seen]
    signals += [door_beacon(-95, T0 + s + 1) for s in (100, 110, 120)]
    state, events = run(signals, PARAMS, T0 + 200, entered(T0 - 1))
    assert "exited" not in kinds(events)
    assert state.state == PresenceState.ZONE and state.place == "shoes"
    # Counting seconds instead of her scans, the visit closes at the rail and opens again.
    _, closed = run(signals, replace(PARAMS, zone_silence_gaps=0.0), T0 + 200, entered(T0 - 1))
    assert "exited" in kinds(closed)


# A door watched from both sides (the door-pair layout): the door on y = 0 between x = -1 and
# x = 1, one gateway 1.5 m inside it and one 1.5 m out on the pavement, the glass front (3 dB)
# either side of the doorway. Each gateway reports a device about once a second.
DOOR_OUT = Place(PlaceKind.ENTRANCE, "entrance", outside=True)
PAIR_GATEWAYS = (("gw-door-in", DOOR, 1.5), ("gw-door-out", DOOR_OUT, -1.5))


def pair_readings(
    path: Sequence[tuple[float, float]], rng: random.Random, start: float = T0
) -> list[fusion.Signal]:
    """Both door gateways' readings of someone at `path[i]` (x, y) at second i (3 dB of noise,
    -59 dBm at 1 m, n = 2); the outside gateway reports half a second after the inside one."""
    signals: list[fusion.Signal] = []
    for second, (x, y) in enumerate(path):
        for offset, (name, place, gateway_y) in enumerate(PAIR_GATEWAYS):
            distance = max(0.3, math.hypot(x, y - gateway_y))
            through_glass = (y > 0) != (gateway_y > 0) and abs(x) > 1
            mean = -59 - 20 * math.log10(distance) - (3 if through_glass else 0)
            at = start + second + 0.5 * offset
            signals.append(GatewayReading(name, place, round(mean + rng.gauss(0, 3)), 0.0, at))
    return signals


def test_a_passer_along_a_door_pair_never_enters() -> None:
    # Walking along the pavement 2-3.3 m out at 1.3 m/s: the outside gateway reads every passer
    # at the doorway level, the inside one 3.5 m and more away, mostly through the glass.
    for seed in range(40):
        rng = random.Random(seed)
        y = -2.0 - 1.3 * rng.random()
        path = [(-12 + 1.3 * second, y) for second in range(20)]
        state, events = play(pair_readings(path, rng), until=T0 + 60)
        assert "entered" not in kinds(events), seed
        assert kinds(events) == ["walk_by"]
        assert not state.visit_open


def door_in(rssi: int, at: float) -> GatewayReading:
    return GatewayReading("gw-door-in", DOOR, rssi, 0.0, at)


def door_out(rssi: int, at: float) -> GatewayReading:
    return GatewayReading("gw-door-out", DOOR_OUT, rssi, 0.0, at)


def test_a_shopper_walking_in_through_a_door_pair_enters_within_two_seconds() -> None:
    # Walking in at 1.2 m/s, crossing the door line at T0 + 2.5, the phone in a pocket: the
    # inside gateway reads her at -66..-60 only (short of the level sum by itself), but after
    # the outside one read her at the doorway level and then no longer.
    crossed = T0 + 2.5
    signals: list[fusion.Signal] = []
    for second, (outside, inside) in enumerate([(-61, -75), (-52, -66), (-64, -62), (-74, -60)]):
        signals += [door_out(outside, T0 + second), door_in(inside, T0 + second + 0.1)]
    state, events = play(signals)
    assert kinds(events) == ["entered"]
    assert events[0].at - crossed <= 2.0
    assert events[0].reasons[-1] == {"signal": "passage", "from": "outside", "evidence_db": 10}
    # The same readings from a door watched from one side only: not (yet) an entry.
    one_sided = [
        s for s in signals if isinstance(s, GatewayReading) and s.gateway_id != "gw-door-out"
    ]
    assert "entered" not in kinds(play(one_sided)[1])


def test_a_passer_near_the_outside_gateway_is_no_passage_however_the_inside_one_reads_him() -> None:
    # The inside gateway reads a passer at the doorway level (a lucky advert, a strong link)
    # while the outside one still does, or has just lost one advert to a fade (-88).
    pairs = [(-66, -78), (-58, -69), (-52, -66), (-88, -64), (-56, -67), (-63, -74), (-71, -80)]
    signals: list[fusion.Signal] = []
    for second, (outside, inside) in enumerate(pairs):
        signals += [door_out(outside, T0 + second), door_in(inside, T0 + second + 0.1)]
    state, events = play(signals, until=T0 + 60)
    assert kinds(events) == ["walk_by"]
    assert not state.visit_open


def test_a_door_outside_zone_is_the_entrance_seen_from_the_pavement() -> None:
    outside = fusion.zone_place(ZoneKind.DOOR_OUTSIDE, "front-door-outside")
    assert outside == Place(PlaceKind.ENTRANCE, "front-door-outside", outside=True)
    assert fusion.zone_place(ZoneKind.ENTRANCE, "entrance") == DOOR
    assert fusion.zone_place(None, None) == FLOOR


def test_a_phone_advertising_every_second_silent_after_the_door_exits_within_10_s() -> None:
    # The floor gateway reads her every second, she passes the doorway (the door gateway
    # reports every reading at the entry threshold, AT_DOOR) and is heard no more: her
    # doorway readings not repeated within a few of her one-second gaps, she has left.
    walk = [floor(-75 - s % 3, T0 + s) for s in range(1, 60)]
    out = T0 + 61
    signals: list[fusion.Signal] = [*walk, door(-62, out - 1), door(-60, out)]
    state, events = run(signals, PARAMS, out + 40, entered(T0))
    exits = [e.at for e in events if e.kind == "exited"]
    assert len(exits) == 1 and out < exits[0] <= out + 10
    assert not state.visit_open


def test_a_cached_phones_usual_ten_second_gap_does_not_end_her_visit() -> None:
    # An Android app the OS has cached scans 0.5 s every 10.24 s: each scan reports the shoes
    # beacon, and every other one the door's far away. Ten seconds of silence, even twenty
    # when a scan misses, is her cadence, not her absence: five minutes, one visit.
    scans = [T0 + 10.24 * i for i in range(30) if i != 12]
    signals: list[fusion.Signal] = [BeaconReport("bcn-shoes", SHOES, -76, t) for t in scans]
    signals += [door_beacon(-93, t + 0.2) for t in scans[::2]]
    state, events = run(signals, PARAMS, scans[-1] + 5, entered(T0 - 1))
    assert "exited" not in kinds(events) and state.visit_open


def test_read_in_the_doorway_then_led_by_the_floor_gateway_enters_within_seconds() -> None:
    # A pocket phone advertising once a second crosses the door: -62 then -57 (13 dB of the
    # door's 16), then, deeper in the store, the door gateway behind her reads -84..-90 and the
    # floor gateway ahead -78, -76: in at the second floor reading that leads the door.
    signals: list[fusion.Signal] = [door(-62, T0), door(-57, T0 + 1)]
    signals += [door(-84, T0 + 2), floor(-82, T0 + 2.1), door(-88, T0 + 3)]
    signals += [floor(-78, T0 + 3.1), door(-90, T0 + 4), floor(-76, T0 + 4.1)]
    signals += [floor(-77, T0 + s + 0.1) for s in range(5, 30)]
    state, events = run(signals, PARAMS, T0 + 30, PersonState())
    assert kinds(events)[0] == "entered" and events[0].at == T0 + 4.1
    assert "door_then_floor" in {r["signal"] for r in events[0].reasons}
    assert "walk_by" not in kinds(events) and state.visit_open


def test_a_floor_gateway_that_does_not_lead_the_door_gives_no_early_entry() -> None:
    # The same doorway readings, then the floor gateway at -79 while the door reads -78 (no
    # lead: standing in the doorway, or a passer just past it), and -82 (under the floor
    # level) while the door falls: no entry until the inside hold.
    signals: list[fusion.Signal] = [door(-62, T0), door(-57, T0 + 1)]
    for s in range(2, 8):
        signals += [door(-78 if s < 5 else -92, T0 + s), floor(-79 if s < 5 else -82, T0 + s + 0.1)]
    state, events = run(signals, PARAMS, T0 + 10, PersonState())
    assert "entered" not in kinds(events) and not state.visit_open


def test_a_passer_read_at_the_doorway_level_then_weakly_through_the_glass_never_enters() -> None:
    # A passer 2.5 m from the door gateway (-66..-69 at the closest), walking on: the door
    # gateway falls, the floor gateway reads him through the glass at -84 and under.
    readings = [(-74, -88), (-69, -86), (-66, -85), (-68, -84), (-75, -86), (-80, -87)]
    readings += [(-84, -89), (-86, -91), (-90, -93)]
    signals: list[fusion.Signal] = []
    for s, (at_door, at_floor) in enumerate(readings):
        signals += [door(at_door, T0 + s), floor(at_floor, T0 + s + 0.2)]
    state, events = run(signals, PARAMS, T0 + 60, PersonState())
    assert "entered" not in kinds(events) and not state.visit_open
    assert kinds(events) == ["walk_by"]


def test_no_walk_by_while_an_in_store_gateway_still_reads_her() -> None:
    # Near the shop front (the door gateway at -75), then only the floor gateway reads her, a
    # pocket phone at a rail: -83 (the in-store level) and -90 by turns, too weak on the whole
    # to place her in the store. She came in; she has not gone by while the floor reads her so.
    signals: list[fusion.Signal] = [door(-75, T0 + s) for s in range(3)]
    signals += [floor(-83 if i % 2 else -90, T0 + 5 + 3 * i) for i in range(1, 6)]
    last_in_store = T0 + 5 + 3 * 5  # the last -83
    state, events = run(signals, PARAMS, T0 + 2 + PARAMS.walk_by_gone_s + 5, PersonState())
    assert "walk_by" not in kinds(events) and "entered" not in kinds(events)
    state, events = run([], PARAMS, last_in_store + PARAMS.walk_by_gone_s + 2, state)
    assert kinds(events) == ["walk_by"]
    assert events[0].at >= last_in_store + PARAMS.walk_by_gone_s


def test_a_pocket_phone_entered_from_the_floor_just_after_the_door_stays_in_at_the_back() -> None:
    # In through the door (-62, -57) and past it (the floor leads the door twice), then at the
    # back rail a few seconds later, read as weak by both gateways as on the pavement: the
    # passage that opened her visit is no passage out, she is held inside.
    signals: list[fusion.Signal] = [door(-62, T0), door(-57, T0 + 1)]
    signals += [door(-88, T0 + 2), floor(-78, T0 + 2.1), door(-90, T0 + 3), floor(-76, T0 + 3.1)]
    signals += at_the_back(T0 + 4, 60)
    state, events = run(signals, PARAMS, T0 + 64, PersonState())
    assert kinds(events).count("entered") == 1 and events[0].at == T0 + 3.1
    assert "exited" not in kinds(events) and state.visit_open


def pocket_phone_walking_to_the_rail() -> list[fusion.Signal]:
    """A background Android phone (the floor gateway hears its adverts every second) walks
    from the floor to the dresses rail; its scans, every 10 s, hear the rail's beacon at -68
    from T0 + 30, and the door's beacon far away (-95) in every other scan."""
    signals: list[fusion.Signal] = [floor(-80, T0 + s + 0.5) for s in range(150)]
    signals += [BeaconReport("bcn-till", FLOOR, -75, T0 + s) for s in range(0, 30, 10)]
    signals += [BeaconReport("bcn-dresses", DRESSES, -68, T0 + s) for s in range(30, 150, 10)]
    signals += [door_beacon(-95, T0 + s + 0.2) for s in range(0, 150, 20)]
    return signals


def test_a_pocket_phone_is_shown_at_the_rail_at_its_second_scan_there() -> None:
    _, events = run(pocket_phone_walking_to_the_rail(), PARAMS, T0 + 150, entered(T0 - 25))
    assert next(e for e in events if e.kind == "zone_entered").at == T0 + 40
    # Two of its slowest beacon's gaps (the door's, 20 s) instead: half a minute later.
    old = replace(PARAMS, zone_confirm_sightings=0.0)
    _, late = run(pocket_phone_walking_to_the_rail(), old, T0 + 150, entered(T0 - 25))
    assert next(e for e in late if e.kind == "zone_entered").at == T0 + 30 + 2 * 20


def test_a_pocket_phones_dwell_counts_from_when_its_beacon_placed_her_at_the_rail() -> None:
    # Her minute there is reached a minute after her first scan there, while she is there.
    old = replace(PARAMS, zone_confirm_sightings=0.0)
    for params in (PARAMS, old):
        _, events = run(pocket_phone_walking_to_the_rail(), params, T0 + 150, entered(T0 - 25))
        [dwell] = [e for e in events if e.kind == "zone_dwell"]
        assert dwell.place == "dresses" and dwell.dwell_s == PARAMS.zone_dwell_s
        assert dwell.at == T0 + 30 + PARAMS.zone_dwell_s


def test_a_second_stay_at_the_same_rail_dwells_again() -> None:
    # A phone ranging every second stands at the dresses rail for 90 s (-64), steps onto the
    # floor for 40 s (the rail's beacon -90, the till's -72), and comes back for 90 s: each
    # stay gets its own minute while she is there, and its own total on leaving.
    signals: list[fusion.Signal] = []
    for s in range(220):
        away = 90 <= s < 130
        signals.append(BeaconReport("bcn-dresses", DRESSES, -90 if away else -64, T0 + s))
        signals.append(BeaconReport("bcn-till", FLOOR, -72 if away else -85, T0 + s + 0.5))
    state, events = run(signals, PARAMS, T0 + 220, entered(T0 - 25))
    dwells = [(e.at - T0, e.dwell_s) for e in events if e.kind == "zone_dwell"]
    first, total, second = dwells
    assert first == (PARAMS.zone_dwell_s, PARAMS.zone_dwell_s)
    assert 90 <= total[0] < 130 and total[1] is not None and total[1] >= 90
    assert second[1] == PARAMS.zone_dwell_s and 130 + 50 <= second[0] <= 130 + 70
    assert state.state == PresenceState.ZONE and state.place == "dresses"


def dresses_beacon(rssi: int, at: float) -> BeaconReport:
    return BeaconReport("bcn-dresses", DRESSES, rssi, at)


def test_read_in_the_doorway_then_hearing_a_zone_beacon_close_enters_within_seconds() -> None:
    # An app in the foreground crosses the door (-66, -63, -62: 7 dB of the door's 16) and
    # walks to the dresses rail: the door gateway falls behind her, the floor gateway reads her
    # weakly (a pocket), but her phone hears the dresses beacon at -69, -66 while the door's
    # beacon fades to -86: in at the second zone sighting that leads the door's beacon.
    signals: list[fusion.Signal] = [door(-66, T0), door(-63, T0 + 1), door(-62, T0 + 2)]
    signals += [door(-85, T0 + 4), floor(-86, T0 + 4.1), door(-87, T0 + 6)]
    signals += [door_beacon(-84, T0 + 5), dresses_beacon(-69, T0 + 6.4)]
    signals += [door_beacon(-86, T0 + 7), dresses_beacon(-66, T0 + 7.4)]
    signals += [dresses_beacon(-68, T0 + s + 0.4) for s in range(8, 30)]
    state, events = run(signals, PARAMS, T0 + 30, PersonState())
    assert kinds(events)[:2] == ["entered", "zone_entered"] and events[0].at == T0 + 7.4
    assert "door_then_zone" in {r["signal"] for r in events[0].reasons}
    assert state.visit_open and state.place == "dresses"


def test_a_floor_gateway_and_a_zone_beacon_leading_the_door_once_each_enter_together() -> None:
    # Through the door (-66, -63: short of the door's sum), then the floor gateway leads the
    # door once (-78 against -86) and, 11 s after the doorway, on reaching the rail at the
    # back, her phone hears the dresses beacon once at -64 (the door's beacon -88): two
    # witnesses of one step in, in at the zone sighting.
    signals: list[fusion.Signal] = [door(-66, T0), door(-63, T0 + 1)]
    signals += [door(-86, T0 + 3), floor(-78, T0 + 3.2), floor(-85, T0 + 6)]
    signals += [door_beacon(-88, T0 + 11), dresses_beacon(-64, T0 + 12)]
    signals += [dresses_beacon(-66, T0 + s + 0.4) for s in range(13, 20)]
    state, events = run(signals, PARAMS, T0 + 20, PersonState())
    assert kinds(events)[:1] == ["entered"] and events[0].at == T0 + 12
    through = next(r for r in events[0].reasons if r["signal"] == "door_then_zone")
    assert through["readings"] == 2
    # The floor gateway's lead alone (no zone sighting) is one witness: not in yet at 7 s.
    _, early = run(signals[:5], PARAMS, T0 + 7, PersonState())
    assert "entered" not in kinds(early)


def test_a_window_shopper_hearing_a_zone_beacon_through_the_glass_never_enters() -> None:
    # Read at the doorway level (-68) 1.5 m from the glass, then -73..-75, her phone hearing
    # the dresses beacon at -70..-72 through it (a lucky link) and the door's beacon at -75:
    # the zone beacon never leads the door's by 6 dB, she stays outside.
    signals: list[fusion.Signal] = [door(-68, T0)]
    for s in range(1, 10):
        signals += [door(-73 - s % 3, T0 + s), door_beacon(-75, T0 + s + 0.3)]
        signals += [dresses_beacon(-70 - s % 3, T0 + s + 0.6)]
    state, events = run(signals, PARAMS, T0 + 12, PersonState())
    assert "entered" not in kinds(events) and not state.visit_open


def test_zone_sightings_long_after_the_doorway_give_no_early_entry() -> None:
    # The doorway reading, then the zone beacon heard close only after the window: nothing but
    # the inside hold opens her visit (door_then_zone_window_s).
    late = T0 + PARAMS.door_then_zone_window_s + 1
    signals: list[fusion.Signal] = [door(-66, T0), door_beacon(-90, late - 1)]
    signals += [dresses_beacon(-66, late), dresses_beacon(-65, late + 1)]
    state, events = run(signals, PARAMS, late + 2, PersonState())
    assert "entered" not in kinds(events) and not state.visit_open


def test_a_pedestrian_walking_past_a_bay_post_is_no_arrival() -> None:
    # Walking along the kerb, 0.9 m from the post at the closest, and on towards the door:
    # nearest to the bay's gateway for 14 s, its reading rising -80 -> -58 and falling to -82
    # (the door's far weaker). Never steady for bay_arrival_s: no arrival.
    levels = [-80, -77, -74, -70, -65, -60, -58, -63, -68, -72, -75, -78, -80, -82]
    signals: list[fusion.Signal] = [curb(rssi, T0 + s) for s, rssi in enumerate(levels)]
    signals += [door(-95, T0 + s + 0.5) for s in range(0, len(levels), 3)]
    state, events = play(signals, until=T0 + 40)
    assert "entered" not in kinds(events) and not state.visit_open


def test_a_car_that_rolls_into_its_bay_arrives_once_its_level_holds() -> None:
    # Rolling up to the post (-84 -> -71 in 4 s) then waiting: arrived bay_arrival_s after its
    # level settled, not before.
    levels = [-84, -80, -76, -72, -71, -72, -70, -71, -72, -71, -70, -71, -72, -71]
    signals: list[fusion.Signal] = [curb(rssi, T0 + s) for s, rssi in enumerate(levels)]
    state, events = play(signals)
    assert kinds(events) == ["entered", "curbside"]
    assert T0 + 3 + PARAMS.bay_arrival_s <= events[0].at <= T0 + 6 + PARAMS.bay_arrival_s
    assert state.state == PresenceState.BAY


def test_a_car_whose_reading_wavers_at_its_bay_still_arrives_in_time() -> None:
    # A phone in a bag in a car: -71 +- 4 dB with one lucky -62 (half of it in the smoothed
    # level): steady within bay_steady_db, in at bay_arrival_s.
    levels = [-71, -62, -73, -75, -69, -72, -67, -74, -71, -70]
    signals: list[fusion.Signal] = [curb(rssi, T0 + s) for s, rssi in enumerate(levels)]
    state, events = play(signals)
    assert kinds(events) == ["entered", "curbside"]
    assert events[0].at == T0 + PARAMS.bay_arrival_s
    assert state.state == PresenceState.BAY


def test_a_zone_beacon_lifted_for_two_sightings_after_a_weak_run_gives_no_early_entry() -> None:
    # A passer on a harsh channel (seed 3, curbside-bays): read at the doorway level, his
    # phone hearing the shoes beacon through the glass at -88..-93, then twice at -69, -71
    # (the link lifted) while the door's beacon has fallen to -96. Her smoothed level of that
    # beacon (-80, -75) is what counts: no entry.
    signals: list[fusion.Signal] = [door(-70, T0), door_beacon(-96, T0 + 0.1)]
    signals += [
        BeaconReport("bcn-shoes", SHOES, rssi, T0 - 6 + 2 * i)
        for i, rssi in enumerate([-88, -93, -87])
    ]
    signals += [
        BeaconReport("bcn-shoes", SHOES, -69, T0 + 1),
        BeaconReport("bcn-shoes", SHOES, -71, T0 + 2.1),
    ]
    state, events = run(signals, PARAMS, T0 + 3, PersonState())
    assert "entered" not in kinds(events) and not state.visit_open


def ranged(second: float, dresses: int | None, at_door: int | None) -> list[fusion.Signal]:
    """One second of an iPhone ranging: Core Location's averaged reading of each beacon."""
    out: list[fusion.Signal] = []
    if dresses is not None:
        out.append(BeaconReport("bcn-dresses", DRESSES, dresses, T0 + second))
    if at_door is not None:
        out.append(door_beacon(at_door, T0 + second))
    return out


def test_an_iphone_ranging_every_second_enters_just_past_the_door() -> None:
    # In hand: the door's beacon -73 and -69 in the doorway, then, her body between the phone
    # and the door behind her, the dresses' beacon ahead leads it three times.
    signals = [*ranged(0, -90, -73), *ranged(1, -88, -69)]
    for second in range(2, 40):
        signals += ranged(second, -79, -88)
    state, events = run(signals, PARAMS, T0 + 40, PersonState())
    assert kinds(events) == ["entered"] and state.visit_open
    # The third leading sighting: at second 2 the dresses' beacon is weighed against the
    # door's latest, the doorway's -69 of the second before.
    assert events[0].at == T0 + 5
    assert events[0].reasons[-1]["signal"] == "door_then_floor_by_ear"


def test_a_passer_whose_iphone_hears_an_in_store_beacon_lead_twice_never_enters() -> None:
    # Past the door on the pavement (-70), a lucky dresses' sighting through the glass leads
    # the fading door beacon twice, then the door's beacon dominates again and fades away.
    signals = [*ranged(0, -92, -70), *ranged(1, -90, -84)]
    signals += [*ranged(2, -80, -85), *ranged(3, -81, -80), *ranged(4, -93, -79)]
    for second in range(5, 30):
        signals += ranged(second, None, -84 - second // 3)
    _, events = run(signals, PARAMS, T0 + 60, PersonState())
    assert "entered" not in kinds(events)


def test_an_iphone_placed_in_the_store_by_its_ear_enters_after_the_short_hold() -> None:
    # Never read in the doorway (the door's beacon -76), then the dresses' beacon at -80 and
    # the door's not dominating, every second: in the store for `ear_inside_entry_s`.
    signals: list[fusion.Signal] = []
    for second in range(40):
        signals += ranged(second, -80, -76)
    _, events = run(signals, PARAMS, T0 + 40, PersonState())
    assert kinds(events) == ["entered"]
    assert T0 + PARAMS.ear_inside_entry_s <= events[0].at <= T0 + PARAMS.ear_inside_entry_s + 2


def test_a_phone_scanning_every_ten_seconds_keeps_the_long_inside_hold() -> None:
    # The same levels from a cached Android app's scans: a passer's one lucky scan looks so.
    signals: list[fusion.Signal] = []
    for second in range(0, 60, 10):
        signals += ranged(second, -80, -76)
    _, events = run(signals, PARAMS, T0 + 60, PersonState())
    assert kinds(events) == ["entered"] and events[0].at >= T0 + PARAMS.inside_entry_s


def test_an_iphone_placed_in_the_store_for_a_few_seconds_never_enters() -> None:
    # A passer hearing the dresses' beacon through the glass as strongly as the door's for
    # five seconds, then only the door's beacon, fading as he walks on.
    signals: list[fusion.Signal] = []
    for second in range(5):
        signals += ranged(second, -80, -77)
    for second in range(5, 30):
        signals += ranged(second, None, -82 - second // 3)
    _, events = run(signals, PARAMS, T0 + 60, PersonState())
    assert "entered" not in kinds(events)


def test_a_cached_phone_whose_one_scan_hears_the_door_twice_is_no_ranging_iphone() -> None:
    # A 0.5 s scan every 10 s: the door's beacon twice (it sends every 0.35 s, so its first
    # gap is 0.35 s), then three in-store beacons leading it, all within the scan: one ranging
    # callback's worth at most, and no short hold, so no entry before `inside_entry_s`.
    signals: list[fusion.Signal] = []
    for scan in range(0, 60, 10):
        signals += [door_beacon(-72, T0 + scan), door_beacon(-80, T0 + scan + 0.35)]
        signals += [
            BeaconReport("bcn-dresses", DRESSES, -75, T0 + scan + 0.4),
            BeaconReport("bcn-shoes", SHOES, -76, T0 + scan + 0.45),
            BeaconReport("bcn-till", FLOOR, -76, T0 + scan + 0.5),
        ]
    _, events = run(signals, PARAMS, T0 + 60, PersonState())
    entries = [e.at for e in events if e.kind == "entered"]
    assert all(at >= T0 + PARAMS.inside_entry_s for at in entries)


def test_a_cached_passer_whose_second_scan_hears_the_door_twice_keeps_the_long_hold() -> None:
    # Busy-saturday seed 2: one scan on the pavement hears the till's beacon at -84 (in-store
    # range), the next, 10 s on, the door's beacon twice 0.36 s apart: a gap no ranging phone
    # has, so the 20 s hold, not the short one, and he has walked on by then.
    signals: list[fusion.Signal] = [
        BeaconReport("bcn-till", FLOOR, -84, T0),
        BeaconReport("bcn-shoes", SHOES, -90, T0 + 0.2),
        BeaconReport("bcn-shoes", SHOES, -94, T0 + 10.2),
        door_beacon(-87, T0 + 10.3),
        door_beacon(-90, T0 + 10.66),
        BeaconReport("bcn-dresses", DRESSES, -82, T0 + 10.6),
        door_beacon(-90, T0 + 20.9),
    ]
    _, events = run(signals, PARAMS, T0 + 60, PersonState())
    assert "entered" not in kinds(events)


def entered_by_ear(at: float = T0) -> PersonState:
    """In the store by a cached phone's scans (every 10.24 s) alone: the door's beacon close,
    then the till's beacon at in-store range, scan after scan."""
    signals: list[fusion.Signal] = [door_beacon(-62, at - 61.44)]
    signals += [BeaconReport("bcn-till", FLOOR, -78, at - 10.24 * i) for i in range(5, -1, -1)]
    state, events = run(signals, PARAMS, at, PersonState())
    assert kinds(events) == ["entered"] and state.visit_open
    assert not any(e.source.startswith("gateway:") for e in state.evidence)
    return state


def test_a_cached_phone_hearing_only_far_beacons_weakly_stays_until_it_falls_silent() -> None:
    # An Android app the OS has cached scans 0.5 s every 10.24 s. On the floor, away from any
    # zone, its scans catch only the till's beacon at -94 and the door's at -97: as weak as
    # down the street, but she never passed the door. Then her phone hears nothing more.
    scans = [T0 + 10.24 * i for i in range(12)]
    signals: list[fusion.Signal] = [BeaconReport("bcn-till", FLOOR, -94, t) for t in scans]
    signals += [door_beacon(-97, t + 0.2) for t in scans]
    last = scans[-1] + 0.2
    state, events = run(signals, PARAMS, last, entered_by_ear(T0 - 1))
    assert "exited" not in kinds(events) and state.visit_open
    state, events = run([], PARAMS, last + PARAMS.lost_timeout_s + 2, state)
    assert kinds(events) == ["exited"]
    assert last < events[0].at <= last + PARAMS.lost_timeout_s
    assert [r["signal"] for r in events[0].reasons] == ["lost"]


def test_a_cached_phone_heard_in_the_doorway_then_weak_leaves_before_the_lost_timeout() -> None:
    # The same phone, but one scan catches her in the doorway (the door's beacon at -64): the
    # weak scans after it are the pavement, and her visit closes on them.
    scans = [T0 + 10.24 * i for i in range(12)]
    signals: list[fusion.Signal] = [BeaconReport("bcn-till", FLOOR, -80, t) for t in scans[:6]]
    signals += [door_beacon(-64, scans[6])]
    signals += [door_beacon(-95, t) for t in scans[7:]]
    state, events = run(signals, PARAMS, scans[-1], entered_by_ear(T0 - 1))
    assert "exited" in kinds(events) and not state.visit_open
    assert [e.at for e in events if e.kind == "exited"][0] < scans[-1]


def test_a_pocket_phone_read_weakly_everywhere_just_after_the_doorway_stays_in_its_visit() -> None:
    # In through the door (placed at the entrance), then on to the back of the store with the
    # phone in a pocket: the door and floor gateways read her alike and weakly, -82 to -92, as
    # they would someone down the street. She has not been in the doorway since it let her in.
    state = entered(T0)
    assert state.state == PresenceState.ENTRANCE
    signals: list[fusion.Signal] = []
    for s in range(2, 40):
        signals += [door(-82 - s % 7, T0 + s), floor(-85 - s % 8, T0 + s + 0.5)]
    state, events = run(signals, PARAMS, T0 + 40, state)
    assert "exited" not in kinds(events) and state.visit_open
    assert state.state == PresenceState.INSIDE


def test_a_shopper_back_in_the_doorway_then_read_weakly_has_left() -> None:
    # The same, but she stood in the doorway again 20 s later (-62, -60): the weak readings
    # after that are the pavement.
    state = entered(T0)
    signals: list[fusion.Signal] = [door(-62, T0 + 35), door(-60, T0 + 36)]
    for s in range(37, 60):
        signals += [door(-84 - s % 7, T0 + s), floor(-88 - s % 5, T0 + s + 0.5)]
    state, events = run(signals, PARAMS, T0 + 60, state)
    assert "exited" in kinds(events) and not state.visit_open
