"""`/api/v1/stores/<id>/{layout,zones,gateways,beacons}`: the managers' store layout API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from store_server.db.models import Beacon, Gateway, Zone
from store_server.layout import plan
from store_server.vocabulary import StaffRole
from store_server.web.auth import authorise
from store_server.web.context import services
from store_server.web.errors import ApiError
from store_server.web.openapi import documented
from store_server.web.schemas import parse_body, registered_id_problem
from store_server.web.schemas.layout import (
    BeaconDeletedOut,
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
)

bp = Blueprint("layout", __name__, url_prefix="/api/v1/stores")


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
        status=plan.gateway_status(gateway.last_heartbeat_at, now),  # type: ignore[arg-type]
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
        health=plan.beacon_health(beacon.last_seen_at, beacon.battery_mv, now),  # type: ignore[arg-type]
    )


@bp.get("/<int:store_id>/layout")
@documented(
    "The store's zones, gateways (place, calibration, health) and beacons (managers)",
    answer=LayoutOut,
    errors=(401, 403),
)
def get_layout(store_id: int) -> tuple[Response, int]:
    """The store's zones, gateways (place, calibration, health) and beacons (place, health)."""
    authorise(store_id, StaffRole.MANAGER)
    now = services().clock()
    with services().db.sessions() as session:
        found = plan.layout_of(session, store_id)
        out = LayoutOut(
            store_id=store_id,
            zones=[_zone_out(z) for z in found.zones.values()],
            gateways=[_gateway_out(g, found.zones, now) for g in found.gateways],
            beacons=[_beacon_out(b, found.zones, now) for b in found.beacons],
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
    authorise(store_id, StaffRole.MANAGER)
    body = parse_body(ZoneIn, request.get_json(silent=True))
    with services().db.transaction() as session:
        zone = plan.create_zone(session, store_id, body.name, body.kind, body.label)
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
    authorise(store_id, StaffRole.MANAGER)
    body = parse_body(ZoneIn, request.get_json(silent=True))
    with services().db.transaction() as session:
        zone, stale = plan.edit_zone(session, store_id, zone_id, body.name, body.kind, body.label)
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
    authorise(store_id, StaffRole.MANAGER)
    with services().db.transaction() as session:
        stale = plan.delete_zone(session, store_id, zone_id)
        out = ZoneChangeOut(zone=None, stale_campaigns=stale)
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
    authorise(store_id, StaffRole.MANAGER)
    body = parse_body(GatewayRegisterIn, request.get_json(silent=True))
    now = services().clock()
    with services().db.transaction() as session:
        gateway, token = plan.create_gateway(
            session, store_id, body.id, body.zone_id, body.rssi_offset_db
        )
        out = GatewayRegisteredOut(
            gateway=_gateway_out(gateway, plan.zones_of(session, store_id), now), token=token
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
    authorise(store_id, StaffRole.MANAGER)
    body = parse_body(GatewayPlaceIn, request.get_json(silent=True))
    now = services().clock()
    with services().db.transaction() as session:
        gateway = plan.place_gateway(
            session, store_id, gateway_id, body.zone_id, body.rssi_offset_db
        )
        out = _gateway_out(gateway, plan.zones_of(session, store_id), now)
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
    authorise(store_id, StaffRole.MANAGER)
    body = parse_body(BeaconIn, request.get_json(silent=True))
    if (problem := registered_id_problem(body.kind, body.identifier)) is not None:
        raise _invalid("identifier", problem)
    now = services().clock()
    with services().db.transaction() as session:
        beacon = plan.create_beacon(session, store_id, body.kind, body.identifier, body.zone_id)
        out = _beacon_out(beacon, plan.zones_of(session, store_id), now)
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
    authorise(store_id, StaffRole.MANAGER)
    body = parse_body(BeaconPlaceIn, request.get_json(silent=True))
    now = services().clock()
    with services().db.transaction() as session:
        beacon = plan.place_beacon(session, store_id, beacon_id, body.zone_id)
        out = _beacon_out(beacon, plan.zones_of(session, store_id), now)
    return jsonify(out.model_dump()), 200


@bp.delete("/<int:store_id>/beacons/<int:beacon_id>")
@documented("Forget a beacon (managers)", answer=BeaconDeletedOut, errors=(401, 403, 404))
def delete_beacon(store_id: int, beacon_id: int) -> tuple[Response, int]:
    """Forget a beacon (gateways stop uploading its frames at their next refresh)."""
    authorise(store_id, StaffRole.MANAGER)
    with services().db.transaction() as session:
        plan.delete_beacon(session, store_id, beacon_id)
    return jsonify({"deleted": beacon_id}), 200
