"""Presence fusion, pure: every signal about one person in one store, folded into one state.

Nothing here reads a clock, a socket or the database: the caller passes the signals and `now`.
The same functions run in the ingest request, in the sweep and, on a virtual clock, in the
accuracy bench (`python -m bench accuracy`).

Signals: gateway readings (with the gateway's calibration offset and the place it watches),
the phone's reports of store beacons it heard (`BeaconReport`, from `POST /api/v1/me/sightings`)
and manual check-ins. Each source keeps one smoothed level; the raw estimate of where the
person is comes from the fresh levels (`locate`), and a state machine with hysteresis, minimum
dwell and a lost timeout turns raw estimates into states and events (`fuse`, `advance`).

States: `outside`, `walk-by`, `entrance`, `inside`, `zone` (with the zone's name) and `bay`
(with the bay's name). Events: `walk_by`, `entered`, `zone_entered`, `zone_dwell` (on leaving a
zone, with the dwell time), `curbside`, `exited`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from store_server.vocabulary import PlaceKind, PresenceKind, PresenceState

ARRIVAL_KINDS = (PlaceKind.ENTRANCE, PlaceKind.BAY)
VISIT_STATES = (PresenceState.ENTRANCE, PresenceState.INSIDE, PresenceState.ZONE, PresenceState.BAY)

# Reasons a signal is ignored (counted, returned in the batch answer).
IGNORED_FUTURE = "future_timestamp"
IGNORED_STALE = "stale_timestamp"
IGNORED_OUT_OF_ORDER = "out_of_order"

# The entry threshold (calibrated dBm) used when the caller passes none: the server's default
# STORE_ENTRY_RSSI_DBM, about 3.5 m from an antenna in free space (see store_server/settings.py).
DEFAULT_ENTRY_RSSI_DBM = -70.0
# Arrival latency matters most (a pickup customer waits at the door), but a single reading
# cannot tell a shopper stepping in from a passer on the pavement: passers 2.5-3.8 m from the
# door gateway read -67..-71 dBm at their closest, and per-advert noise (4 dB of shadowing plus
# fading; 8.7 dB on a harsh floor) lifts one advert in ten or twenty by 7 dB or more. One reading
# 10 dB above the threshold counted 8-16 % of the passers on busy-saturday as entries (45-57 %
# on a harsh channel). So each reading at the door adds its excess over a reference level
# to a running sum (a CUSUM, the classic detector of a level that has risen), and the sum opens
# the visit at ENTRY_EVIDENCE_DB: an advert far above the reference does it alone, two or three
# moderately above it do it together, and a passer's readings, mostly below the reference,
# keep pulling the sum back to 0. The reference sits between the two populations: a shopper
# walking through the 2 m door passes within 0.6 m of its antenna (-55 dBm and up), a passer
# stays 2.5 m or more away (-67 and down); entry + 4 dB is -66, where a passer's reading must
# already be lucky.
ENTRY_REFERENCE_MARGIN_DB = 4.0
# One reading this far above the threshold is sure by itself (reference + evidence: -50 dBm,
# 0.3 m). One reading at +10 dB (-60) let 8-16 % of passers in, at +12 dB still 3-5 %.
ENTRY_SURE_MARGIN_DB = 20.0
# The evidence the sum must reach: 16 dB is one advert at -50 dBm (0.3 m), two at -58 (1 m) or
# three at -61 within ENTRY_CONFIRM_WINDOW_S. On busy-saturday it lets 0-1 % of advertising
# passers through on the default channel and 10-18 % on a harsh one, at an arrival p95 of
# 2-3 s (bench accuracy; docs/decisions.md); 14 dB let 0-1 % and 17-29 % through, 20 dB
# pushed the arrival p95 past 3 s.
ENTRY_EVIDENCE_DB = 16.0
# The phone's own sightings of the beacon at the door add to the same sum: an entrance
# beacon advertises several times a second and a foreground app hears nearly every advert, so
# many readings, each weaker evidence than a gateway's (the beacon hangs beside the door, not
# in it): a shopper in the doorway hears it at about -66 dBm, a passer through the glass front
# at -72 to -78. Midway, -70, is the reference; each dB counts half a gateway's (its spread is
# wider, 6-7 dB against 5, and the two populations lie closer: about 7 dB apart against 12).
ENTRANCE_BEACON_REFERENCE_DBM = -70.0
ENTRANCE_BEACON_WEIGHT = 0.5
# A bay is a parking space several metres across, watched by a gateway on the facade: a parked
# car reads about the threshold for minutes while passers on the pavement walk right under the
# gateway, so the doorway's reference does not fit. Bays keep the rule doors had before: one
# reading this far above the threshold is sure, two BAY_PAIR_MARGIN_DB above it within
# ENTRY_CONFIRM_WINDOW_S confirm each other (each counts half the evidence), until a curbside
# scenario in the accuracy bench measures a better one.
BAY_SURE_MARGIN_DB = 10.0
BAY_PAIR_MARGIN_DB = 6.0
# Readings further apart than this do not add up: the sum restarts. Three adverts of a phone in
# the foreground (1 s apart), enough to bridge a lost one; a passer takes longer than that to
# walk past a door.
ENTRY_CONFIRM_WINDOW_S = 3.0
# A later reading than this many seconds behind the person's last fused one is out of order:
# it says where they were, not where they are. Two gateway batch periods (1 s each) of slack, so
# interleaved batches of two gateways both count.
REORDER_TOLERANCE_S = 2.0
# Gateway and phone clocks are NTP-synchronised to well under a second; a reading more than five
# minutes off the server's clock is a broken clock or a replay, never evidence of presence.
MAX_CLOCK_SKEW_S = 300.0
# A source's level is current for this long: a steady device is reported every 10 s (gateway
# keepalive, gateway/tracking.py REPORT_KEEPALIVE_S), an Android app in the background
# advertises every 5 s, and one lost advert must not make the person vanish: 10 + 5 + 5.
EVIDENCE_TTL_S = 20.0
# Smoothing of a source's level across its reports (the gateway sends single readings, picked
# when they changed): each report moves the level half way, so one faded reading (-10 dB) moves
# it 5 dB, two consistent ones 7.5 dB.
LEVEL_SMOOTHING = 0.5
# Not heard at all for this long: gone, whatever the last place. Bermuda's default is 30 s;
# Home Assistant's iBeacon integration waits 180 s and iOS region exit takes 10-30 s (issue 6).
# 30 s is above the longest normal silence of a present device (EVIDENCE_TTL_S + a keepalive).
LOST_TIMEOUT_S = 30.0
# Placed outside (weak at the door, no in-store evidence) for this long: left. Shorter than
# the lost timeout because the evidence is positive (heard, and weak); long enough to ride out
# a shopper's few seconds in the hysteresis band by the door.
EXIT_AFTER_S = 4.0
# Hysteresis of the door: a person whose visit is open counts as in the store until the door
# reading falls this far below the entry threshold (8 dB: about 2.5x the distance, n = 2).
EXIT_HYSTERESIS_DB = 8.0
# An in-store (zone or floor) gateway places someone inside from this level up: the far corners
# of the reference store read about -80 dBm at the floor gateway (11 m), the pavement -84 or
# less through the glass front.
INSIDE_MIN_DBM = -84.0
# ... and only when the door gateway is not this much stronger: right outside the door the door
# gateway reads 12 dB or more above the floor gateway, anywhere inside the floor less than 6 dB.
DOOR_DOMINANCE_DB = 9.0
# During a visit the door places someone at the entrance only from this far above the entry
# threshold: the entrance is the doorway, within 2 m of the door gateway (-65 dBm), while the
# threshold reaches 3.5 m, into the front of the store where shoppers browse (placed at the
# entrance there, they flapped between it and the floor). Once at the entrance they stay until
# the level falls to the threshold (hysteresis of 6 dB, 1.5 times its spread). Bays keep the
# threshold: a bay is a parking space several metres across, its gateway on the facade.
AT_DOOR_MARGIN_DB = 6.0
# A phone that hears a zone's beacon this strongly is in that zone: about 3.5 m at n = 2 from a
# -59 dBm at 1 m beacon, a zone of the reference store being 6 m across with its beacon in the
# middle (3 m to an edge, 4.2 m to a corner). At -72 (4.5 m) shoppers browsing just outside a
# zone counted as in it; -70 raised zone accuracy on busy-saturday by 1-2 points on the default
# channel and cost under one on a harsh one (docs/decisions.md).
BEACON_NEAR_DBM = -70.0
# A zone gateway's own zone, from this level up (about 3 m from the antenna).
ZONE_GATEWAY_DBM = -68.0
# A zone (or the floor between zones) must hold this long before the state changes: a phone
# lying still near a border hears both sides' beacons alternately stronger; five seconds is
# several readings of either side. Entries and exits have their own rules above.
MIN_DWELL_S = 5.0
# Someone placed inside (in-store gateway, door not dominant) this long without a door reading
# strong enough has still entered: a phone advertising every 5 s is heard once or not at all
# while crossing the door. Four such adverts; at 10 s passers placed inside by chance got in.
INSIDE_ENTRY_S = 20.0
# A zone change also needs the new zone this much stronger than the current one, and the
# current zone holds until its evidence falls this far below the level that places someone in
# a zone (hysteresis). A smoothed beacon level of a phone lying still spreads 2-3 dB (4 dB per
# reading, each report moving the level half way), so 3 dB let shoppers standing at a zone's
# edge flap in and out of it (7-11 flaps per stationary hour on busy-saturday); 7 dB, with the
# zone entered at BEACON_NEAR_DBM, brings that to 2-3 on the default channel and 12-14 on a
# harsh one, at the cost of a second or two of lag when they walk off (bench accuracy).
ZONE_SWITCH_MARGIN_DB = 7.0
# A check-in ("I'm here, bay 3") places the shopper for this long unless later readings move them.
CHECK_IN_TTL_S = 120.0
# Heard at a door or bay gateway at least this strongly but never entering within
# WALK_BY_DECIDE_S: a walk-by (about 14 m at n = 2: the pavement in front of the shop window).
WALK_BY_MIN_DBM = -82.0
# A passer walks past a 10 m shop front in about 8 s at 1.3 m/s; decide after that.
WALK_BY_DECIDE_S = 8.0
# Confidence of a placement from a single gateway: 0.5 at the threshold, 1.0 at 15 dB above.
BASE_CONFIDENCE = 0.5
FULL_CONFIDENCE_MARGIN_DB = 15.0
# A manual check-in is the shopper's own word: high, but a phone can be tapped from afar.
CHECK_IN_CONFIDENCE = 0.9
# Several independent sources agreeing add this much confidence each (capped at 1).
AGREEMENT_BONUS = 0.1


@dataclass(frozen=True)
class Place:
    """What a gateway or beacon watches: its kind (entrance, zone, bay, floor) and zone name."""

    kind: PlaceKind
    name: str | None = None


@dataclass(frozen=True)
class GatewayReading:
    """One reading of a person's device (app EID or registered tag) by one gateway."""

    gateway_id: str
    place: Place
    rssi: int
    rssi_offset_db: float
    seen_at: float
    signal: str = "eddystone_eid"  # eddystone_eid | customer_tag

    @property
    def calibrated_rssi(self) -> float:
        """RSSI corrected by the gateway's calibration offset."""
        return self.rssi + self.rssi_offset_db


@dataclass(frozen=True)
class BeaconReport:
    """The person's phone heard a store beacon (reported by the app)."""

    beacon_id: str
    place: Place
    rssi: int
    seen_at: float


@dataclass(frozen=True)
class CheckIn:
    """The shopper said "I'm here" (optionally where: a bay) on the shopper page."""

    place: Place
    seen_at: float


Signal = GatewayReading | BeaconReport | CheckIn


@dataclass(frozen=True)
class Evidence:
    """The current, smoothed word of one source about a person."""

    source: str  # gateway:<id> | beacon:<id> | check_in
    signal: str  # eddystone_eid | customer_tag | phone_beacon | check_in
    place: Place
    level: float  # calibrated dBm (0 for a check-in)
    last_rssi: float
    at: float

    def reason(self) -> dict[str, Any]:
        """The evidence as a reason staff and the event log can read."""
        out: dict[str, Any] = {"signal": self.signal, "rssi": round(self.last_rssi)}
        if self.source.startswith("gateway:"):
            out["gateway"] = self.source.removeprefix("gateway:")
        elif self.source.startswith("beacon:"):
            out["beacon"] = self.source.removeprefix("beacon:")
        if self.place.name:
            out["place"] = self.place.name
        return out


@dataclass(frozen=True)
class Estimate:
    """Where the evidence puts the person right now, before hysteresis."""

    state: PresenceState
    place: str | None
    confidence: float
    reasons: tuple[dict[str, Any], ...]
    level: float = 0.0


@dataclass(frozen=True)
class PresenceEvent:
    """Something staff, campaigns and the event log should know."""

    kind: PresenceKind
    place: str | None
    at: float
    confidence: float
    reasons: tuple[dict[str, Any], ...]
    dwell_s: float | None = None


@dataclass(frozen=True)
class FusionParams:
    """The tunables the caller may set; the module constants say why each default."""

    entry_rssi_dbm: float = DEFAULT_ENTRY_RSSI_DBM
    entry_sure_margin_db: float = ENTRY_SURE_MARGIN_DB
    lost_timeout_s: float = LOST_TIMEOUT_S
    exit_after_s: float = EXIT_AFTER_S
    min_dwell_s: float = MIN_DWELL_S


@dataclass(frozen=True)
class PersonState:
    """Everything fusion remembers of one person in one store."""

    state: PresenceState = PresenceState.OUTSIDE
    place: str | None = None
    since: float = 0.0
    visit_open: bool = False
    entered_at: float | None = None
    last_heard_at: float | None = None
    evidence: tuple[Evidence, ...] = ()
    confidence: float = 0.0
    reasons: tuple[dict[str, Any], ...] = ()
    # Since when the evidence has placed the person somewhere else than `state` (during a visit)
    # or in the store (before one): the minimum dwell and INSIDE_ENTRY_S count from it.
    placed_elsewhere_since: float | None = None
    outside_since: float | None = None
    door_evidence: float = 0.0  # dB of excess summed over recent door readings (ENTRY_*)
    door_evidence_at: float | None = None
    near_door_since: float | None = None
    walk_by_reported: bool = False


@dataclass(frozen=True)
class Fused:
    """What folding signals in produced: the new state, its events, the ignored signals."""

    state: PersonState
    events: list[PresenceEvent]
    ignored: Counter[str] = field(default_factory=Counter)


def signal_time(signal: Signal) -> float:
    """When a signal was observed."""
    return signal.seen_at


def _source(signal: Signal) -> str:
    if isinstance(signal, GatewayReading):
        return f"gateway:{signal.gateway_id}"
    if isinstance(signal, BeaconReport):
        return f"beacon:{signal.beacon_id}"
    return "check_in"


def clock_skew_reason(seen_at: float, now: float) -> str | None:
    """Why a timestamp this far from the server's clock `now` must be ignored, or None."""
    if seen_at > now + MAX_CLOCK_SKEW_S:
        return IGNORED_FUTURE
    if seen_at < now - MAX_CLOCK_SKEW_S:
        return IGNORED_STALE
    return None


def check_signal(state: PersonState, signal: Signal, now: float) -> str | None:
    """Why a signal must be ignored (far from the server clock, out of order), or None."""
    at = signal.seen_at
    skew = clock_skew_reason(at, now)
    if skew is not None:
        return skew
    if state.last_heard_at is not None and at < state.last_heard_at - REORDER_TOLERANCE_S:
        return IGNORED_OUT_OF_ORDER
    source = _source(signal)
    previous = next((e for e in state.evidence if e.source == source), None)
    if previous is not None and at < previous.at:
        return IGNORED_OUT_OF_ORDER
    return None


def _absorb(evidence: tuple[Evidence, ...], signal: Signal) -> tuple[Evidence, ...]:
    source = _source(signal)
    previous = next((e for e in evidence if e.source == source), None)
    others = tuple(e for e in evidence if e.source != source)
    if isinstance(signal, CheckIn):
        return (*others, Evidence(source, "check_in", signal.place, 0.0, 0.0, signal.seen_at))
    if isinstance(signal, GatewayReading):
        rssi, kind = signal.calibrated_rssi, signal.signal
    else:
        rssi, kind = float(signal.rssi), "phone_beacon"
    level = rssi
    if previous is not None and signal.seen_at - previous.at <= EVIDENCE_TTL_S:
        level = previous.level + LEVEL_SMOOTHING * (rssi - previous.level)
    return (*others, Evidence(source, kind, signal.place, level, rssi, signal.seen_at))


def _confidence(margin_db: float, sources: int = 1) -> float:
    share = min(1.0, max(0.0, margin_db) / FULL_CONFIDENCE_MARGIN_DB)
    value = BASE_CONFIDENCE + (1 - BASE_CONFIDENCE) * share + AGREEMENT_BONUS * (sources - 1)
    return round(min(1.0, value), 2)


def entry_confidence(calibrated_rssi: float, entry_rssi_dbm: float) -> float:
    """0.5 at the entry threshold, rising to 1.0 at 15 dB above it."""
    return _confidence(calibrated_rssi - entry_rssi_dbm)


def locate(
    evidence: Iterable[Evidence],
    params: FusionParams,
    now: float,
    visit_open: bool,
    current_zone: str | None = None,
    at_entrance: bool = False,
) -> Estimate:
    """Where the fresh evidence puts the person at `now`.

    Args:
        current_zone: the zone the person is in now, if any: it holds until its evidence falls
            ZONE_SWITCH_MARGIN_DB below the level that places someone in a zone (hysteresis).
        at_entrance: whether the person is placed at the entrance now: they stay there until
            the door's level falls to the entry threshold (AT_DOOR_MARGIN_DB of hysteresis).
    """
    fresh = [e for e in evidence if now - e.at <= EVIDENCE_TTL_S]
    check_in = next(
        (e for e in fresh if e.signal == "check_in" and now - e.at <= CHECK_IN_TTL_S), None
    )
    gateways = [e for e in fresh if e.source.startswith("gateway:")]
    arrival = [e for e in gateways if e.place.kind in ARRIVAL_KINDS]
    in_store = [e for e in gateways if e.place.kind not in ARRIVAL_KINDS]
    beacons = [e for e in fresh if e.signal == "phone_beacon"]
    door = max(arrival, key=lambda e: e.level, default=None)
    floor = max(in_store, key=lambda e: e.level, default=None)
    entry = params.entry_rssi_dbm
    # The shopper's own word, until a gateway hears them anew.
    if check_in is not None and all(e.at <= check_in.at for e in gateways):
        state = {PlaceKind.BAY: PresenceState.BAY, PlaceKind.ZONE: PresenceState.ZONE}.get(
            check_in.place.kind, PresenceState.ENTRANCE
        )
        return Estimate(state, check_in.place.name, CHECK_IN_CONFIDENCE, (check_in.reason(),))
    # The door or a bay: the latest reading there is strong.
    # Before a visit the latest reading decides (arrival latency); during one the smoothed level
    # (hysteresis: one faded reading does not move the person).
    strongest = None if door is None else (door.level if visit_open else door.last_rssi)
    door_entry = entry
    if (
        visit_open
        and not at_entrance
        and door is not None
        and door.place.kind == PlaceKind.ENTRANCE
    ):
        door_entry = entry + AT_DOOR_MARGIN_DB
    if door is not None and strongest is not None and strongest >= door_entry:
        state = PresenceState.BAY if door.place.kind == PlaceKind.BAY else PresenceState.ENTRANCE
        return Estimate(
            state, door.place.name, _confidence(strongest - entry), (door.reason(),), strongest
        )

    # A zone: the phone hears its beacon close by, or the zone's own gateway is close.
    def relief(e: Evidence) -> float:
        return ZONE_SWITCH_MARGIN_DB if e.place.name == current_zone else 0.0

    near_zone = [
        e
        for e in beacons
        if e.place.kind == PlaceKind.ZONE
        and e.level >= BEACON_NEAR_DBM - relief(e)
        and e.place.name
    ] + [
        e
        for e in in_store
        if e.place.kind == PlaceKind.ZONE and e.level >= ZONE_GATEWAY_DBM - relief(e)
    ]
    if near_zone:
        best = max(near_zone, key=lambda e: e.level)
        agree = [e for e in near_zone if e.place == best.place]
        threshold = BEACON_NEAR_DBM if best.signal == "phone_beacon" else ZONE_GATEWAY_DBM
        return Estimate(
            PresenceState.ZONE,
            best.place.name,
            _confidence(best.level - threshold, len(agree)),
            tuple(e.reason() for e in agree),
            best.level,
        )
    # On the floor: an in-store gateway hears the person, and the door does not dominate.
    door_level = door.level if door is not None else float("-inf")
    if (
        floor is not None
        and floor.level >= INSIDE_MIN_DBM
        and floor.level >= door_level - DOOR_DOMINANCE_DB
    ):
        reasons = (floor.reason(),) + ((door.reason(),) if door is not None else ())
        return Estimate(
            PresenceState.INSIDE,
            None,
            _confidence(floor.level - INSIDE_MIN_DBM),
            reasons,
            floor.level,
        )
    # The door's hysteresis band: still in the store until the door reading clearly falls.
    if visit_open and door is not None and door.level >= entry - EXIT_HYSTERESIS_DB:
        margin = door.level - (entry - EXIT_HYSTERESIS_DB)
        return Estimate(
            PresenceState.INSIDE, None, _confidence(margin), (door.reason(),), door.level
        )
    reasons = tuple(e.reason() for e in (door, floor) if e is not None)
    return Estimate(PresenceState.OUTSIDE, None, 0.5 if reasons else 0.0, reasons)


def _event(
    kind: PresenceKind,
    estimate: Estimate,
    at: float,
    place: str | None = None,
    dwell_s: float | None = None,
) -> PresenceEvent:
    return PresenceEvent(
        kind,
        place if place is not None else estimate.place,
        at,
        estimate.confidence,
        estimate.reasons,
        None if dwell_s is None else round(dwell_s, 1),
    )


def _leave_place(state: PersonState, estimate: Estimate, at: float) -> list[PresenceEvent]:
    if state.state != PresenceState.ZONE:
        return []
    return [
        _event(
            PresenceKind.ZONE_DWELL,
            estimate,
            at,
            place=state.place,
            dwell_s=max(0.0, at - state.since),
        )
    ]


def _enter_place(
    state: PersonState, estimate: Estimate, at: float
) -> tuple[PersonState, list[PresenceEvent]]:
    events = _leave_place(state, estimate, at)
    if estimate.state == PresenceState.ZONE:
        events.append(_event(PresenceKind.ZONE_ENTERED, estimate, at))
    elif estimate.state == PresenceState.BAY and state.state != PresenceState.BAY:
        events.append(_event(PresenceKind.CURBSIDE, estimate, at))
    moved = replace(
        state,
        state=estimate.state,
        place=estimate.place,
        since=at,
        placed_elsewhere_since=None,
        confidence=estimate.confidence,
        reasons=estimate.reasons,
    )
    return moved, events


def _exit(
    state: PersonState, estimate: Estimate, at: float
) -> tuple[PersonState, list[PresenceEvent]]:
    events = _leave_place(state, estimate, at)
    reasons = estimate.reasons or state.reasons
    confidence = estimate.confidence if estimate.reasons else 0.5
    events.append(PresenceEvent(PresenceKind.EXITED, None, at, confidence, reasons))
    gone = replace(
        state,
        state=PresenceState.OUTSIDE,
        place=None,
        since=at,
        visit_open=False,
        entered_at=None,
        placed_elsewhere_since=None,
        outside_since=None,
        door_evidence=0.0,
        door_evidence_at=None,
        near_door_since=None,
        walk_by_reported=True,  # one pass, one story: they came out through the door
        confidence=confidence,
        reasons=reasons,
    )
    return gone, events


def _door_excess(signal: Signal, params: FusionParams) -> float | None:
    """The dB by which a reading at a door or bay says "stepping in", or None if it says nothing."""
    if signal.place.kind not in ARRIVAL_KINDS:
        return None
    entry = params.entry_rssi_dbm
    if isinstance(signal, GatewayReading) and signal.place.kind == PlaceKind.BAY:
        rssi = signal.calibrated_rssi
        if rssi >= entry + BAY_SURE_MARGIN_DB:
            return ENTRY_EVIDENCE_DB
        return ENTRY_EVIDENCE_DB / 2 if rssi >= entry + BAY_PAIR_MARGIN_DB else None
    if isinstance(signal, GatewayReading):
        rssi = signal.calibrated_rssi
        if rssi >= entry + params.entry_sure_margin_db:
            return ENTRY_EVIDENCE_DB  # sure by itself
        return rssi - (entry + ENTRY_REFERENCE_MARGIN_DB)
    if isinstance(signal, BeaconReport) and signal.place.kind == PlaceKind.ENTRANCE:
        return ENTRANCE_BEACON_WEIGHT * (signal.rssi - ENTRANCE_BEACON_REFERENCE_DBM)
    return None


def _add_door_evidence(state: PersonState, signal: Signal, params: FusionParams) -> PersonState:
    excess = _door_excess(signal, params)
    if excess is None or state.visit_open:
        return state
    t = signal.seen_at
    recent = state.door_evidence_at is not None and t - state.door_evidence_at <= (
        ENTRY_CONFIRM_WINDOW_S
    )
    total = max(0.0, (state.door_evidence if recent else 0.0) + excess)
    return replace(state, door_evidence=total, door_evidence_at=t)


def _arrival_estimate(
    state: PersonState, estimate: Estimate, arrival: list[Evidence]
) -> Estimate | None:
    """Where an entry confirmed by the door evidence places the person, or None if unconfirmed.

    Args:
        arrival: the fresh evidence from doors and bays.
    """
    if state.door_evidence < ENTRY_EVIDENCE_DB:
        return None
    if estimate.state in (PresenceState.ENTRANCE, PresenceState.BAY):
        return estimate
    latest = max(arrival, key=lambda e: e.at, default=None)
    if latest is None:
        return None
    where = PresenceState.BAY if latest.place.kind == PlaceKind.BAY else PresenceState.ENTRANCE
    return Estimate(where, latest.place.name, _confidence(state.door_evidence), (latest.reason(),))


def _step(
    state: PersonState, params: FusionParams, t: float
) -> tuple[PersonState, list[PresenceEvent]]:
    """Apply the state machine at time `t` given the evidence already absorbed."""
    zone = state.place if state.state == PresenceState.ZONE else None
    at_entrance = state.state == PresenceState.ENTRANCE
    estimate = locate(state.evidence, params, t, state.visit_open, zone, at_entrance)
    if not state.visit_open:
        return _step_outside(state, estimate, params, t)
    if estimate.state == PresenceState.OUTSIDE:
        since = state.outside_since if state.outside_since is not None else t
        if t - since >= params.exit_after_s:
            return _exit(state, estimate, t)
        return replace(state, outside_since=since), []
    state = replace(state, outside_since=None)
    if (estimate.state, estimate.place) == (state.state, state.place):
        return replace(
            state,
            placed_elsewhere_since=None,
            confidence=estimate.confidence,
            reasons=estimate.reasons,
        ), []
    if state.state == PresenceState.ZONE and estimate.state == PresenceState.ZONE:
        current = _zone_level(state, t)
        if current is not None and estimate.level < current + ZONE_SWITCH_MARGIN_DB:
            return replace(state, placed_elsewhere_since=None), []
    # The dwell counts from when the person stopped being placed where they are, wherever the
    # evidence has put them since: someone walking out of a zone passes the floor, the doorway
    # and the pavement, and each of those must not restart the clock.
    since = state.placed_elsewhere_since if state.placed_elsewhere_since is not None else t
    if t - since >= params.min_dwell_s:
        return _enter_place(state, estimate, t)
    return replace(state, placed_elsewhere_since=since), []


def _zone_level(state: PersonState, t: float) -> float | None:
    levels = [
        e.level
        for e in state.evidence
        if e.place.kind == PlaceKind.ZONE
        and e.place.name == state.place
        and t - e.at <= EVIDENCE_TTL_S
    ]
    return max(levels, default=None)


def _step_outside(
    state: PersonState, estimate: Estimate, params: FusionParams, t: float
) -> tuple[PersonState, list[PresenceEvent]]:
    arrival = [
        e for e in state.evidence if e.place.kind in ARRIVAL_KINDS and t - e.at <= EVIDENCE_TTL_S
    ]
    near = any(e.last_rssi >= WALK_BY_MIN_DBM for e in arrival if e.source.startswith("gateway:"))
    arrived = _arrival_estimate(state, estimate, arrival)
    if arrived is not None:
        opened = replace(state, visit_open=True, entered_at=t, outside_since=None)
        opened, events = _enter_place(opened, arrived, t)
        return opened, [_event(PresenceKind.ENTERED, arrived, t), *events]
    if estimate.state in (PresenceState.INSIDE, PresenceState.ZONE):
        # Placed in the store (on the floor or in a zone) for long enough: in, whatever the door.
        since = state.placed_elsewhere_since if state.placed_elsewhere_since is not None else t
        if t - since >= INSIDE_ENTRY_S:
            opened = replace(state, visit_open=True, entered_at=t, outside_since=None)
            opened, events = _enter_place(opened, estimate, t)
            return opened, [_event(PresenceKind.ENTERED, estimate, t), *events]
        state = replace(state, placed_elsewhere_since=since)
    elif state.placed_elsewhere_since is not None:
        state = replace(state, placed_elsewhere_since=None)
    if not near:
        if state.near_door_since is not None and t - (state.last_heard_at or t) > EVIDENCE_TTL_S:
            return replace(state, near_door_since=None, walk_by_reported=False), []
        return state, []
    since = state.near_door_since if state.near_door_since is not None else t
    state = replace(state, near_door_since=since)
    if not state.walk_by_reported and t - since >= WALK_BY_DECIDE_S:
        event = _event(PresenceKind.WALK_BY, estimate, t)
        return (
            replace(
                state,
                state=PresenceState.WALK_BY,
                since=t,
                walk_by_reported=True,
                confidence=estimate.confidence,
                reasons=estimate.reasons,
            ),
            [event],
        )
    return state, []


def fuse(
    state: PersonState | None, signals: Iterable[Signal], params: FusionParams, now: float
) -> Fused:
    """Fold signals (any order) into a person's state at server time `now`."""
    current = state if state is not None else PersonState()
    events: list[PresenceEvent] = []
    ignored: Counter[str] = Counter()
    for signal in sorted(signals, key=signal_time):
        why = check_signal(current, signal, now)
        if why is not None:
            ignored[why] += 1
            continue
        t = signal.seen_at
        current, timed = _advance(current, params, t)
        events += timed
        current = replace(
            _add_door_evidence(current, signal, params),
            evidence=_absorb(current.evidence, signal),
            last_heard_at=max(t, current.last_heard_at or t),
        )
        current, stepped = _step(current, params, t)
        events += stepped
    return Fused(current, events, ignored)


def _advance(
    state: PersonState, params: FusionParams, now: float
) -> tuple[PersonState, list[PresenceEvent]]:
    if state.visit_open and state.last_heard_at is not None:
        if now - state.last_heard_at >= params.lost_timeout_s:
            lost = Estimate(
                PresenceState.OUTSIDE,
                None,
                0.5,
                ({"signal": "lost", "silent_s": round(now - state.last_heard_at, 1)},),
            )
            return _exit(state, lost, state.last_heard_at + params.lost_timeout_s)
        if state.outside_since is not None or state.placed_elsewhere_since is not None:
            return _step(state, params, now)
    return state, []


def advance(state: PersonState, params: FusionParams, now: float) -> Fused:
    """Apply what time alone decides at `now`: the lost timeout and a pending exit."""
    new_state, events = _advance(state, params, now)
    return Fused(new_state, events)


def restore(
    visit: tuple[float, float] | None, signals: Iterable[Signal], params: FusionParams
) -> PersonState:
    """Rebuild a person's state from stored facts, without events (they were emitted before).

    Args:
        visit: (started_at, last_seen_at) of the open visit, if there is one.
        signals: the person's recent stored readings.
    """
    state = PersonState()
    if visit is not None:
        state = replace(
            state,
            state=PresenceState.INSIDE,
            since=visit[0],
            visit_open=True,
            entered_at=visit[0],
            last_heard_at=visit[1],
        )
    for signal in sorted(signals, key=signal_time):
        state = replace(
            state,
            evidence=_absorb(state.evidence, signal),
            last_heard_at=max(signal.seen_at, state.last_heard_at or signal.seen_at),
        )
    if visit is not None:
        estimate = locate(state.evidence, params, state.last_heard_at or visit[1], True)
        if estimate.state != PresenceState.OUTSIDE:
            state = replace(state, state=estimate.state, place=estimate.place)
    return state
