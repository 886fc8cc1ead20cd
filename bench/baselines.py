"""The open-source presence rules people use today, as presence rules of the accuracy bench.

Each rule reads the same trace as the fusion (every gateway advert of a counted person's phone
or tag, `bench.accuracy.Trace`) and gives the same per-second labels and events, so the bench's
metric code compares them side by side. They are written from each project's published
defaults and documented behaviour (cited beside each constant), not copied from their code.

All three are gateway-side systems: they never see a phone's own beacon reports, so an iPhone
(which never advertises) is invisible to them. They are given every advert of a person's phone
or tag under one identity, as if each could resolve the phone's rotating address (Bermuda with
an IRK, ESPresense with a fingerprint): generous to them.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field

from bench.accuracy import Heard, PresenceRule, RuleTrack, Trace, place_label
from firmware_sim.world import STATE_OUTSIDE
from store_server.vocabulary import PresenceKind

# --- Home Assistant `ibeacon` integration (homeassistant/components/ibeacon/const.py) ---
# A device is home as soon as an advert is heard, and "unavailable" (away) once none has been
# heard for UNAVAILABLE_TIMEOUT = 180 s, which the integration checks every UPDATE_INTERVAL =
# 60 s. It has no notion of areas: home is "somewhere in range".
HA_UNAVAILABLE_TIMEOUT_S = 180.0
HA_UPDATE_INTERVAL_S = 60.0

# --- Bermuda BLE Trilateration (custom_components/bermuda/const.py defaults) ---
# Distance from RSSI: 10 ** ((ref_power - rssi) / (10 * attenuation)), ref_power -55 dBm at
# 1 m, attenuation 3.
BERMUDA_REF_POWER_DBM = -55.0
BERMUDA_ATTENUATION = 3.0
# smoothing_samples = 20: the reported distance is the minimum of the last 20 samples (one per
# update cycle, UPDATE_INTERVAL = 1.05 s; the bench cycles once a second), so distance falls
# at once and rises slowly.
BERMUDA_SMOOTHING_SAMPLES = 20
# max_velocity = 3 m/s: a reading that implies moving away faster than this is ignored.
BERMUDA_MAX_VELOCITY_M_S = 3.0
# devtracker_nothome_timeout = 30 s: not_home once no scanner has heard the device that long;
# a scanner's distance goes stale after DISTANCE_TIMEOUT = 30 s.
BERMUDA_NOT_HOME_S = 30.0
BERMUDA_DISTANCE_TIMEOUT_S = 30.0
# max_area_radius = 20 m: a scanner further than this cannot claim the device's area.
BERMUDA_MAX_RADIUS_M = 20.0
# AREA_MAX_AD_AGE = max(DISTANCE_TIMEOUT / 3, 2 update cycles) = 10 s: older adverts cannot
# win an area contest.
BERMUDA_AREA_MAX_AD_AGE_S = 10.0
# The area contest (coordinator `_refresh_area_by_min_distance`): a closer challenger takes
# the area from the incumbent only when their distances differ by at least 18 % (the
# project's "percentage difference", |a - b| / (a + b) / 2), or by 15 % when its largest
# distance of the last 5 cycles is below the incumbent's smallest; an incumbent without a
# distance loses at once.
BERMUDA_PCNT_DIFF_WIN = 0.18
BERMUDA_PCNT_DIFF_HISTORY = 0.15
BERMUDA_HISTORY_CYCLES = 5

# --- ESPresense v4 node firmware (include/defaults.h) and Home Assistant `mqtt_room` ---
# The node turns RSSI into distance: 10 ** ((ref - rssi) / (10 * absorption)), with the
# transmitter's reference DEFAULT_TX_REF_RSSI = -59 dBm at 1 m (the phone advertises none the
# node can use) and DEFAULT_ABSORPTION = 2.7; it reports nothing beyond DEFAULT_MAX_DISTANCE =
# 16 m, and skips an update when the device moved less than 0.5 m (DEFAULT_SKIP_DISTANCE)
# within 5 s (DEFAULT_SKIP_MS).
ESPRESENSE_TX_REF_DBM = -59.0
ESPRESENSE_ABSORPTION = 2.7
ESPRESENSE_MAX_DISTANCE_M = 16.0
ESPRESENSE_SKIP_DISTANCE_M = 0.5
ESPRESENSE_SKIP_S = 5.0
# The node's distance filter, as configured for this comparison: the median of the last 15 s.
ESPRESENSE_MEDIAN_WINDOW_S = 15.0
# mqtt_room (homeassistant/components/mqtt_room/sensor.py): a report from another room wins
# when it is closer or the current room's last report is older than `timeout` (default 5 s);
# with `away_timeout` (here 120 s) the device is not_home after that long without a report.
MQTT_ROOM_TIMEOUT_S = 5.0
MQTT_ROOM_AWAY_TIMEOUT_S = 120.0


def _by_person(trace: Trace) -> dict[str, list[Heard]]:
    adverts: dict[str, list[Heard]] = {name: [] for name in trace.groups}
    for heard in trace.heard:
        adverts[heard.person].append(heard)
    return adverts


def _play(trace: Trace, adverts: list[Heard], machine: _Machine) -> RuleTrack:
    """Feed one person's adverts and the once-a-second tick through a rule's state machine."""
    track = RuleTrack()
    index = 0
    for second in range(trace.seconds):
        end = trace.unix_start + second + 1
        while index < len(adverts) and adverts[index].unix_time < end:
            machine.advert(adverts[index], track)
            index += 1
        machine.tick(end, track)
        track.labels.append(machine.label())
    return track


class _Machine:
    """One rule's state for one person."""

    def __init__(self, trace: Trace) -> None:
        self.places = trace.gateway_places

    def advert(self, heard: Heard, track: RuleTrack) -> None:
        raise NotImplementedError

    def tick(self, now: float, track: RuleTrack) -> None:
        raise NotImplementedError

    def label(self) -> str:
        raise NotImplementedError


def _rule(trace: Trace, make: type[_Machine]) -> dict[str, RuleTrack]:
    return {
        person: _play(trace, adverts, make(trace)) for person, adverts in _by_person(trace).items()
    }


class _HomeAssistantIbeacon(_Machine):
    def __init__(self, trace: Trace) -> None:
        self.start = trace.unix_start
        self.last_seen: float | None = None
        self.home = False
        self.next_check = trace.unix_start + HA_UPDATE_INTERVAL_S

    def advert(self, heard: Heard, track: RuleTrack) -> None:
        self.last_seen = heard.unix_time
        if not self.home:
            self.home = True
            track.events.append((heard.unix_time, PresenceKind.ENTERED, None))

    def tick(self, now: float, track: RuleTrack) -> None:
        while self.next_check <= now:
            stale = self.last_seen is None or self.next_check - self.last_seen > (
                HA_UNAVAILABLE_TIMEOUT_S
            )
            if self.home and stale:
                self.home = False
                track.events.append((self.next_check, PresenceKind.EXITED, None))
            self.next_check += HA_UPDATE_INTERVAL_S

    def label(self) -> str:
        return "inside" if self.home else STATE_OUTSIDE


def home_assistant_ibeacon(trace: Trace) -> dict[str, RuleTrack]:
    """Home Assistant's `ibeacon` device tracker: home when heard, away 180 s after."""
    return _rule(trace, _HomeAssistantIbeacon)


@dataclass
class _BermudaScanner:
    latest: Heard | None = None
    fresh: bool = False
    samples: deque[float] = field(default_factory=lambda: deque(maxlen=BERMUDA_SMOOTHING_SAMPLES))
    history: deque[float] = field(default_factory=lambda: deque(maxlen=BERMUDA_HISTORY_CYCLES))
    distance: float | None = None
    updated: float | None = None


def bermuda_distance(rssi: float) -> float:
    """Bermuda's distance estimate from one RSSI."""
    return float(10 ** ((BERMUDA_REF_POWER_DBM - rssi) / (10 * BERMUDA_ATTENUATION)))


def percentage_difference(a: float, b: float) -> float:
    """Bermuda's "percentage difference" of two distances (as its area contest computes it)."""
    return abs(a - b) / (a + b) / 2


class _Bermuda(_Machine):
    def __init__(self, trace: Trace) -> None:
        self.places = trace.gateway_places
        self.scanners: dict[str, _BermudaScanner] = {}
        self.area: str | None = None
        self.last_seen: float | None = None
        self.home = False

    def advert(self, heard: Heard, track: RuleTrack) -> None:
        scanner = self.scanners.setdefault(heard.gateway, _BermudaScanner())
        scanner.latest, scanner.fresh = heard, True
        self.last_seen = heard.unix_time
        if not self.home:
            self.home = True
            track.events.append((heard.unix_time, PresenceKind.ENTERED, None))

    def _update_distance(self, scanner: _BermudaScanner, now: float) -> None:
        latest = scanner.latest
        if latest is None or now - latest.unix_time > BERMUDA_DISTANCE_TIMEOUT_S:
            scanner.distance = None
            scanner.samples.clear()
        elif scanner.fresh:
            raw = bermuda_distance(latest.rssi)
            previous, updated = scanner.distance, scanner.updated
            too_fast = (
                previous is not None
                and updated is not None
                and raw - previous > BERMUDA_MAX_VELOCITY_M_S * max(now - updated, 1e-3)
            )
            if not too_fast:
                scanner.samples.append(raw)
                scanner.distance = min(scanner.samples)
                scanner.updated = now
        scanner.fresh = False
        scanner.history.appendleft(scanner.distance if scanner.distance is not None else math.inf)

    def _challenger_wins(
        self, incumbent: _BermudaScanner, challenger: _BermudaScanner, now: float
    ) -> bool:
        if incumbent.distance is None:
            return True
        if challenger.distance is None or challenger.latest is None:
            return False
        if challenger.distance > BERMUDA_MAX_RADIUS_M:
            return False
        if now - challenger.latest.unix_time > BERMUDA_AREA_MAX_AD_AGE_S:
            return False
        if challenger.distance > incumbent.distance:
            return False
        diff = percentage_difference(challenger.distance, incumbent.distance)
        settled = len(challenger.history) >= BERMUDA_HISTORY_CYCLES
        if settled and max(challenger.history) < min(incumbent.history):
            return diff > BERMUDA_PCNT_DIFF_HISTORY
        return diff >= BERMUDA_PCNT_DIFF_WIN

    def tick(self, now: float, track: RuleTrack) -> None:
        for scanner in self.scanners.values():
            self._update_distance(scanner, now)
        if self.home and (self.last_seen is None or now - self.last_seen > BERMUDA_NOT_HOME_S):
            self.home, self.area = False, None
            track.events.append((now, PresenceKind.EXITED, None))
            return
        for name, challenger in self.scanners.items():
            if name == self.area:
                continue
            incumbent = self.scanners.get(self.area) if self.area is not None else None
            if incumbent is None or self._challenger_wins(incumbent, challenger, now):
                if challenger.distance is not None:
                    self.area = name

    def label(self) -> str:
        if not self.home or self.area is None:
            return STATE_OUTSIDE
        return place_label(self.places[self.area])


def bermuda(trace: Trace) -> dict[str, RuleTrack]:
    """Bermuda: nearest scanner's area by smoothed distance, with its challenger hysteresis."""
    return _rule(trace, _Bermuda)


@dataclass
class _EspresenseNode:
    raw: deque[tuple[float, float]] = field(default_factory=deque)
    reported_distance: float | None = None
    reported_at: float | None = None


def espresense_distance(rssi: float) -> float:
    """ESPresense's distance estimate from one RSSI."""
    return float(10 ** ((ESPRESENSE_TX_REF_DBM - rssi) / (10 * ESPRESENSE_ABSORPTION)))


class _Espresense(_Machine):
    def __init__(self, trace: Trace) -> None:
        self.places = trace.gateway_places
        self.nodes: dict[str, _EspresenseNode] = {}
        self.room: str | None = None
        self.distance = math.inf
        self.updated: float | None = None

    def advert(self, heard: Heard, track: RuleTrack) -> None:
        node = self.nodes.setdefault(heard.gateway, _EspresenseNode())
        t = heard.unix_time
        node.raw.append((t, espresense_distance(heard.rssi)))
        while node.raw and node.raw[0][0] < t - ESPRESENSE_MEDIAN_WINDOW_S:
            node.raw.popleft()
        distance = statistics.median(d for _, d in node.raw)
        if distance > ESPRESENSE_MAX_DISTANCE_M:
            return
        if (
            node.reported_distance is not None
            and node.reported_at is not None
            and abs(distance - node.reported_distance) < ESPRESENSE_SKIP_DISTANCE_M
            and t - node.reported_at < ESPRESENSE_SKIP_S
        ):
            return
        node.reported_distance, node.reported_at = distance, t
        self._mqtt_room(heard.gateway, distance, t, track)

    def _mqtt_room(self, room: str, distance: float, t: float, track: RuleTrack) -> None:
        stale = self.updated is None or t - self.updated >= MQTT_ROOM_TIMEOUT_S
        if room == self.room or distance < self.distance or stale:
            if self.room is None:
                track.events.append((t, PresenceKind.ENTERED, None))
            self.room, self.distance, self.updated = room, distance, t

    def tick(self, now: float, track: RuleTrack) -> None:
        if (
            self.room is not None
            and self.updated is not None
            and now - self.updated > MQTT_ROOM_AWAY_TIMEOUT_S
        ):
            self.room, self.distance = None, math.inf
            track.events.append((now, PresenceKind.EXITED, None))

    def label(self) -> str:
        return STATE_OUTSIDE if self.room is None else place_label(self.places[self.room])


def espresense_mqtt_room(trace: Trace) -> dict[str, RuleTrack]:
    """ESPresense v4 nodes with Home Assistant's `mqtt_room`: nearest room, away after 120 s."""
    return _rule(trace, _Espresense)


BASELINES: dict[str, PresenceRule] = {
    "ha_ibeacon": home_assistant_ibeacon,
    "bermuda": bermuda,
    "espresense": espresense_mqtt_room,
}
