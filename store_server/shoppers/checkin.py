"""Placing a shopper who says so: "I'm here" (optionally at a bay), or the store beacons their
app heard (fused with the gateways' readings)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from store_server.db.models import Beacon, Shopper, Zone
from store_server.engagement import engine as engagement
from store_server.events import Event
from store_server.messaging.outbound import Job, Reach
from store_server.pickup.alerts import raise_pickup_alerts
from store_server.presence import fusion
from store_server.presence.fusion import LOST_TIMEOUT_S
from store_server.presence.visits import (
    FusionStates,
    apply_signals,
    current_state,
    open_visit,
    start_visit,
)
from store_server.problems import DomainError, Refusal
from store_server.shoppers.consents import has_arrival_consent
from store_server.vocabulary import PlaceKind


@dataclass(frozen=True)
class CheckIn:
    """Where the shopper checked in, and the pickup alerts it raised."""

    where: str
    events: list[Event]


@dataclass(frozen=True)
class Sighting:
    """One store beacon the app heard (its registered id as the app reported it)."""

    beacon: str
    rssi: int
    seen_at: float


@dataclass
class SightingsOutcome:
    """What came of a report: counts, the fused state to keep, events to publish, offers."""

    accepted: int
    used: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    state: fusion.PersonState | None = None  # put it in FusionStates after the commit
    events: list[Event] = field(default_factory=list)
    offers: list[Job] = field(default_factory=list)


def _refuse_without_consent(session: Session, shopper_id: int, store_id: int) -> None:
    if not has_arrival_consent(session, shopper_id, store_id):
        raise DomainError(
            Refusal.FORBIDDEN, "no_consent", "arrival alerts are not switched on for this store"
        )


def check_in(
    session: Session, shopper_id: int, store_id: int, bay: str | None, now: float
) -> CheckIn:
    """ "I'm here" (optionally "at bay 3"): an arrival as sure as it gets."""
    _refuse_without_consent(session, shopper_id, store_id)
    zone_name = bay or "entrance"
    zone = session.scalars(
        select(Zone).where(Zone.store_id == store_id, Zone.name == zone_name)
    ).first()
    if zone is None or (bay is not None and zone.kind != "bay"):
        raise DomainError(Refusal.INVALID, "unknown_bay", f"this store has no bay {zone_name!r}")
    visit = open_visit(session, store_id, shopper_id)
    if visit is not None and now - visit.last_seen_at <= LOST_TIMEOUT_S:
        visit.last_seen_at = now
    else:
        visit = start_visit(session, store_id, shopper_id, zone, now, stale=visit)
        if visit is None:
            visit = open_visit(session, store_id, shopper_id)
    assert visit is not None  # noqa: S101 - opened here or by the concurrent winner
    why = {shopper_id: (1.0, [{"signal": "manual_checkin", "detail": zone.label}])}
    events = raise_pickup_alerts(session, store_id, [visit], zone, why, now)
    return CheckIn(zone.label, events)


def report_sightings(
    session: Session,
    states: FusionStates,
    shopper_id: int,
    store_id: int,
    sightings: Sequence[Sighting],
    params: fusion.FusionParams,
    now: float,
    reach: Reach,
) -> SightingsOutcome:
    """Fuse the beacons the app heard with the gateways' readings to place the shopper."""
    _refuse_without_consent(session, shopper_id, store_id)
    result = SightingsOutcome(accepted=len(sightings))
    shopper = session.get(Shopper, shopper_id)
    assert shopper is not None  # noqa: S101 - the device's foreign key
    if shopper.detection_paused_until is not None and shopper.detection_paused_until > now:
        result.ignored["detection_paused"] = len(sightings)
        return result
    wanted = {s.beacon.strip().lower() for s in sightings}
    places = {
        identifier: fusion.Place(PlaceKind(kind or PlaceKind.FLOOR), name)
        for identifier, kind, name in session.execute(
            select(Beacon.identifier, Zone.kind, Zone.name)
            .outerjoin(Zone, Zone.id == Beacon.zone_id)
            .where(Beacon.store_id == store_id, Beacon.identifier.in_(wanted))
        )
    }
    reports: list[fusion.BeaconReport] = []
    for sighting in sightings:
        place = places.get(sighting.beacon.strip().lower())
        if place is None:
            result.ignored["unregistered_beacon"] += 1
            continue
        reports.append(
            fusion.BeaconReport(
                sighting.beacon.strip().lower(), place, sighting.rssi, sighting.seen_at
            )
        )
    if not reports:
        return result
    before = {shopper_id: current_state(session, states, store_id, shopper_id, params, now)}
    outcome = apply_signals(
        session,
        store_id,
        None,
        before,
        {shopper_id: list[fusion.Signal](reports)},
        params,
        now,
    )
    result.ignored.update(outcome.ignored)
    why = {shopper_id: (1.0, [{"signal": "phone_beacon", "detail": reports[-1].beacon_id}])}
    alerts = raise_pickup_alerts(session, store_id, outcome.entered, None, why, now)
    result.offers = engagement.on_presence_events(session, outcome.recorded, now, reach)
    result.state = outcome.states[shopper_id]
    result.events = alerts + outcome.events
    result.used = len(reports) - sum(outcome.ignored.values())
    return result
