"""Gateway ingest: dedupe on batch id, resolve identities, fuse, raise alerts.

One transaction per batch (the caller's session). Only observations of opted-in, unpaused
shoppers are stored; each shopper's readings go through presence fusion (`presence.fusion`) and
its events are stored and returned, for the caller to emit to the store's staff room after the
commit.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store_server.db.models import (
    Consent,
    CustomerTag,
    Device,
    Gateway,
    GatewayBatch,
    Observation,
    Shopper,
    Zone,
)
from store_server.engagement import engine as engagement
from store_server.events import Event
from store_server.messaging.outbound import Job, Reach
from store_server.pickup.alerts import raise_pickup_alerts
from store_server.presence import fusion
from store_server.presence.gateways import record_beacon_sightings
from store_server.presence.heard import EDDYSTONE_EID, Heard
from store_server.presence.identity import EidResolver
from store_server.presence.rules import Reading, entry_confidence
from store_server.presence.visits import (
    FusionStates,
    apply_signals,
    fusion_params,
)
from store_server.presence.visits import (
    current_state as _current_state,
)
from store_server.problems import DomainError, Refusal
from store_server.settings import StoreSettings
from store_server.vocabulary import PlaceKind

log = logging.getLogger(__name__)


# A strong reading at one of these means the shopper has arrived (door or curbside bay).
ARRIVAL_ZONE_KINDS = fusion.ARRIVAL_KINDS
# Reasons an observation is not used, besides fusion's (counted in the batch answer).
IGNORED_UNRESOLVED = "unresolved"
IGNORED_PAUSED = "detection_paused"


@dataclass(frozen=True)
class Source:
    """Whose signal an observation is: an app's EID or a registered tag, and its shopper."""

    shopper_id: int
    device_id: int | None
    tag_id: int | None
    signal: str  # eddystone_eid | customer_tag
    detail: str | None


@dataclass(frozen=True)
class ResolvedReading:
    """A shopper's strongest reading in a batch, and where it came from."""

    source: Source
    reading: Reading

    @property
    def shopper_id(self) -> int:
        """The shopper it belongs to."""
        return self.source.shopper_id


@dataclass
class Ingested:
    """What storing one batch did: the counts of its answer, and what to emit and send."""

    resolved: int = 0
    entered: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    alerts: list[Event] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    offers: list[Job] = field(default_factory=list)
    # Each fused shopper's state, to remember (FusionStates.put) once the transaction committed.
    states: dict[int, fusion.PersonState] = field(default_factory=dict)


def ingest_batch(
    session: Session,
    gateway: Gateway,
    batch_id: str,
    heard: Sequence[Heard],
    now: float,
    *,
    states: FusionStates,
    resolver: EidResolver,
    settings: StoreSettings,
    reach: Reach,
) -> Ingested:
    """Store a batch of observations once (a later copy of the batch id is a conflict)."""
    zone = session.get(Zone, gateway.zone_id) if gateway.zone_id else None
    at_arrival_point = zone is not None and zone.kind in ARRIVAL_ZONE_KINDS
    place = (
        fusion.Place(PlaceKind(zone.kind), zone.name)
        if zone is not None
        else fusion.Place(PlaceKind.FLOOR)
    )
    params = fusion_params(settings)
    best: dict[int, ResolvedReading] = {}
    signals: dict[int, list[fusion.Signal]] = defaultdict(list)
    observations: list[Observation] = []
    ignored: Counter[str] = Counter()
    session.add(
        GatewayBatch(
            gateway_id=gateway.id,
            batch_id=batch_id,
            received_at=now,
            observation_count=len(heard),
        )
    )
    try:
        session.flush()
    except IntegrityError as exc:
        raise DomainError(
            Refusal.CONFLICT, "duplicate_batch", f"batch {batch_id} was already received"
        ) from exc
    record_beacon_sightings(session, gateway, heard)
    identify = _identifier(session, gateway.store_id, now, resolver)
    for obs in heard:
        source = identify(obs)
        if isinstance(source, str):
            ignored[source] += 1
            continue
        if source is None:
            continue  # a store beacon's frame: beacon health, not a person
        skew = fusion.clock_skew_reason(obs.seen_at, now)
        if skew is not None:
            ignored[skew] += 1  # a broken clock or a replay is never an arrival
            continue
        observations.append(
            Observation(
                store_id=gateway.store_id,
                gateway_id=gateway.id,
                device_id=source.device_id,
                tag_id=source.tag_id,
                rssi=obs.rssi,
                seen_at=obs.seen_at,
            )
        )
        signals[source.shopper_id].append(
            fusion.GatewayReading(
                gateway.id, place, obs.rssi, gateway.rssi_offset_db, obs.seen_at, source.signal
            )
        )
        current = best.get(source.shopper_id)
        if current is None or obs.rssi > current.reading.rssi:
            best[source.shopper_id] = ResolvedReading(
                source,
                Reading(
                    gateway_id=gateway.id,
                    at_arrival_point=at_arrival_point,
                    rssi=obs.rssi,
                    rssi_offset_db=gateway.rssi_offset_db,
                    seen_at=obs.seen_at,
                ),
            )
    # Restore missing fusion states before this batch's rows reach the session.
    before = {
        shopper_id: _current_state(session, states, gateway.store_id, shopper_id, params, now)
        for shopper_id in signals
    }
    session.add_all(observations)
    outcome = apply_signals(session, gateway.store_id, zone, before, signals, params, now)
    ignored.update(outcome.ignored)
    why = {
        r.shopper_id: (entry_confidence(r.reading, settings.entry_rssi_dbm), [_reason(r)])
        for r in best.values()
    }
    alerts = raise_pickup_alerts(session, gateway.store_id, outcome.entered, zone, why, now)
    # After the alerts: a shopper whose order just became `arrived` gets no promotion.
    offers = engagement.on_presence_events(session, outcome.recorded, now, reach)
    return Ingested(
        resolved=len(observations),
        entered=len(outcome.entered),
        ignored=ignored,
        alerts=alerts,
        events=outcome.events,
        offers=offers,
        states=outcome.states,
    )


def log_stored(gateway_id: str, observations: int, done: Ingested) -> None:
    """The log line of a stored batch (after its commit, its events and its offers)."""
    log.info(
        "event=batch_stored gateway=%s observations=%d resolved=%d entries=%d alerts=%d "
        "presence_events=%d offers=%d ignored=%d",
        gateway_id,
        observations,
        done.resolved,
        done.entered,
        len(done.alerts),
        len(done.events),
        len(done.offers),
        sum(done.ignored.values()),
    )


def _reason(resolved: ResolvedReading) -> dict[str, Any]:
    reason: dict[str, Any] = {
        "signal": resolved.source.signal,
        "gateway": resolved.reading.gateway_id,
        "rssi": resolved.reading.rssi,
    }
    if resolved.source.detail:
        reason["detail"] = resolved.source.detail
    return reason


def _identifier(
    session: Session, store_id: int, now: float, resolver: EidResolver
) -> Callable[[Heard], Source | str | None]:
    """A function naming the opted-in shopper behind an observation at this store.

    It returns the source, a reason to ignore the observation (`unresolved`: an EID of no
    consenting device, e.g. a revoked key; `detection_paused`), or None for a store beacon's
    frame (beacon health, recorded elsewhere).
    """
    paused = set(
        session.scalars(select(Shopper.id).where(Shopper.detection_paused_until > now)).all()
    )
    devices = dict(
        session.execute(
            select(Device.id, Device.shopper_id)
            .join(Consent, Consent.shopper_id == Device.shopper_id)
            .where(Consent.store_id == store_id, Consent.purpose == "arrival")
            .distinct()
        ).all()
    )
    tags = {
        identifier: (tag_id, shopper_id, label)
        for identifier, tag_id, shopper_id, label in session.execute(
            select(
                CustomerTag.identifier, CustomerTag.id, CustomerTag.shopper_id, CustomerTag.label
            )
            .join(Consent, Consent.shopper_id == CustomerTag.shopper_id)
            .where(Consent.store_id == store_id, Consent.purpose == "arrival")
            .distinct()
        ).all()
    }

    def identify(obs: Heard) -> Source | str | None:
        if obs.kind == EDDYSTONE_EID and obs.eid is not None:
            device_id = resolver.resolve(obs.eid, obs.seen_at)
            shopper_id = devices.get(device_id) if device_id is not None else None
            if shopper_id is None:
                return IGNORED_UNRESOLVED
            if shopper_id in paused:
                return IGNORED_PAUSED
            return Source(shopper_id, device_id, None, "eddystone_eid", None)
        if obs.registered_id is None:
            return None  # telemetry
        tag = tags.get(obs.registered_id)
        if tag is None:
            return None
        if tag[1] in paused:
            return IGNORED_PAUSED
        return Source(tag[1], None, tag[0], "customer_tag", tag[2])

    return identify
