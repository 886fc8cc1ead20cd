"""Gateway-facing API besides batches: authentication, configuration, heartbeats, beacon health."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from store_server.accounts.auth import token_digest, tokens_match
from store_server.db.models import Beacon, Consent, CustomerTag, Gateway, Zone
from store_server.web.auth import bearer_token
from store_server.web.context import services
from store_server.web.errors import ApiError
from store_server.web.openapi import documented
from store_server.web.schemas import (
    EddystoneTlmFrame,
    GatewayConfigOut,
    HeartbeatIn,
    ObservationIn,
    RegisteredDevice,
    parse_body,
)

log = logging.getLogger(__name__)
bp = Blueprint("gateways", __name__, url_prefix="/api/v1/gateways")
# Beacons are added a few times a year; five minutes bounds how long a new one goes unheard.
CONFIG_REFRESH_S = 300
# 24 random bytes (192 bits, 32 URL-safe characters): unguessable, short enough to type into a
# gateway's settings file by hand.
GATEWAY_TOKEN_BYTES = 24


def register_gateway(
    session: Session,
    gateway_id: str,
    store_id: int,
    zone_id: int | None,
    rssi_offset_db: float = 0.0,
) -> str:
    """Add a gateway with a fresh token and return the token (only its digest is stored)."""
    token = secrets.token_urlsafe(GATEWAY_TOKEN_BYTES)
    session.add(
        Gateway(
            id=gateway_id,
            store_id=store_id,
            zone_id=zone_id,
            token_sha256=token_digest(token),
            rssi_offset_db=rssi_offset_db,
        )
    )
    return token


def authenticate_gateway(gateway_id: str) -> Gateway:
    """The gateway named in the path, if the request carries its token (404 / 401 otherwise)."""
    with services().db.sessions() as session:
        gateway: Gateway | None = session.get(Gateway, gateway_id)
    if gateway is None:
        raise ApiError(404, "unknown_gateway", f"no gateway {gateway_id!r} is registered")
    token = bearer_token(request.headers.get("Authorization"))
    if token is None or not tokens_match(token, gateway.token_sha256):
        raise ApiError(401, "unauthorized", "missing or wrong gateway token")
    return gateway


@bp.get("/<gateway_id>/config")
@documented("The store's registered beacons and tags", answer=GatewayConfigOut, errors=(401, 404))
def config(gateway_id: str) -> tuple[Response, int]:
    """The store's registered beacons and tags, whose frames the gateway should upload."""
    gateway = authenticate_gateway(gateway_id)
    settings = services().settings
    with services().db.sessions() as session:
        zone = session.get(Zone, gateway.zone_id) if gateway.zone_id else None
        # The entry rule compares calibrated readings; the gateway sees raw ones.
        entry_rssi_dbm = (
            settings.entry_rssi_dbm - gateway.rssi_offset_db
            if zone is not None and zone.kind in ("entrance", "bay")
            else None
        )
        beacons = session.scalars(
            select(Beacon).where(Beacon.store_id == gateway.store_id).order_by(Beacon.id)
        ).all()
        # Tags of shoppers who allow arrival detection here: a car tag is heard at the bay.
        tags = session.execute(
            select(CustomerTag.kind, CustomerTag.identifier)
            .join(Consent, Consent.shopper_id == CustomerTag.shopper_id)
            .where(Consent.store_id == gateway.store_id, Consent.purpose == "arrival")
            .distinct()
            .order_by(CustomerTag.identifier)
        ).all()
        # kinds are checked string columns (the same vocabulary as the wire model)
        registered = [
            RegisteredDevice(kind=b.kind, id=b.identifier)  # type: ignore[arg-type]
            for b in beacons
        ] + [
            RegisteredDevice(kind=kind, id=identifier)  # type: ignore[arg-type]
            for kind, identifier in tags
        ]
    out = GatewayConfigOut(
        gateway_id=gateway.id,
        store_id=gateway.store_id,
        refresh_s=CONFIG_REFRESH_S,
        registered=registered,
        entry_rssi_dbm=entry_rssi_dbm,
    )
    return jsonify(out.model_dump()), 200


@bp.post("/<gateway_id>/heartbeat")
@documented("A gateway's health report", body=HeartbeatIn, status=202, errors=(400, 401, 404))
def heartbeat(gateway_id: str) -> tuple[Response, int]:
    """Keep the gateway's latest health report."""
    gateway = authenticate_gateway(gateway_id)
    body = parse_body(HeartbeatIn, request.get_json(silent=True))
    with services().db.transaction() as session:
        row = session.get(Gateway, gateway.id)
        assert row is not None  # noqa: S101 - authenticated a moment ago
        row.last_heartbeat_at = services().clock()
        row.last_heartbeat = body.model_dump()
    log.info(
        "event=heartbeat gateway=%s adapter=%s outbox=%d",
        gateway.id,
        body.adapter_state,
        body.outbox_depth,
    )
    return jsonify({"received": True}), 202


def record_beacon_sightings(
    session: Session, gateway: Gateway, observations: Iterable[ObservationIn]
) -> int:
    """Update the health of the store's registered beacons; return how many were matched."""
    latest: dict[str, ObservationIn] = {}
    telemetry: dict[str, ObservationIn] = {}
    for obs in observations:
        if isinstance(obs.frame, EddystoneTlmFrame):
            if obs.beacon_id:
                telemetry[obs.beacon_id] = obs
        elif obs.frame.kind != "eddystone_eid":
            key = obs.frame.registered_id()
            if key not in latest or obs.seen_at >= latest[key].seen_at:
                latest[key] = obs
    wanted = set(latest) | set(telemetry)
    if not wanted:
        return 0
    beacons = session.scalars(
        select(Beacon).where(Beacon.store_id == gateway.store_id, Beacon.identifier.in_(wanted))
    ).all()
    for beacon in beacons:
        if (seen := latest.get(beacon.identifier)) is not None and (
            beacon.last_seen_at is None or seen.seen_at >= beacon.last_seen_at
        ):
            beacon.last_seen_at, beacon.last_rssi, beacon.last_seen_by = (
                seen.seen_at,
                seen.rssi,
                gateway.id,
            )
        if (tlm := telemetry.get(beacon.identifier)) is not None and isinstance(
            tlm.frame, EddystoneTlmFrame
        ):
            beacon.battery_mv = tlm.frame.battery_mv
            beacon.temperature_c = tlm.frame.temperature_c
            beacon.adv_count = tlm.frame.adv_count
            beacon.uptime_s = tlm.frame.uptime_s
            beacon.telemetry_at = tlm.seen_at
    return len(beacons)
