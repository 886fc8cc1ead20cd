"""`/api/v1/gateways/<id>/...`: a gateway's calls (docs/protocol.md): batches, config, heartbeat."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session

from store_server.metrics import ALERTS, ARRIVAL_TO_ALERT, BATCHES, OBSERVATIONS
from store_server.presence.gateways import (
    KnownGateway,
    authenticate_gateway,
    gateway_config,
    log_heartbeat,
    record_heartbeat,
)
from store_server.presence.ingest import Ingested, ingest_batch, log_stored
from store_server.problems import DomainError
from store_server.vocabulary import DeviceKind
from store_server.web.auth import bearer_token
from store_server.web.context import services
from store_server.web.errors import ApiError
from store_server.web.openapi import documented
from store_server.web.schemas import parse_body
from store_server.web.schemas.gateway_wire import (
    BatchAccepted,
    BatchIn,
    GatewayConfigOut,
    HeartbeatIn,
    HeartbeatReceived,
    RegisteredDevice,
    parse_batch,
)

bp = Blueprint("gateways", __name__, url_prefix="/api/v1/gateways")


def _authenticated(session: Session, gateway_id: str, *, ingesting: bool = False) -> KnownGateway:
    """The gateway in the path, if the request carries its token (404 / 401 otherwise)."""
    token = bearer_token(request.headers.get("Authorization"))
    return authenticate_gateway(session, gateway_id, token, ingesting=ingesting)


@bp.get("/<gateway_id>/config")
@documented(
    "The store's registered beacons and tags",
    answer=GatewayConfigOut,
    errors=(401, 404),
    caller="gateway",
)
def config(gateway_id: str) -> tuple[Response, int]:
    """The store's registered beacons and tags, whose frames the gateway should upload."""
    settings = services().settings
    with services().db.sessions() as session:
        gateway = _authenticated(session, gateway_id)
        found = gateway_config(session, gateway, settings.entry_rssi_dbm)
    out = GatewayConfigOut(
        gateway_id=gateway.id,
        store_id=gateway.store_id,
        refresh_s=found.refresh_s,
        registered=[
            RegisteredDevice(kind=DeviceKind(kind), id=identifier)
            for kind, identifier in found.registered
        ],
        entry_rssi_dbm=found.entry_rssi_dbm,
    )
    return jsonify(out.model_dump()), 200


@bp.post("/<gateway_id>/heartbeat")
@documented(
    "A gateway's health report",
    body=HeartbeatIn,
    answer=HeartbeatReceived,
    status=202,
    errors=(400, 401, 404),
    caller="gateway",
)
def heartbeat(gateway_id: str) -> tuple[Response, int]:
    """Keep the gateway's latest health report."""
    with services().db.transaction() as session:
        gateway = _authenticated(session, gateway_id)
        body = parse_body(HeartbeatIn, request.get_json(silent=True))
        record_heartbeat(
            session, gateway.id, body.model_dump(exclude_unset=True), services().clock()
        )
    log_heartbeat(gateway.id, body.adapter_state, body.outbox_depth)
    return jsonify({"received": True}), 202


@bp.post("/<gateway_id>/batches")
@documented(
    "Upload a gateway's batch of observations (docs/protocol.md)",
    body=BatchIn,
    answer=BatchAccepted,
    status=202,
    errors=(400, 401, 404, 409, 413),
    caller="gateway",
)
def upload_batch(gateway_id: str) -> tuple[Response, int]:
    """Store a batch of observations once; later copies of the same batch id get 409."""
    try:
        return _store_batch(gateway_id)
    except (ApiError, DomainError) as refused:
        BATCHES.labels("ignored", refused.code).inc()
        raise


def _store_batch(gateway_id: str) -> tuple[Response, int]:
    found = services()
    settings = found.settings
    now = found.clock()
    with found.db.transaction() as session:
        gateway = _authenticated(session, gateway_id, ingesting=True)
        batch = parse_batch(request.get_json(silent=True))
        heard = batch.heard
        if len(heard) > settings.max_batch_observations:
            raise ApiError(
                413,
                "batch_too_large",
                f"at most {settings.max_batch_observations} observations per batch",
            )
        done = ingest_batch(
            session,
            gateway,
            batch.batch_id,
            heard,
            now,
            states=found.fusion_states,
            resolver=found.resolver,
            settings=settings,
            reach=found.outbound.reach,
        )
    found.fusion_states.put_all(gateway.store_id, done.states)
    found.publisher.publish(done.alerts + done.events)
    found.outbound.submit_all(done.offers)
    log_stored(gateway.id, len(heard), done)
    _count(done, max((h.seen_at for h in heard), default=now), found.clock())
    out = BatchAccepted(
        batch_id=batch.batch_id,
        accepted=len(heard),
        resolved=done.resolved,
        ignored=dict(done.ignored),
    )
    return jsonify(out.model_dump()), 202


def _count(done: Ingested, newest_reading_at: float, now: float) -> None:
    """The metrics of one accepted batch."""
    BATCHES.labels("accepted", "").inc()
    OBSERVATIONS.labels("accepted", "").inc(done.resolved)
    for reason, count in done.ignored.items():
        OBSERVATIONS.labels("ignored", reason).inc(count)
    if done.alerts:
        ALERTS.labels("raised").inc(len(done.alerts))
        ARRIVAL_TO_ALERT.observe(max(0.0, now - newest_reading_at))
