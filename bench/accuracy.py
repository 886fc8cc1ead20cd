"""Presence accuracy against ground truth: scenarios on the virtual clock, through the real cores.

    python -m bench accuracy [--scenario NAME|FILE|all] [--seed N] [--baselines]
                             [--path-loss-exponent X] [--shadowing-db Y] [--packet-loss P]
                             [--ios-background-ranging-s S]
                             [--json] [--FUSION-TUNABLE X ...]

Every field of `store_server.presence.fusion.FusionParams` is a flag (underscores as dashes,
e.g. `--entry-evidence-db 14 --bay-arrival-s 4`), to sweep it; the report then names the
values swept under `fusion_params`. `--filter-decisions 1` has fusion decide from its Bayes
filter over the store's places (`store_server/presence/places.py`) instead of its rules; the
filter's model (`--sigma-db`, `--model-path-loss-exponent`, `--stay-zone-s` ...) sweeps the same
way.

How it runs. The simulator's world (`firmware_sim.world.air_at`) makes what each gateway and
each phone hears, second by second; `record_trace` keeps, for every counted person, each
gateway advert of their phone or tag (`Heard`), each beacon sighting their app reports
(`Reported`, with the time the report reaches the server) and each region event a background
iPhone's app reports (`Region`: Core Location woke it on entering or leaving the store's
iBeacon region; fusion takes it as a `PhoneReport`). A *presence rule* turns that trace
into per-second labels and events for every counted person (`PresenceRule`, a function
`Trace -> {person: RuleTrack}`): `fusion_rule` is the server's, the open-source rules of
`bench.baselines` plug in the same way (`--baselines`), and one metric function scores them
all on the same trace.

The fusion rule: each gateway's adverts go through the gateway's tracking core
(`gateway.tracking.Tracker`, `entry_rssi_dbm` set on door and bay gateways, as the server's
config does) and each report, with the phones' reports (iPhones' ranged iBeacons included),
through the server's fusion core (`store_server.presence.fusion.fuse` at the moment the
signal reaches the server, `advance` once a second, as ingest and the sweep call them). EID
resolution is skipped: a report names the scenario person directly. Gateway batching is not
modelled (the `latency` bench measures the real processes).

Server layout from the scenario: a gateway within 2 m of the entrance is the door gateway
(place `entrance`; where none is, the gateway nearest the entrance, if within 3.5 m), one
inside a bay's rectangle or within 4 m of it the nearest bay's gateway, one inside a zone that
zone's gateway, any other an in-store `floor` gateway; a fixed beacon within 2 m of the
entrance watches the entrance, any other the zone it stands in (or the floor). Calibration
offsets are 0.

Who counts: every opted-in shopper: a phone with the app (any platform, any app state) or a
registered tag, staff excluded; people without either are left out. The headline is over all
of them; `by_group` has the same figures per platform and app state (`android-foreground`,
`android-background` with a foreground service, `android-cached` without one,
`ios-foreground`, `ios-background`, and `tag`: a tag and no phone).

Labels compared each scenario second (a rule's label after every signal up to that second):
ground truth `outside` and `walk-by` -> `outside`; `entrance`, `inside`, a zone name and a bay
name compare literally (fused `zone`/`bay` states carry their names).

Metrics:
- a *true visit* is a maximal run of seconds whose ground truth is not `outside`/`walk-by`;
  it starts at its first second and ends at the first second after it.
- `enter_latency_p50_s`, `enter_latency_p95_s`: per true visit, the first `entered` decided
  within [start - 10 s, end) (10 s: the door gateway hears someone a few metres before the
  1.5 m entrance radius), minus the start, floored at 0. None if no visit was detected.
- `missed_arrivals`: true visits with no such `entered`; `premature_arrivals`: visits whose
  `entered` came earlier still (the person heard down the street) and was not closed before:
  wrong too (staff alerted while she is still down the street), so they add no arrival
  latency; their exits count.
- `exit_latency_p95_s`: per detected true visit that ends at least 60 s before the scenario's
  end, the first `exited` decided at or after its end (within 120 s), minus the end;
  `missed_exits` counts those with none; `early_exits` counts visits closed while the person
  was still in the store.
- `zone_accuracy`: the share of person-seconds inside true visits whose label equals the true
  one (an `inside` when the truth is `dresses` is wrong).
- `bay_accuracy`, `bay_arrival_p95_s`: over the seconds someone truly is in a bay, the share
  labelled with that bay; per true bay stay, the first second so labelled, minus its start
  (`missed_bay_arrivals` when never).
- `walkby_false_entry_rate`: the share of walk-by people (`walk_by: true`) with any `entered`.
- `walkby_event_precision`: the share of `walk_by` events NOT followed by an `entered` of the
  same person within 60 s (a walk-by invitation sent to someone stepping in is wrong); None
  when the rule emits no `walk_by` (the baselines never do).
- `dwell_latency_p95_s`: per true stay in one zone of at least 60 s (a dwell campaign's
  threshold), the first `zone_dwell` of that zone decided while she is still in that stay,
  minus the moment her true dwell reaches the threshold (negative when it came before);
  `missed_dwells` counts the stays with none (a `zone_dwell` decided after she has left the
  zone, such as the total on leaving, reaches her away from the rail: missed), `early_dwells`
  those whose event came more than 5 s before the threshold was truly reached (a zone's
  beacon places a phone a few metres before the zone's edge, or the previous stay's total
  came late; a few seconds either side of the minute is the same offer at the same rail).
- `flaps_per_stationary_hour`: a person is stationary in a second when their position equals
  the previous second's; the first 15 s of each stationary run are skipped (a rule's minimum
  dwell and the tracker's window legitimately lag a stop); every change of the label between
  two stationary seconds of the same run is a flap; divided by the stationary person-hours.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware_sim.builtin_scenarios import BUILTIN_SCENARIO_DOCUMENTS, builtin_scenario
from firmware_sim.radio import ChannelParams
from firmware_sim.scenario import (
    APP_BACKGROUND,
    PLATFORM_IOS,
    Person,
    Point,
    Scenario,
    load_scenario_file,
)
from firmware_sim.world import (
    BACKGROUND_RANGING_S,
    SOURCE_BEACON,
    SOURCE_TAG,
    STATE_OUTSIDE,
    STATE_WALK_BY,
    air_at,
    build_world,
    position_at,
    state_at,
)
from gateway.tracking import Tracker
from store_server.presence import fusion
from store_server.reporting.analytics import percentile
from store_server.settings import DEFAULT_ENTRY_RSSI_DBM
from store_server.vocabulary import PlaceKind, PresenceKind, PresenceState

# The virtual run starts at a fixed Unix time so runs are reproducible.
UNIX_START = 1_764_054_000.0
# A bay gateway may hang on the facade a few metres from the bay it watches.
BAY_GATEWAY_REACH_M = 4.0
# A gateway or beacon mounted on or beside the door watches the entrance: the reference store's
# door is 2 m wide, so its frame stands 1 m from the entrance point and a beacon on the wall
# next to it (bcn-entrance, 1.53 m) a little further; the server's demo configuration puts that
# beacon at the entrance too (store_server/demo.py, DEMO_BEACONS).
ENTRANCE_MOUNT_REACH_M = 2.0
# A store whose door gateway hangs a little further in (on the first shelf or pillar, 2-3.5 m
# from the door) still has one: the operator configures the gateway that watches the door as
# the entrance, as the server asks of every store (docs/hardware.md). Left a floor gateway,
# wide-shallow layouts with it 2.7 m in let 13-14 % of passers in, 3-6 % as the entrance.
DOOR_GATEWAY_REACH_M = 3.5
# See the module docstring for the metric windows.
ENTRY_EARLY_S = 10.0
EXIT_MARGIN_S = 60.0
EXIT_SEARCH_S = 120.0
STATIONARY_SETTLE_S = 15
WALK_BY_THEN_ENTERED_S = 60.0
# A dwell campaign's threshold for the dwell-event latency (campaigns set their own
# `min_dwell_s`; a minute at a rail is the usual "interested" mark).
DWELL_THRESHOLD_S = 60
DWELL_EARLY_S = 5.0
# Groups of counted people (see the module docstring).
GROUP_TAG = "tag"
GROUP_ANDROID_CACHED = "android-cached"
ALL_SCENARIOS = "all"


@dataclass(frozen=True)
class Heard:
    """One advert of a counted person's phone or tag, as one gateway heard it."""

    person: str
    gateway: str
    unix_time: float
    rssi: int
    source: str  # phone | tag


@dataclass(frozen=True)
class Reported:
    """One beacon sighting a counted person's app reported; it reaches the server later."""

    person: str
    beacon: str
    seen_at: float
    received_at: float
    rssi: int


@dataclass(frozen=True)
class Region:
    """A region event a counted person's app reported (a background iPhone woken by Core
    Location on entering or leaving the store's iBeacon region); it reaches the server later."""

    person: str
    event: str  # enter | exit
    app_state: str
    seen_at: float
    received_at: float


@dataclass
class Trace:
    """What a scenario run gave the server's side to work with, for every counted person."""

    scenario: Scenario
    seconds: int
    unix_start: float
    groups: dict[str, str]
    gateway_places: dict[str, fusion.Place]
    beacon_places: dict[str, fusion.Place]
    heard: list[Heard] = field(default_factory=list)
    reported: list[Reported] = field(default_factory=list)
    regions: list[Region] = field(default_factory=list)


@dataclass
class RuleTrack:
    """What one presence rule made of one person: a label per second, events with times."""

    labels: list[str] = field(default_factory=list)
    # (unix time decided, kind, place)
    events: list[tuple[float, str, str | None]] = field(default_factory=list)


PresenceRule = Callable[[Trace], dict[str, RuleTrack]]


def server_layout(scenario: Scenario) -> tuple[dict[str, fusion.Place], dict[str, fusion.Place]]:
    """The places the server would be configured with: per gateway and per fixed beacon."""
    plan = scenario.floor_plan

    def place_at(point: Point, bay_reach: float) -> fusion.Place:
        to_entrance = math.dist((point.x, point.y), (plan.entrance.x, plan.entrance.y))
        if to_entrance <= ENTRANCE_MOUNT_REACH_M:
            # Mounted on the pavement side of the door: a door watched from both sides.
            outside = not plan.outline.contains(point)
            return fusion.Place(PlaceKind.ENTRANCE, "entrance", outside=outside)

        def to_bay(rect: Any) -> float:
            dx = max(rect.x0 - point.x, 0.0, point.x - rect.x1)
            dy = max(rect.y0 - point.y, 0.0, point.y - rect.y1)
            return math.hypot(dx, dy)

        # Bays side by side: a post between two watches the nearer one.
        bays = sorted(plan.bays, key=lambda bay: to_bay(bay.rect))
        if bays and to_bay(bays[0].rect) <= bay_reach:
            return fusion.Place(PlaceKind.BAY, bays[0].name)
        for zone in plan.zones:
            if zone.rect.contains(point):
                return fusion.Place(PlaceKind.ZONE, zone.name)
        return fusion.Place(PlaceKind.FLOOR)

    gateways = {g.name: place_at(g.position, BAY_GATEWAY_REACH_M) for g in plan.gateways}
    if not any(place.kind == PlaceKind.ENTRANCE for place in gateways.values()) and plan.gateways:
        entrance = (plan.entrance.x, plan.entrance.y)
        nearest = min(
            plan.gateways, key=lambda g: math.dist((g.position.x, g.position.y), entrance)
        )
        reach = math.dist((nearest.position.x, nearest.position.y), entrance)
        if reach <= DOOR_GATEWAY_REACH_M and plan.outline.contains(nearest.position):
            gateways[nearest.name] = fusion.Place(PlaceKind.ENTRANCE, "entrance")
    beacons = {b.spec.name: place_at(b.position, 0.0) for b in plan.beacons}
    return gateways, beacons


def place_label(place: fusion.Place) -> str:
    """The ground-truth label of someone placed at a gateway's place."""
    if place.kind == PlaceKind.FLOOR:
        return "inside"
    return place.name or str(place.kind)


def group_of(person: Person) -> str | None:
    """The row a person is counted in, or None when not counted (see the module docstring)."""
    if person.staff:
        return None
    if person.phone is not None:
        if person.platform != PLATFORM_IOS and person.app_state == APP_BACKGROUND:
            return "android-background" if person.foreground_service else GROUP_ANDROID_CACHED
        return f"{person.platform}-{person.app_state}"
    return GROUP_TAG if person.tag is not None else None


def record_trace(
    scenario: Scenario,
    seed: int,
    channel: ChannelParams,
    background_ranging_s: float = BACKGROUND_RANGING_S,
) -> Trace:
    """Play the scenario's radio once and keep what the server's side could know
    (`background_ranging_s`: how long a background iPhone's app ranges after a region event)."""
    rng = random.Random(seed)  # noqa: S311 - simulation noise, reproducible by design
    groups = {p.name: g for p in scenario.people if (g := group_of(p)) is not None}
    tag_owner = {p.tag.name: p.name for p in scenario.people if p.tag is not None}
    gateway_places, beacon_places = server_layout(scenario)
    trace = Trace(
        scenario,
        math.ceil(scenario.duration_s),
        UNIX_START,
        groups,
        gateway_places,
        beacon_places,
    )
    world = build_world(
        scenario, {}, channel, UNIX_START, rng, background_ranging_s=background_ranging_s
    )
    for second in range(trace.seconds):
        air = air_at(world, second, rng)
        for advert in air.adverts:
            if advert.source == SOURCE_BEACON:
                continue
            owner = tag_owner[advert.person] if advert.source == SOURCE_TAG else advert.person
            if owner in groups:
                trace.heard.append(
                    Heard(owner, advert.gateway, advert.unix_time, advert.rssi, advert.source)
                )
        for sighting in air.sightings:
            if sighting.person in groups and sighting.beacon in beacon_places:
                trace.reported.append(
                    Reported(
                        sighting.person,
                        sighting.beacon,
                        sighting.unix_time,
                        sighting.received_at,
                        sighting.rssi,
                    )
                )
        trace.regions += [
            Region(r.person, r.event, r.app_state, r.unix_time, r.received_at)
            for r in air.regions
            if r.person in groups
        ]
    trace.reported.sort(key=lambda r: r.received_at)
    trace.regions.sort(key=lambda r: r.received_at)
    return trace


def _fused_label(state: fusion.PersonState) -> str:
    if state.state in (PresenceState.OUTSIDE, PresenceState.WALK_BY):
        return STATE_OUTSIDE
    if state.state in (PresenceState.ZONE, PresenceState.BAY):
        return state.place or state.state
    return state.state


def fusion_rule(params: fusion.FusionParams) -> PresenceRule:
    """The server's presence fusion (gateway tracking core, then `fusion.fuse`/`advance`)."""

    def run(trace: Trace) -> dict[str, RuleTrack]:
        tracks = {name: RuleTrack() for name in trace.groups}
        states = {name: fusion.PersonState() for name in trace.groups}
        trackers = {name: Tracker() for name in trace.gateway_places}
        for name, place in trace.gateway_places.items():
            if place.kind in fusion.ARRIVAL_KINDS:
                trackers[name].entry_rssi_dbm = params.entry_rssi_dbm
        # (the moment the server has it, person, signal), in that order
        signals: list[tuple[float, str, fusion.Signal]] = []
        for heard in trace.heard:
            tracker = trackers[heard.gateway]
            identity = f"{heard.source}:{heard.person}"
            if tracker.observe(identity, heard.rssi, heard.unix_time - trace.unix_start) is None:
                continue
            kind = "customer_tag" if heard.source == SOURCE_TAG else "eddystone_eid"
            place = trace.gateway_places[heard.gateway]
            reading = fusion.GatewayReading(
                heard.gateway, place, heard.rssi, 0.0, heard.unix_time, kind
            )
            signals.append((heard.unix_time, heard.person, reading))
        for report in trace.reported:
            place = trace.beacon_places[report.beacon]
            sighting = fusion.BeaconReport(report.beacon, place, report.rssi, report.seen_at)
            signals.append((report.received_at, report.person, sighting))
        for region in trace.regions:
            told = fusion.PhoneReport(region.seen_at, region.app_state, region.event)
            signals.append((region.received_at, region.person, told))
        signals.sort(key=lambda item: item[0])
        index = 0
        for second in range(trace.seconds):
            end = trace.unix_start + second + 1
            while index < len(signals) and signals[index][0] < end:
                now, person, signal = signals[index]
                fused = fusion.fuse(states[person], [signal], params, now)
                states[person] = fused.state
                tracks[person].events += [(now, e.kind, e.place) for e in fused.events]
                index += 1
            for person, track in tracks.items():
                fused = fusion.advance(states[person], params, end)
                states[person] = fused.state
                track.events += [(end, e.kind, e.place) for e in fused.events]
                track.labels.append(_fused_label(states[person]))
        return tracks

    return run


def _truth_label(state: str) -> str:
    return STATE_OUTSIDE if state in (STATE_OUTSIDE, STATE_WALK_BY) else state


def _runs(truth: list[str], keep: Callable[[str], bool]) -> list[tuple[int, int, str]]:
    """Maximal runs of seconds whose label passes `keep`: (start, end, first label)."""
    runs, start = [], None
    for second, label in enumerate([*truth, STATE_OUTSIDE]):
        inside = second < len(truth) and keep(label)
        if inside and start is None:
            start = second
        elif not inside and start is not None:
            runs.append((start, second, truth[start]))
            start = None
    return runs


def _same_place_runs(truth: list[str], places: set[str]) -> list[tuple[int, int, str]]:
    runs: list[tuple[int, int, str]] = []
    for second, label in enumerate(truth):
        if label not in places:
            continue
        if runs and runs[-1][2] == label and runs[-1][1] == second:
            runs[-1] = (runs[-1][0], second + 1, label)
        else:
            runs.append((second, second + 1, label))
    return runs


@dataclass
class _Tally:
    enter: list[float] = field(default_factory=list)
    exit_: list[float] = field(default_factory=list)
    dwell: list[float] = field(default_factory=list)
    bay_arrival: list[float] = field(default_factory=list)
    missed: int = 0
    premature: int = 0
    missed_exits: int = 0
    missed_dwells: int = 0
    early_dwells: int = 0
    missed_bays: int = 0
    early: int = 0
    right: int = 0
    in_store: int = 0
    bay_right: int = 0
    in_bay: int = 0
    flaps: int = 0
    stationary_s: int = 0
    walk_bys: int = 0
    walk_by_entries: int = 0
    walk_by_events: int = 0
    walk_by_events_wrong: int = 0


_VISIT_CHANGES = (PresenceKind.ENTERED, PresenceKind.EXITED)


def _score(scenario: Scenario, person: Person, track: RuleTrack, tally: _Tally) -> None:
    plan = scenario.floor_plan
    duration = len(track.labels)
    zones = {z.name for z in plan.zones}
    bays = {b.name for b in plan.bays}
    truth = [_truth_label(state_at(plan, person, s)) for s in range(duration)]
    rel = [(t - UNIX_START, kind, place) for t, kind, place in track.events]
    entered = [t for t, kind, _ in rel if kind == PresenceKind.ENTERED]
    exited = [t for t, kind, _ in rel if kind == PresenceKind.EXITED]
    if person.walk_by:
        tally.walk_bys += 1
        tally.walk_by_entries += bool(entered)
    for t, kind, _ in rel:
        if kind == PresenceKind.WALK_BY:
            tally.walk_by_events += 1
            tally.walk_by_events_wrong += any(t <= e <= t + WALK_BY_THEN_ENTERED_S for e in entered)
    changes = sorted((t, kind) for t, kind, _ in rel if kind in _VISIT_CHANGES)
    for start, end, _ in _runs(truth, lambda label: label != STATE_OUTSIDE):
        window = start - ENTRY_EARLY_S
        hit = next((t for t in entered if window <= t < end), None)
        before = [kind for t, kind in changes if t < window]
        if hit is None and before and before[-1] == PresenceKind.ENTERED:
            # Entered long before stepping in (heard down the street) and still open: no
            # arrival latency to speak of, but the visit's exit still counts.
            tally.premature += 1
            hit = window
        elif hit is None:
            tally.missed += 1
            continue
        else:
            tally.enter.append(max(0.0, hit - start))
        if any(hit <= t < end for t in exited):
            tally.early += 1
        if end + EXIT_MARGIN_S <= duration:
            out = next((t for t in exited if end <= t < end + EXIT_SEARCH_S), None)
            if out is None:
                tally.missed_exits += 1
            else:
                tally.exit_.append(out - end)
    for start, end, zone in _same_place_runs(truth, zones):
        if end - start < DWELL_THRESHOLD_S:
            continue
        due = start + DWELL_THRESHOLD_S
        fired = next(
            (
                t
                for t, kind, place in rel
                if kind == PresenceKind.ZONE_DWELL and place == zone and start <= t < end
            ),
            None,
        )
        if fired is None:
            tally.missed_dwells += 1
        else:
            tally.dwell.append(fired - due)
            tally.early_dwells += fired < due - DWELL_EARLY_S
    for start, end, bay in _same_place_runs(truth, bays):
        tally.in_bay += end - start
        tally.bay_right += sum(1 for s in range(start, end) if track.labels[s] == bay)
        arrival = next((s for s in range(start, end) if track.labels[s] == bay), None)
        if arrival is None:
            tally.missed_bays += 1
        else:
            tally.bay_arrival.append(float(arrival - start))
    for second, label in enumerate(truth):
        if label != STATE_OUTSIDE:
            tally.in_store += 1
            tally.right += track.labels[second] == label
    run = 0
    previous: Point | None = None
    for second in range(duration):
        here = position_at(person, second)
        run = run + 1 if here is not None and here == previous else 0
        previous = here
        if run > STATIONARY_SETTLE_S:
            tally.stationary_s += 1
            tally.flaps += track.labels[second] != track.labels[second - 1]


def _share(part: float, whole: float) -> float | None:
    return _round(part / whole) if whole else None


def metrics(scenario: Scenario, tracks: Iterable[tuple[Person, RuleTrack]]) -> dict[str, Any]:
    """The accuracy figures of some people's tracks (see the module docstring)."""
    tally = _Tally()
    people = 0
    for person, track in tracks:
        people += 1
        _score(scenario, person, track, tally)
    return {
        "people": people,
        "true_visits": len(tally.enter) + tally.missed + tally.premature,
        "enter_latency_p50_s": _round(statistics.median(tally.enter) if tally.enter else None),
        "enter_latency_p95_s": _round(percentile(tally.enter, 0.95)),
        "exit_latency_p95_s": _round(percentile(tally.exit_, 0.95)),
        "zone_accuracy": _share(tally.right, tally.in_store),
        "bay_accuracy": _share(tally.bay_right, tally.in_bay),
        "bay_arrival_p95_s": _round(percentile(tally.bay_arrival, 0.95)),
        "walkby_false_entry_rate": _share(tally.walk_by_entries, tally.walk_bys),
        "walkby_event_precision": _share(
            tally.walk_by_events - tally.walk_by_events_wrong, tally.walk_by_events
        ),
        "dwell_latency_p95_s": _round(percentile(tally.dwell, 0.95)),
        "flaps_per_stationary_hour": _round(
            tally.flaps / (tally.stationary_s / 3600) if tally.stationary_s else None
        ),
        "missed_arrivals": tally.missed,
        "premature_arrivals": tally.premature,
        "missed_exits": tally.missed_exits,
        "missed_dwells": tally.missed_dwells,
        "early_dwells": tally.early_dwells,
        "missed_bay_arrivals": tally.missed_bays,
        "early_exits": tally.early,
        "walk_bys": tally.walk_bys,
        "walk_by_events": tally.walk_by_events,
        "stationary_hours": round(tally.stationary_s / 3600, 2),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def load(name: str) -> Scenario:
    """A built-in scenario by name, or a scenario file."""
    if name in BUILTIN_SCENARIO_DOCUMENTS:
        return builtin_scenario(name)
    return load_scenario_file(Path(name))


def rule_report(trace: Trace, rule: PresenceRule) -> dict[str, Any]:
    """One rule's figures on a trace: the headline over everyone counted, and per group."""
    started = time.perf_counter()
    tracks = rule(trace)
    people = {p.name: p for p in trace.scenario.people}
    groups: dict[str, list[tuple[Person, RuleTrack]]] = defaultdict(list)
    for name, track in tracks.items():
        groups[trace.groups[name]].append((people[name], track))
    everyone = [item for group in groups.values() for item in group]
    return {
        **metrics(trace.scenario, everyone),
        "by_group": {
            name: metrics(trace.scenario, group) for name, group in sorted(groups.items())
        },
        "rule_wall_s": round(time.perf_counter() - started, 2),
    }


def presence_rules(
    baselines: bool, params: fusion.FusionParams | None = None
) -> dict[str, PresenceRule]:
    """The rules to compare: the fusion (with `params`, else the server's defaults), and with
    `baselines` the open-source ones."""
    if params is None:
        params = fusion.FusionParams(entry_rssi_dbm=float(DEFAULT_ENTRY_RSSI_DBM))
    rules: dict[str, PresenceRule] = {"fusion": fusion_rule(params)}
    if baselines:
        # bench.baselines builds on this module's trace types, so it is imported here.
        from bench.baselines import BASELINES

        rules.update(BASELINES)
    return rules


def run(
    scenario: Scenario,
    seed: int,
    channel: ChannelParams,
    baselines: bool = False,
    params: fusion.FusionParams | None = None,
    background_ranging_s: float = BACKGROUND_RANGING_S,
) -> dict[str, Any]:
    """The full report of one scenario: every rule's figures on one trace."""
    started = time.perf_counter()
    trace = record_trace(scenario, seed, channel, background_ranging_s)
    rules = {
        name: rule_report(trace, rule) for name, rule in presence_rules(baselines, params).items()
    }
    return {
        "scenario": scenario.name,
        "seed": seed,
        "channel": {
            "path_loss_exponent": channel.path_loss_exponent,
            "shadowing_db": channel.shadowing_sigma_db,
            "packet_loss": channel.packet_loss,
        },
        "ios_background_ranging_s": background_ranging_s,
        "counted": len(trace.groups),
        "left_out": sum(1 for p in scenario.people if not p.staff and p.name not in trace.groups),
        "rules": rules,
        "wall_s": round(time.perf_counter() - started, 2),
    }


TABLE_COLUMNS = (
    ("people", "people"),
    ("enter_latency_p95_s", "enter p95"),
    ("exit_latency_p95_s", "exit p95"),
    ("zone_accuracy", "zone acc"),
    ("walkby_false_entry_rate", "walk-by in"),
    ("walkby_event_precision", "wb prec"),
    ("flaps_per_stationary_hour", "flaps/h"),
    ("missed_arrivals", "missed"),
    ("premature_arrivals", "early"),
    ("missed_exits", "no exit"),
    ("dwell_latency_p95_s", "dwell p95"),
    ("bay_accuracy", "bay acc"),
    ("bay_arrival_p95_s", "bay p95"),
)


def table(reports: list[dict[str, Any]]) -> str:
    """The reports as one text table: a row per scenario, rule and group."""
    header = ["scenario", "rule", "group", *(title for _, title in TABLE_COLUMNS)]
    rows = [header]
    for report in reports:
        for rule, figures in report["rules"].items():
            sections = [("all", figures), *figures["by_group"].items()]
            for group, values in sections:
                cells = [
                    "-" if values[key] is None else str(values[key]) for key, _ in TABLE_COLUMNS
                ]
                rows.append([report["scenario"], rule, group, *cells])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


def main(argv: list[str] | None = None) -> int:
    """Run one scenario (or all) and print its accuracy report."""
    parser = argparse.ArgumentParser(prog="python -m bench accuracy", description=__doc__)
    parser.add_argument("--scenario", default="busy-saturday", help="a name, a file or 'all'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baselines", action="store_true", help="also the open-source rules")
    parser.add_argument(
        "--path-loss-exponent", type=float, default=ChannelParams().path_loss_exponent
    )
    parser.add_argument("--shadowing-db", type=float, default=ChannelParams().shadowing_sigma_db)
    parser.add_argument("--packet-loss", type=float, default=ChannelParams().packet_loss)
    parser.add_argument(
        "--ios-background-ranging-s",
        type=float,
        default=BACKGROUND_RANGING_S,
        help="how long a background iPhone's app ranges after a region event (an app asking "
        "iOS for a background task ranges longer; firmware_sim.world.BACKGROUND_RANGING_S)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per scenario")
    tunables = parser.add_argument_group("fusion tunables (store_server/presence/fusion.py)")
    for tunable in dataclasses.fields(fusion.FusionParams):
        tunables.add_argument(
            "--" + tunable.name.replace("_", "-"),
            type=float,
            default=None,
            metavar="X",
            help=f"FusionParams.{tunable.name} (default {tunable.default})",
        )
    args = parser.parse_args(argv)
    channel = ChannelParams(
        path_loss_exponent=args.path_loss_exponent,
        shadowing_sigma_db=args.shadowing_db,
        packet_loss=args.packet_loss,
    )
    swept = {
        tunable.name: getattr(args, tunable.name)
        for tunable in dataclasses.fields(fusion.FusionParams)
        if getattr(args, tunable.name) is not None
    }
    params = fusion.FusionParams(**{"entry_rssi_dbm": float(DEFAULT_ENTRY_RSSI_DBM), **swept})
    names = list(BUILTIN_SCENARIO_DOCUMENTS) if args.scenario == ALL_SCENARIOS else [args.scenario]
    reports = []
    for name in names:
        scenario = load(name)
        if not any(group_of(p) for p in scenario.people):
            continue  # nobody to count (the staff shift)
        report = run(
            scenario, args.seed, channel, args.baselines, params, args.ios_background_ranging_s
        )
        if swept:
            report["fusion_params"] = swept
        reports.append(report)
        if args.json:
            print(json.dumps(report), flush=True)
    if not args.json:
        print(table(reports))
    return 0
