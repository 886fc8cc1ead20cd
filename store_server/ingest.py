"""Gateway ingest: authenticate, dedupe on batch id, resolve identities, open visits, raise alerts.

One transaction per batch. Only observations of opted-in shoppers are stored.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store_server.errors import ApiError
from store_server.gateways import authenticate_gateway, record_beacon_sightings
from store_server.models import (
    Consent,
    Device,
    GatewayBatch,
    Observation,
    Visit,
    Zone,
)
from store_server.pickup import publish, raise_pickup_alerts
from store_server.presence import Reading, Step, entry_confidence, visit_step
from store_server.schemas import BatchAccepted, BatchIn, EddystoneEidFrame, parse_body
from store_server.visits import open_visit, start_visit

log = logging.getLogger(__name__)
bp = Blueprint("ingest", __name__, url_prefix="/api/v1/gateways")
WALL_CLOCK = time.time


@dataclass(frozen=True)
class ResolvedReading:
    """A reading and the shopper's device it belongs to."""

    device_id: int
    shopper_id: int
    reading: Reading


@bp.post("/<gateway_id>/batches")
def upload_batch(gateway_id: str) -> tuple[Response, int]:
    """Store a batch of observations once; later copies of the same batch id get 409."""
    db = current_app.extensions["store_db"]
    settings = current_app.extensions["store_settings"]
    resolver = current_app.extensions["store_eid_resolver"]
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

    at_entrance = zone is not None and zone.kind == "entrance"
    readings: dict[int, ResolvedReading] = {}
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
        consented = _consented_devices(session, gateway.store_id)
        record_beacon_sightings(session, gateway, batch.observations)
        for obs in batch.observations:
            if not isinstance(obs.frame, EddystoneEidFrame):
                continue
            device_id = resolver.resolve(bytes.fromhex(obs.frame.eid), obs.seen_at)
            if device_id is None or device_id not in consented:
                continue  # unknown or unconsented: never stored
            observations.append(
                Observation(
                    store_id=gateway.store_id,
                    gateway_id=gateway.id,
                    device_id=device_id,
                    rssi=obs.rssi,
                    seen_at=obs.seen_at,
                )
            )
            best = readings.get(device_id)
            if best is None or obs.rssi > best.reading.rssi:
                readings[device_id] = ResolvedReading(
                    device_id,
                    consented[device_id],
                    Reading(
                        gateway_id=gateway.id,
                        at_entrance=at_entrance,
                        rssi=obs.rssi,
                        rssi_offset_db=gateway.rssi_offset_db,
                        seen_at=obs.seen_at,
                    ),
                )
        session.add_all(observations)
        entered = [
            visit
            for resolved in readings.values()
            if (visit := _advance_visit(session, gateway.store_id, zone, resolved, now)) is not None
        ]
        why = {
            r.shopper_id: (
                entry_confidence(r.reading, settings.entry_rssi_dbm),
                [
                    {
                        "signal": "eddystone_eid",
                        "gateway": r.reading.gateway_id,
                        "rssi": r.reading.rssi,
                    }
                ],
            )
            for r in readings.values()
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


def _consented_devices(session: Session, store_id: int) -> dict[int, int]:
    """Device id to shopper id, for shoppers who allow arrival detection at this store."""
    rows = session.execute(
        select(Device.id, Device.shopper_id)
        .join(Consent, Consent.shopper_id == Device.shopper_id)
        .where(Consent.store_id == store_id, Consent.purpose == "arrival")
        .distinct()
    )
    return {device_id: shopper_id for device_id, shopper_id in rows}


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
