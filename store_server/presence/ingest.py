"""Gateway ingest: dedupe on batch id, resolve identities, then the one presence pipeline.

One transaction per batch (the caller's session). Only observations of opted-in, unpaused
shoppers are stored; each shopper's readings go through the presence pipeline
(`presence.pipeline`: fusion, visits, events, pickup alerts, campaigns) and its events are
returned, for the caller to emit to the store's staff room after the commit.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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
from store_server.events import Event
from store_server.messaging.outbound import Job, Reach
from store_server.presence import fusion
from store_server.presence.gateways import record_beacon_sightings
from store_server.presence.heard import EDDYSTONE_EID, Heard
from store_server.presence.identity import EidResolver
from store_server.presence.pipeline import fuse_and_record, states_before
from store_server.presence.visits import FusionStates, fusion_params
from store_server.problems import DomainError, Refusal
from store_server.settings import StoreSettings
from store_server.vocabulary import PlaceKind

log = logging.getLogger(__name__)


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
    place = (
        fusion.Place(PlaceKind(zone.kind), zone.name)
        if zone is not None
        else fusion.Place(PlaceKind.FLOOR)
    )
    params = fusion_params(settings)
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
        bad = fusion.rssi_reason(obs.rssi) or fusion.clock_skew_reason(obs.seen_at, now)
        if bad is not None:
            ignored[bad] += 1  # a broken radio or clock, or a replay, is never an arrival
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
                gateway.id,
                place,
                obs.rssi,
                gateway.rssi_offset_db,
                obs.seen_at,
                source.signal,
                source.detail,
            )
        )
    # Restore missing fusion states before this batch's rows reach the session.
    before = states_before(session, states, gateway.store_id, set(signals), params, now)
    session.add_all(observations)
    outcome = fuse_and_record(session, gateway.store_id, before, signals, params, now, reach)
    ignored.update(outcome.ignored)
    return Ingested(
        resolved=len(observations),
        entered=outcome.entered,
        ignored=ignored,
        alerts=outcome.alerts,
        events=outcome.events,
        offers=outcome.offers,
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
