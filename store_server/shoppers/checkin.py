"""Placing a shopper who says so: "I'm here" (optionally at a bay), or the store beacons their
app heard (fused with the gateways' readings)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from store_server.db.models import Beacon, Shopper, Zone
from store_server.events import Event
from store_server.messaging.outbound import Job, Reach
from store_server.presence import fusion
from store_server.presence.pipeline import (
    PresenceOutcome,
    alert_open_visit,
    fuse_and_record,
    states_before,
)
from store_server.presence.visits import FusionStates
from store_server.problems import DomainError, Refusal
from store_server.shoppers.consents import has_arrival_consent


@dataclass(frozen=True)
class CheckIn:
    """Where the shopper checked in: the events to emit, the alerts raised, what to keep."""

    where: str
    events: list[Event]
    alerts: int
    outcome: PresenceOutcome


@dataclass(frozen=True)
class Sighting:
    """One store beacon the app heard (its registered id as the app reported it)."""

    beacon: str
    rssi: int
    seen_at: float


@dataclass(frozen=True)
class RegionEvent:
    """Core Location woke the app on entering or leaving the store's iBeacon region, at `at`."""

    event: str  # fusion.REGION_ENTER | fusion.REGION_EXIT
    at: float


@dataclass
class SightingsOutcome:
    """What came of a report: counts, the fused state to keep, events to publish, offers."""

    accepted: int
    used: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    state: fusion.PersonState | None = None  # put it in FusionStates after the commit
    events: list[Event] = field(default_factory=list)
    offers: list[Job] = field(default_factory=list)


# Reasons a sighting is ignored (counted in the answer; an impossible RSSI and timestamps far
# from the server's clock are fusion's: `rssi_out_of_range`, `future_timestamp`, ...).
IGNORED_UNREGISTERED = "unregistered_beacon"  # no store has this beacon
IGNORED_OTHER_STORE = "other_store_beacon"  # another store's beacon: not evidence of this one


def _bad_sighting(
    sighting: Sighting, beacon: str, places: dict[str, fusion.Place], elsewhere: set[str]
) -> str | None:
    impossible = fusion.rssi_reason(sighting.rssi)
    if impossible is not None:
        return impossible
    if beacon in places:
        return None
    return IGNORED_OTHER_STORE if beacon in elsewhere else IGNORED_UNREGISTERED


def _refuse_without_consent(session: Session, shopper_id: int, store_id: int) -> None:
    if not has_arrival_consent(session, shopper_id, store_id):
        raise DomainError(
            Refusal.FORBIDDEN, "no_consent", "arrival alerts are not switched on for this store"
        )


def check_in(
    session: Session,
    states: FusionStates,
    shopper_id: int,
    store_id: int,
    bay: str | None,
    params: fusion.FusionParams,
    now: float,
    reach: Reach,
) -> CheckIn:
    """ "I'm here" (optionally "at bay 3"): a fusion signal, the shopper's word.

    It opens a visit like any entry (presence event, campaigns) and raises the pickup alerts
    with the `entered` event's confidence and reasons; already in the store, it places her
    where she says and alerts with the check-in's.
    """
    _refuse_without_consent(session, shopper_id, store_id)
    zone_name = bay or "entrance"
    zone = session.scalars(
        select(Zone).where(Zone.store_id == store_id, Zone.name == zone_name)
    ).first()
    if zone is None or (bay is not None and zone.kind != "bay"):
        raise DomainError(Refusal.INVALID, "unknown_bay", f"this store has no bay {zone_name!r}")
    place = fusion.zone_place(zone.kind, zone.name)
    before = states_before(session, states, store_id, {shopper_id}, params, now)
    signal: fusion.Signal = fusion.CheckIn(place, now)
    outcome = fuse_and_record(session, store_id, before, {shopper_id: [signal]}, params, now, reach)
    alerts = outcome.alerts
    if shopper_id not in outcome.visits:
        why = (params.check_in_confidence, [{"signal": "check_in", "place": zone.name}])
        alerts = alert_open_visit(session, store_id, shopper_id, zone.name, why, now)
    return CheckIn(zone.label, alerts + outcome.events, len(alerts), outcome)


def report_sightings(
    session: Session,
    states: FusionStates,
    shopper_id: int,
    store_id: int,
    sightings: Sequence[Sighting],
    params: fusion.FusionParams,
    now: float,
    reach: Reach,
    app_state: str | None = None,
    region: RegionEvent | None = None,
) -> SightingsOutcome:
    """Fuse the beacons the app heard with the gateways' readings to place the shopper.

    The app's state and the region event that woke it go to fusion as one `PhoneReport` (at
    the region event's time, else the latest sighting's), not counted as a sighting.
    """
    _refuse_without_consent(session, shopper_id, store_id)
    result = SightingsOutcome(accepted=len(sightings))
    shopper = session.get(Shopper, shopper_id)
    assert shopper is not None  # noqa: S101 - the device's foreign key
    if shopper.detection_paused_until is not None and shopper.detection_paused_until > now:
        result.ignored["detection_paused"] = len(sightings)
        return result
    wanted = {s.beacon.strip().lower() for s in sightings}
    places: dict[str, fusion.Place] = {}
    elsewhere: set[str] = set()
    for identifier, owner, kind, name in session.execute(
        select(Beacon.identifier, Beacon.store_id, Zone.kind, Zone.name)
        .outerjoin(Zone, Zone.id == Beacon.zone_id)
        .where(Beacon.identifier.in_(wanted))
    ):
        if owner == store_id:
            places[identifier] = fusion.zone_place(kind, name)
        else:
            elsewhere.add(identifier)
    reports: list[fusion.BeaconReport] = []
    for sighting in sightings:
        beacon = sighting.beacon.strip().lower()
        why = _bad_sighting(sighting, beacon, places, elsewhere)
        if why is not None:
            result.ignored[why] += 1  # never evidence of presence
            continue
        reports.append(fusion.BeaconReport(beacon, places[beacon], sighting.rssi, sighting.seen_at))
    signals = list[fusion.Signal](reports)
    if region is not None or (app_state is not None and sightings):
        at = region.at if region is not None else max(s.seen_at for s in sightings)
        event = None if region is None else region.event
        signals.append(fusion.PhoneReport(at, app_state, event))
    if not signals:
        return result
    before = states_before(session, states, store_id, {shopper_id}, params, now)
    outcome = fuse_and_record(session, store_id, before, {shopper_id: signals}, params, now, reach)
    result.ignored.update(outcome.ignored)
    result.offers = outcome.offers
    result.state = outcome.states[shopper_id]
    result.events = outcome.alerts + outcome.events
    # (A region event at a bad time is counted in `ignored` too, never in `used`.)
    result.used = max(0, len(reports) - sum(outcome.ignored.values()))
    return result
