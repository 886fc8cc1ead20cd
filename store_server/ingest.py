"""Gateway ingest: authenticate, dedupe on batch id, resolve identities, open visits, raise alerts.

One transaction per batch. Only observations of opted-in shoppers are stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store_server.errors import ApiError
from store_server.gateways import authenticate_gateway, record_beacon_sightings
from store_server.models import (
    Consent,
    CustomerTag,
    Device,
    GatewayBatch,
    Observation,
    Visit,
    Zone,
)
from store_server.pickup import publish, raise_pickup_alerts
from store_server.presence import Reading, Step, entry_confidence, visit_step
from store_server.schemas import (
    BatchAccepted,
    BatchIn,
    EddystoneEidFrame,
    EddystoneTlmFrame,
    ObservationIn,
    parse_body,
)
from store_server.visits import open_visit, start_visit

log = logging.getLogger(__name__)
bp = Blueprint("ingest", __name__, url_prefix="/api/v1/gateways")
WALL_CLOCK = time.time


# A strong reading at one of these means the shopper has arrived (door or curbside bay).
ARRIVAL_ZONE_KINDS = ("entrance", "bay")


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


@bp.post("/<gateway_id>/batches")
def upload_batch(gateway_id: str) -> tuple[Response, int]:
    """Store a batch of observations once; later copies of the same batch id get 409."""
    db = current_app.extensions["store_db"]
    settings = current_app.extensions["store_settings"]
    now = WALL_CLOCK()

    gateway = authenticate_gateway(gateway_id)
    with db.sessions() as session:
        zone = session.get(Zone, gateway.zone_id) if gateway.zone_id else None
    batch = parse_body(BatchIn, request.get_json(silent=True))
    if len(batch.observations) > settings.max_batch_observations:
        raise ApiError(
            413,
            "batch_too_large",
            f"at most {settings.max_batch_observations} observations per batch",
        )

    at_arrival_point = zone is not None and zone.kind in ARRIVAL_ZONE_KINDS
    best: dict[int, ResolvedReading] = {}
    observations: list[Observation] = []
    with db.transaction() as session:
        session.add(
            GatewayBatch(
                gateway_id=gateway.id,
                batch_id=batch.batch_id,
                received_at=now,
                observation_count=len(batch.observations),
            )
        )
        try:
            session.flush()
        except IntegrityError as exc:
            raise ApiError(
                409, "duplicate_batch", f"batch {batch.batch_id} was already received"
            ) from exc
        record_beacon_sightings(session, gateway, batch.observations)
        identify = _identifier(session, gateway.store_id)
        for obs in batch.observations:
            source = identify(obs)
            if source is None:
                continue  # unknown or unconsented: never stored
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
        session.add_all(observations)
        entered = [
            visit
            for resolved in best.values()
            if (visit := _advance_visit(session, gateway.store_id, zone, resolved, now)) is not None
        ]
        why = {
            r.shopper_id: (entry_confidence(r.reading, settings.entry_rssi_dbm), [_reason(r)])
            for r in best.values()
        }
        alerts = raise_pickup_alerts(session, gateway.store_id, entered, zone, why, now)

    publish(alerts)
    log.info(
        "event=batch_stored gateway=%s observations=%d resolved=%d entries=%d alerts=%d",
        gateway.id,
        len(batch.observations),
        len(observations),
        len(entered),
        len(alerts),
    )
    out = BatchAccepted(
        batch_id=batch.batch_id, accepted=len(batch.observations), resolved=len(observations)
    )
    return jsonify(out.model_dump()), 202


def _reason(resolved: ResolvedReading) -> dict[str, Any]:
    reason: dict[str, Any] = {
        "signal": resolved.source.signal,
        "gateway": resolved.reading.gateway_id,
        "rssi": resolved.reading.rssi,
    }
    if resolved.source.detail:
        reason["detail"] = resolved.source.detail
    return reason


def _identifier(session: Session, store_id: int) -> Callable[[ObservationIn], Source | None]:
    """A function naming the opted-in shopper behind an observation, if any, at this store."""
    resolver = current_app.extensions["store_eid_resolver"]
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

    def identify(obs: ObservationIn) -> Source | None:
        frame = obs.frame
        if isinstance(frame, EddystoneEidFrame):
            device_id = resolver.resolve(bytes.fromhex(frame.eid), obs.seen_at)
            shopper_id = devices.get(device_id) if device_id is not None else None
            if shopper_id is None:
                return None
            return Source(shopper_id, device_id, None, "eddystone_eid", None)
        if isinstance(frame, EddystoneTlmFrame):
            return None
        tag = tags.get(frame.registered_id())
        if tag is None:
            return None
        return Source(tag[1], None, tag[0], "customer_tag", tag[2])

    return identify


def _advance_visit(
    session: Session, store_id: int, zone: Zone | None, resolved: ResolvedReading, now: float
) -> Visit | None:
    """Extend the open visit or open a new one; return the visit only when it is new."""
    settings = current_app.extensions["store_settings"]
    visit = open_visit(session, store_id, resolved.shopper_id)
    step = visit_step(
        resolved.reading,
        visit.last_seen_at if visit else None,
        settings.entry_rssi_dbm,
        settings.visit_timeout_s,
        now,
    )
    if step is Step.EXTEND and visit is not None:
        visit.last_seen_at = max(visit.last_seen_at, resolved.reading.seen_at)
        return None
    if step is Step.IGNORE:
        return None
    return start_visit(
        session, store_id, resolved.shopper_id, zone, resolved.reading.seen_at, stale=visit
    )
