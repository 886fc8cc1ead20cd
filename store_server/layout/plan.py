"""The store layout managers configure: zones, gateways (place, calibration) and beacons.

Every change is one transaction: a refused change leaves nothing behind. Nothing here needs
invalidating elsewhere: ingest reads a gateway's zone and offset from the database with every
batch, and the phone-sightings API reads beacon zones with every report. A gateway learns a new
entry threshold (its offset) or new beacons at its next configuration refresh
(`gateways.CONFIG_REFRESH_S`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store_server.db.models import Beacon, Campaign, Gateway, Zone
from store_server.engagement.campaigns import current_version
from store_server.presence.gateways import register_gateway
from store_server.web.auth import require_manager
from store_server.web.context import services
from store_server.web.errors import ApiError
from store_server.web.openapi import documented
from store_server.web.schemas import (
    BeaconIn,
    BeaconOut,
    BeaconPlaceIn,
    GatewayOut,
    GatewayPlaceIn,
    GatewayRegisteredOut,
    GatewayRegisterIn,
    HeartbeatSummary,
    LayoutOut,
    ZoneChangeOut,
    ZoneIn,
    ZoneOut,
    parse_body,
    registered_id_problem,
)

bp = Blueprint("layout", __name__, url_prefix="/api/v1/stores")

# Gateways send a heartbeat every 30 s (schemas.HeartbeatIn); three missed ones is not a
# hiccup on the store network but a box that is off, unplugged or stuck.
GATEWAY_SILENT_AFTER_S = 90.0
# A gateway re-reports a steady registered beacon at least every 10 s (gateway/tracking.py's
# keepalive) and beacons advertise every 0.1-1 s; five minutes unheard by every gateway is a
# dead, moved or stolen beacon, not a lost packet.
BEACON_SILENT_AFTER_S = 300.0
# A CR2032 holds near 3 V for most of its life; 2.6 V is past the knee of its discharge curve,
# about 5 % left (firmware_sim/beacons.py VOLTAGE_CURVE): replace it within days.
LOW_BATTERY_MV = 2600


def gateway_status(last_heartbeat_at: float | None, now: float) -> str:
    """`online`, `silent` (no heartbeat lately) or `never_heard`."""
    if last_heartbeat_at is None:
        return "never_heard"
    return "online" if now - last_heartbeat_at <= GATEWAY_SILENT_AFTER_S else "silent"


def beacon_health(last_seen_at: float | None, battery_mv: int | None, now: float) -> str:
    """`ok`, `low_battery`, `silent` (unheard lately) or `never_heard`."""
    if last_seen_at is None:
        return "never_heard"
    if now - last_seen_at > BEACON_SILENT_AFTER_S:
        return "silent"
    if battery_mv is not None and battery_mv <= LOW_BATTERY_MV:
        return "low_battery"
    return "ok"


def _invalid(field: str, message: str) -> ApiError:
    details = {"fields": [{"loc": [field], "msg": message}]}
    return ApiError(400, "invalid_body", "the request body is not valid", details)


def _zone_out(zone: Zone) -> ZoneOut:
    return ZoneOut.model_validate(zone, from_attributes=True)


def _summary(heartbeat: dict[str, Any] | None) -> HeartbeatSummary | None:
    if not isinstance(heartbeat, dict):
        return None

    def number(key: str) -> Any:
        value = heartbeat.get(key)
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None

    def text(key: str) -> str | None:
        value = heartbeat.get(key)
        return value if isinstance(value, str) else None

    return HeartbeatSummary(
        version=text("version"),
        adapter_state=text("adapter_state"),
        adverts_per_s=number("adverts_per_s"),
        devices_tracked=number("devices_tracked"),
        outbox_depth=number("outbox_depth"),
        scanner_restarts=number("scanner_restarts"),
    )


def _gateway_out(gateway: Gateway, zones: dict[int, Zone], now: float) -> GatewayOut:
    zone = zones.get(gateway.zone_id) if gateway.zone_id is not None else None
    return GatewayOut(
        id=gateway.id,
        zone_id=gateway.zone_id,
        zone=zone.name if zone else None,
        rssi_offset_db=gateway.rssi_offset_db,
        last_heartbeat_at=gateway.last_heartbeat_at,
        status=gateway_status(gateway.last_heartbeat_at, now),  # type: ignore[arg-type]
        heartbeat=_summary(gateway.last_heartbeat),
    )


def _beacon_out(beacon: Beacon, zones: dict[int, Zone], now: float) -> BeaconOut:
    zone = zones.get(beacon.zone_id) if beacon.zone_id is not None else None
    return BeaconOut(
        id=beacon.id,
        kind=beacon.kind,
        identifier=beacon.identifier,
        zone_id=beacon.zone_id,
        zone=zone.name if zone else None,
        last_seen_at=beacon.last_seen_at,
        last_rssi=beacon.last_rssi,
        last_seen_by=beacon.last_seen_by,
        battery_mv=beacon.battery_mv,
        temperature_c=beacon.temperature_c,
        telemetry_at=beacon.telemetry_at,
        health=beacon_health(beacon.last_seen_at, beacon.battery_mv, now),  # type: ignore[arg-type]
    )


def _zones(session: Session, store_id: int) -> dict[int, Zone]:
    rows = session.scalars(select(Zone).where(Zone.store_id == store_id).order_by(Zone.id))
    return {zone.id: zone for zone in rows}


def _zone_of(session: Session, store_id: int, zone_id: int) -> Zone:
    zone = session.get(Zone, zone_id)
    if zone is None or zone.store_id != store_id:
        raise ApiError(404, "unknown_zone", f"no zone {zone_id} in this store")
    return zone


def _check_zone_id(session: Session, store_id: int, zone_id: int | None) -> None:
    """A zone named in a body must be one of this store's (400 naming `zone_id`)."""
    if zone_id is None:
        return
    zone = session.get(Zone, zone_id)
    if zone is None or zone.store_id != store_id:
        raise _invalid("zone_id", f"no zone {zone_id} in this store")


def _gateway_of(session: Session, store_id: int, gateway_id: str) -> Gateway:
    gateway = session.get(Gateway, gateway_id)
    if gateway is None or gateway.store_id != store_id:
        raise ApiError(404, "unknown_gateway", f"no gateway {gateway_id!r} in this store")
    return gateway


def _beacon_of(session: Session, store_id: int, beacon_id: int) -> Beacon:
    beacon = session.get(Beacon, beacon_id)
    if beacon is None or beacon.store_id != store_id:
        raise ApiError(404, "unknown_beacon", f"no beacon {beacon_id} in this store")
    return beacon


def _campaigns_naming(session: Session, store_id: int, zone_name: str) -> list[str]:
    """Campaigns whose current terms name this zone (as dwell zone or audience's past zone)."""
    names: list[str] = []
    for campaign in session.scalars(
        select(Campaign).where(Campaign.store_id == store_id).order_by(Campaign.id)
    ):
        version = current_version(session, campaign.id)
        audience = version.audience or {}
        if zone_name in (version.zone, audience.get("visited_zone")):
            names.append(campaign.name)
    return names


def _flush_or_conflict(session: Session, code: str, message: str) -> None:
    try:
        session.flush()
    except IntegrityError as exc:  # the whole transaction rolls back with the ApiError
        raise ApiError(409, code, message) from exc


@bp.get("/<int:store_id>/layout")
@documented(
    "The store's zones, gateways (place, calibration, health) and beacons (managers)",
    answer=LayoutOut,
    errors=(401, 403),
)
def get_layout(store_id: int) -> tuple[Response, int]:
    """The store's zones, gateways (place, calibration, health) and beacons (place, health)."""
    require_manager(store_id)
    now = services().clock()
    with services().db.sessions() as session:
        zones = _zones(session, store_id)
        gateways = session.scalars(
            select(Gateway).where(Gateway.store_id == store_id).order_by(Gateway.id)
        ).all()
        beacons = session.scalars(
            select(Beacon).where(Beacon.store_id == store_id).order_by(Beacon.id)
        ).all()
        out = LayoutOut(
            store_id=store_id,
            zones=[_zone_out(z) for z in zones.values()],
            gateways=[_gateway_out(g, zones, now) for g in gateways],
            beacons=[_beacon_out(b, zones, now) for b in beacons],
        )
    return jsonify(out.model_dump()), 200


@bp.post("/<int:store_id>/zones")
@documented(
    "Add a zone; names are unique in a store (managers)",
    body=ZoneIn,
    answer=ZoneOut,
    status=201,
    errors=(400, 401, 403, 409),
)
def create_zone(store_id: int) -> tuple[Response, int]:
    """Add a zone; its name is unique in the store (409 `zone_name_taken`)."""
    require_manager(store_id)
    body = parse_body(ZoneIn, request.get_json(silent=True))
    with services().db.transaction() as session:
        zone = Zone(store_id=store_id, name=body.name, kind=body.kind, label=body.label)
        session.add(zone)
        _flush_or_conflict(session, "zone_name_taken", f"a zone is already named {body.name!r}")
        out = _zone_out(zone)
    return jsonify(out.model_dump()), 201


@bp.put("/<int:store_id>/zones/<int:zone_id>")
@documented(
    "Edit a zone; lists campaigns still naming its old name (managers)",
    body=ZoneIn,
    answer=ZoneChangeOut,
    errors=(400, 401, 403, 404, 409),
)
def edit_zone(store_id: int, zone_id: int) -> tuple[Response, int]:
    """Rename, relabel or change the kind of a zone; lists campaigns naming its old name."""
    require_manager(store_id)
    body = parse_body(ZoneIn, request.get_json(silent=True))
    with services().db.transaction() as session:
        zone = _zone_of(session, store_id, zone_id)
        old_name = zone.name
        zone.name, zone.kind, zone.label = body.name, body.kind, body.label
        _flush_or_conflict(session, "zone_name_taken", f"a zone is already named {body.name!r}")
        stale = _campaigns_naming(session, store_id, old_name) if old_name != body.name else []
        out = ZoneChangeOut(zone=_zone_out(zone), stale_campaigns=stale)
    return jsonify(out.model_dump()), 200


@bp.delete("/<int:store_id>/zones/<int:zone_id>")
@documented(
    "Delete a zone; what was placed there loses its zone (managers)",
    answer=ZoneChangeOut,
    errors=(401, 403, 404),
)
def delete_zone(store_id: int, zone_id: int) -> tuple[Response, int]:
    """Delete a zone: gateways, beacons, visits and alerts placed there lose their zone."""
    require_manager(store_id)
    with services().db.transaction() as session:
        name = _zone_of(session, store_id, zone_id).name
        # The foreign keys say ON DELETE SET NULL: the database clears the references.
        session.execute(delete(Zone).where(Zone.id == zone_id, Zone.store_id == store_id))
        out = ZoneChangeOut(zone=None, stale_campaigns=_campaigns_naming(session, store_id, name))
    return jsonify(out.model_dump()), 200


@bp.post("/<int:store_id>/gateways")
@documented(
    "Register a gateway; its token is in this answer only (managers)",
    body=GatewayRegisterIn,
    answer=GatewayRegisteredOut,
    status=201,
    errors=(400, 401, 403, 409),
)
def create_gateway(store_id: int) -> tuple[Response, int]:
    """Register a gateway; the answer carries its token, which is never shown again."""
    require_manager(store_id)
    body = parse_body(GatewayRegisterIn, request.get_json(silent=True))
    now = services().clock()
    with services().db.transaction() as session:
        _check_zone_id(session, store_id, body.zone_id)
        if session.get(Gateway, body.id) is not None:
            raise ApiError(409, "gateway_exists", f"a gateway is already registered as {body.id!r}")
        token = register_gateway(session, body.id, store_id, body.zone_id, body.rssi_offset_db)
        _flush_or_conflict(
            session, "gateway_exists", f"a gateway is already registered as {body.id!r}"
        )
        gateway = _gateway_of(session, store_id, body.id)
        out = GatewayRegisteredOut(
            gateway=_gateway_out(gateway, _zones(session, store_id), now), token=token
        )
    return jsonify(out.model_dump()), 201


@bp.put("/<int:store_id>/gateways/<gateway_id>")
@documented(
    "Set a gateway's zone and calibration offset (managers)",
    body=GatewayPlaceIn,
    answer=GatewayOut,
    errors=(400, 401, 403, 404),
)
def place_gateway(store_id: int, gateway_id: str) -> tuple[Response, int]:
    """Set a gateway's zone and calibration offset (used from its next batch on)."""
    require_manager(store_id)
    body = parse_body(GatewayPlaceIn, request.get_json(silent=True))
    now = services().clock()
    with services().db.transaction() as session:
        gateway = _gateway_of(session, store_id, gateway_id)
        _check_zone_id(session, store_id, body.zone_id)
        gateway.zone_id = body.zone_id
        gateway.rssi_offset_db = body.rssi_offset_db
        session.flush()
        out = _gateway_out(gateway, _zones(session, store_id), now)
    return jsonify(out.model_dump()), 200


@bp.post("/<int:store_id>/beacons")
@documented(
    "Register a fixed beacon by its registered id (managers)",
    body=BeaconIn,
    answer=BeaconOut,
    status=201,
    errors=(400, 401, 403, 409),
)
def create_beacon(store_id: int) -> tuple[Response, int]:
    """Register a fixed beacon by its registered id (409 `beacon_exists` if already known)."""
    require_manager(store_id)
    body = parse_body(BeaconIn, request.get_json(silent=True))
    if (problem := registered_id_problem(body.kind, body.identifier)) is not None:
        raise _invalid("identifier", problem)
    now = services().clock()
    with services().db.transaction() as session:
        _check_zone_id(session, store_id, body.zone_id)
        beacon = Beacon(
            store_id=store_id, zone_id=body.zone_id, kind=body.kind, identifier=body.identifier
        )
        session.add(beacon)
        _flush_or_conflict(session, "beacon_exists", "a beacon with this id is already registered")
        out = _beacon_out(beacon, _zones(session, store_id), now)
    return jsonify(out.model_dump()), 201


@bp.put("/<int:store_id>/beacons/<int:beacon_id>")
@documented(
    "Move a beacon to another zone (managers)",
    body=BeaconPlaceIn,
    answer=BeaconOut,
    errors=(400, 401, 403, 404),
)
def place_beacon(store_id: int, beacon_id: int) -> tuple[Response, int]:
    """Move a beacon to another zone (or none)."""
    require_manager(store_id)
    body = parse_body(BeaconPlaceIn, request.get_json(silent=True))
    now = services().clock()
    with services().db.transaction() as session:
        beacon = _beacon_of(session, store_id, beacon_id)
        _check_zone_id(session, store_id, body.zone_id)
        beacon.zone_id = body.zone_id
        session.flush()
        out = _beacon_out(beacon, _zones(session, store_id), now)
    return jsonify(out.model_dump()), 200


@bp.delete("/<int:store_id>/beacons/<int:beacon_id>")
@documented("Forget a beacon (managers)", errors=(401, 403, 404))
def delete_beacon(store_id: int, beacon_id: int) -> tuple[Response, int]:
    """Forget a beacon (gateways stop uploading its frames at their next refresh)."""
    require_manager(store_id)
    with services().db.transaction() as session:
        _beacon_of(session, store_id, beacon_id)
        session.execute(delete(Beacon).where(Beacon.id == beacon_id, Beacon.store_id == store_id))
    return jsonify({"deleted": beacon_id}), 200
