"""The Bayes filter over places (presence/places.py) and fusion deciding from it, on constructed
traces: the topology, the path-loss likelihoods, silence, and the decisions with hysteresis."""

from __future__ import annotations

import random
from collections.abc import Sequence

from store_server.presence import fusion, places
from store_server.presence.fusion import (
    BeaconReport,
    CheckIn,
    FusionParams,
    GatewayReading,
    PersonState,
    Place,
)
from store_server.presence.places import Belief, FilterParams, Observation
from store_server.vocabulary import PlaceKind, PresenceState

FILTER = FusionParams(entry_rssi_dbm=-70.0, filter_decisions=1.0)
MODEL = FilterParams()
DOOR = Place(PlaceKind.ENTRANCE, "entrance")
FLOOR = Place(PlaceKind.FLOOR)
DRESSES = Place(PlaceKind.ZONE, "dresses")
T0 = 1_764_054_000.0


def door(rssi: int, at: float) -> GatewayReading:
    return GatewayReading("gw-entrance", DOOR, rssi, 0.0, at)


def floor(rssi: int, at: float) -> GatewayReading:
    return GatewayReading("gw-floor", FLOOR, rssi, 0.0, at)


def play(
    signals: Sequence[fusion.Signal], state: PersonState | None = None, until: float | None = None
) -> tuple[PersonState, list[fusion.PresenceEvent]]:
    """Feed signals at their own time with the clock ticking each second, up to `until`."""
    current = state or PersonState()
    events: list[fusion.PresenceEvent] = []
    pending = sorted(signals, key=fusion.signal_time)
    t = pending[0].seen_at if pending else (current.last_heard_at or T0)
    end = until if until is not None else (pending[-1].seen_at if pending else t)
    while pending or t < end:
        due = [s for s in pending if s.seen_at <= t]
        pending = pending[len(due) :]
        for signal in due:
            fused = fusion.fuse(current, [signal], FILTER, signal.seen_at)
            current, events = fused.state, events + fused.events
        t += 1.0
        fused = fusion.advance(current, FILTER, t)
        current, events = fused.state, events + fused.events
    return current, events


def kinds(events: list[fusion.PresenceEvent]) -> list[str]:
    return [e.kind for e in events]


def test_prediction_keeps_the_total_and_moves_only_along_the_topology() -> None:
    start = places.at_place(Belief(at=T0), places.AWAY)
    start = places.with_places(start, [places.zone_place("dresses")])
    later = places.predict(start, MODEL, T0 + 1)
    assert abs(sum(p for _, p in later.probabilities) - 1.0) < 1e-5  # floors of 1e-6 aside
    # Out of range a second ago: now perhaps in front of the shop, never already in a zone.
    assert later.of(places.FRONT) > 0.01
    assert later.of(places.zone_place("dresses")) < 1e-5
    assert later.in_store() < 1e-3


def test_a_reading_near_the_door_gateway_favours_the_doorway_a_weak_one_does_not_rule_it_out() -> (
    None
):
    belief = places.with_places(Belief(at=T0), [places.zone_place("dresses")])
    uniform = Belief(tuple((p, 1.0 / len(belief.probabilities)) for p, _ in belief.probabilities))
    near = places.observe_now(uniform, [Observation(places.ENTRANCE, False, -58.0)], 2.0, MODEL)
    assert places.most_likely(near)[0] in (places.ENTRANCE, places.LEAVING)
    # Far below the model for the doorway (a body in the way): less likely, not impossible.
    weak = places.observe_now(uniform, [Observation(places.ENTRANCE, False, -80.0)], 1.0, MODEL)
    assert weak.of(places.ENTRANCE) > 0.02


def test_silence_of_a_nearby_source_lowers_the_store_and_never_the_places_out_of_range() -> None:
    inside = Belief(((places.AWAY, 0.5), (places.FLOOR, 0.5)), T0)
    silent = places.observe_now(inside, [Observation(places.FLOOR, False, None)], 5.0, MODEL)
    assert silent.of(places.AWAY) > 0.9
    # The silence of a gateway across a store of another shape says nothing of a far zone.
    far = Belief(((places.AWAY, 0.5), (places.zone_place("cafe"), 0.5)), T0)
    heard_nothing = places.observe_now(far, [Observation(places.ENTRANCE, False, None)], 5.0, MODEL)
    assert abs(heard_nothing.of(places.zone_place("cafe")) - 0.5) < 0.01


def test_a_window_shopper_one_and_a_half_metres_from_the_glass_is_never_an_entry() -> None:
    # As in test_fusion.py: two minutes at the window, 3 m beside the door.
    rng = random.Random(11)
    signals: list[fusion.Signal] = []
    for second in range(120):
        t = T0 + second
        signals.append(door(round(-69 + rng.gauss(0, 3)), t))
        signals.append(floor(round(-86 + rng.gauss(0, 2)), t + 0.4))
        signals.append(BeaconReport("bcn-entrance", DOOR, round(-75 + rng.gauss(0, 3)), t + 0.7))
    state, events = play(signals, until=T0 + 200)
    assert "entered" not in kinds(events) and not state.visit_open
    assert kinds(events) == ["walk_by"]


def test_a_shopper_standing_at_a_zone_edge_does_not_flap() -> None:
    # At the edge of the dresses zone: its beacon at -72 dBm (4 dB of noise per report), the
    # floor gateway at -72 too. Ten minutes still.
    state, _ = play([door(-50, T0)])
    rng = random.Random(3)
    signals: list[fusion.Signal] = []
    for second in range(1, 600):
        t = T0 + 5 + second
        signals.append(BeaconReport("bcn-dresses", DRESSES, round(-72 + rng.gauss(0, 4)), t))
        if second % 5 == 0:
            signals.append(floor(round(-72 + rng.gauss(0, 2)), t + 0.5))
    state, events = play(signals, state)
    moves = [e for e in events if e.kind in ("zone_entered", "exited", "entered")]
    assert len(moves) <= 1  # settles once, then holds for ten minutes
    assert state.visit_open


def test_a_dwell_event_fires_while_dwelling() -> None:
    state, _ = play([door(-50, T0)])
    at_rail = [BeaconReport("bcn-dresses", DRESSES, -62, T0 + 5 + s) for s in range(100)]
    state, events = play(at_rail, state)
    zone_entered = next(e for e in events if e.kind == "zone_entered")
    [dwell] = [e for e in events if e.kind == "zone_dwell"]
    assert dwell.place == "dresses" and dwell.at == zone_entered.at + FILTER.zone_dwell_s
    assert state.state == PresenceState.ZONE and state.place == "dresses"
    assert any(r.get("signal") == "filter" for r in dwell.reasons)


def test_a_check_in_enters_and_places_the_belief_where_she_says() -> None:
    state, events = play([CheckIn(DRESSES, T0)])
    assert kinds(events)[:2] == ["entered", "zone_entered"]
    assert state.visit_open and state.belief.of(places.zone_place("dresses")) > 0.9


def test_silence_exits_before_the_lost_timeout() -> None:
    # In the store, heard by both gateways every second, then nothing at all.
    signals: list[fusion.Signal] = [door(-50, T0)]
    for second in range(1, 40):
        signals.append(floor(-66, T0 + second))
        signals.append(door(-78, T0 + second + 0.5))
    state, events = play(signals, until=T0 + 120)
    [exited] = [e for e in events if e.kind == "exited"]
    assert exited.at < T0 + 40 + FILTER.lost_timeout_s
    assert {"signal": "filter"}.items() <= exited.reasons[-1].items()
    assert not state.visit_open


def test_the_filter_is_swept_from_the_bench_like_any_tunable() -> None:
    fields = set(FusionParams.__dataclass_fields__)
    assert {"filter_decisions", "model_path_loss_exponent", "sigma_db", "stay_zone_s"} <= fields
